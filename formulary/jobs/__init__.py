"""Long work in the background (SPEC §14): jobs with progress, their queue, the schedules."""

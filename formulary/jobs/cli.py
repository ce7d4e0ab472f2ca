"""``flask --app wsgi worker``: huey's consumer on the app's queue (SQLite file or Redis,
whatever ``REDIS_URL`` says), with the periodic tick. ``flask --app wsgi jobs tick`` runs
the clock's work once (cron-friendly, and for checking a set-up)."""

from __future__ import annotations

import os

import click
from flask import Flask, current_app


def lower_priority(app: Flask) -> int:
    """Give the worker process ``WORKER_NICE`` more niceness (long jobs yield the
    processor to the pages a person waits for); the niceness it now runs at."""
    step = int(app.config.get("WORKER_NICE", 0) or 0)
    if step > 0 and hasattr(os, "nice"):
        return os.nice(step)
    return os.nice(0) if hasattr(os, "nice") else 0


def register_cli(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--workers", "-w", type=int, default=None,
                  help="threads running jobs (default JOB_WORKERS)")
    @click.option("--no-periodic", is_flag=True, help="run jobs only, not the schedule")
    def worker(workers, no_periodic):
        """Run the background worker: exports, imports, backups, the digest."""
        from formulary.jobs.queue import run_worker, storage_label

        niceness = lower_priority(current_app)
        click.echo(f"Formulary worker on {storage_label(current_app.extensions['huey'])} "
                   f"(nice {niceness}); Ctrl-C stops it.")
        run_worker(current_app._get_current_object(), workers, periodic=not no_periodic)

    @app.cli.group("jobs")
    def jobs_group():
        """Background jobs."""

    @jobs_group.command("tick")
    def tick_command():
        """Do the schedule's work now: dead workers' jobs, expired files, due backup/digest."""
        from formulary.jobs.schedule import tick

        tick(current_app._get_current_object())
        click.echo("Done.")

    @jobs_group.command("backup")
    def backup_command():
        """Queue a backup now (the nightly one's job: BACKUP_DIR, its audit head beside it,
        BACKUP_KEEP_DAYS kept); a worker runs it. `flask backup PATH` writes one at once."""
        from formulary.extensions import db
        from formulary.jobs.services import create_job

        job = create_job(db.session, None, "backup", {})
        db.session.commit()  # queued once committed
        click.echo(f"Backup queued as job {job.id}; a worker writes it into "
                   f"{current_app.config['BACKUP_DIR']}.")

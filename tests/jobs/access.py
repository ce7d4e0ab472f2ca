"""Who may open each route of the jobs (SPEC §14): every logged-in user reads their own
jobs (another user's job is a 404, admins see all); which export one may start is the
export's own permission, checked inside (REPORTS, or AUDIT for the audit log). The
profile (the digest's settings and the language) is everyone's own: auth.profile is in
tests/auth/access.py, with the other routes of the auth blueprint."""

from formulary.auth import permissions as P

ROUTES = {
    "jobs.job_status": P.VIEW,
    "jobs.job_file": P.VIEW,
    "api.start_export": P.VIEW,
    "api.get_job": P.VIEW,
    "api.get_job_file": P.VIEW,
}

"""Asking for a job, reading it, and who may have its file.

:func:`create_job` adds the row in the caller's transaction; the job goes on the queue only
once that transaction commits (a worker must find the row), and never if it rolls back.
"""

from __future__ import annotations

import os
from typing import Any

from flask import current_app, has_app_context, has_request_context
from sqlalchemy.orm import Session

from formulary.domain.errors import NotFound
from formulary.jobs.kinds import KINDS
from formulary.jobs.models import Job
from formulary.session_hooks import install_hooks

_PENDING = "jobs_to_enqueue"


def create_job(session: Session, actor, kind: str, params: dict[str, Any], *,
               rows_total: int | None = None) -> Job:
    """A job asked by ``actor`` (None: the clock's). Its row keeps the asker's language
    (``params["lang"]``): the worker writes the job's texts in it
    (:mod:`formulary.jobs.runner`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of job {kind!r}")
    if actor is not None and "lang" not in params and has_request_context():
        from flask_babel import get_locale

        locale = get_locale()
        if locale is not None:
            params = {**params, "lang": str(locale)}
    job = Job(kind=kind, user_id=getattr(actor, "id", None), status="queued",
              rows_total=rows_total)
    job.params = params
    session.add(job)
    session.flush()
    session.info.setdefault(_PENDING, []).append(job.id)
    return job


def _enqueue(session: Session) -> None:
    """``after_commit``: the jobs the transaction created go on the queue."""
    ids = session.info.pop(_PENDING, None)
    if ids and has_app_context():
        from formulary.jobs.queue import enqueue

        for job_id in ids:
            enqueue(job_id)


def _forget(session: Session) -> None:
    """``after_rollback``: the jobs the transaction created are no more."""
    session.info.pop(_PENDING, None)


def install(session_class) -> None:
    """Queue the jobs a transaction created when, and only when, it commits (once per
    Session class)."""
    install_hooks(session_class, "job_queue", after_commit=_enqueue, after_rollback=_forget)


def may_see(user, job: Job) -> bool:
    """The user who asked, and admins; nobody else (not even for a 403: a 404)."""
    return job.user_id == user.id or user.role == "admin"


def get_job(session: Session, user, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None or not may_see(user, job):
        raise NotFound("No such job.")
    return job


def job_file(job: Job) -> str:
    """The finished file of the job, or NotFound: before it is done, once it has expired,
    for a kind whose result is not downloadable. A ``.part`` file is never named here:
    ``file_path`` is set only after the complete file was renamed into place."""
    kind = KINDS.get(job.kind)
    if job.status != "done" or not job.file_path or kind is None or not kind.downloadable:
        raise NotFound("The file of this job is not ready." if job.status in ("queued", "running")
                       else "This job has no file (it failed, or the file has expired).")
    if not os.path.isfile(job.file_path):
        raise NotFound("This job's file has expired.")
    return job.file_path


def job_json(job: Job) -> dict[str, Any]:
    from formulary.api.core import iso

    kind = KINDS.get(job.kind)
    body = {"id": job.id, "kind": job.kind, "label": kind.label if kind else job.kind,
            "params": job.params, "status": job.status, "progress": job.progress,
            "rows_done": job.rows_done, "rows_total": job.rows_total,
            "created_at": iso(job.created_at), "started_at": iso(job.started_at),
            "finished_at": iso(job.finished_at), "expires_at": iso(job.expires_at),
            "summary": job.summary, "filename": job.filename}
    if job.error:
        body["error"] = job.error
    if has_app_context() and job.status == "done" and job.file_path and kind and kind.downloadable:
        body["file"] = f"/api/v1/jobs/{job.id}/file"
    return body


def recent_jobs(session: Session, user, limit: int = 10) -> list[Job]:
    from sqlalchemy import select

    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if user.role != "admin":
        stmt = stmt.where(Job.user_id == user.id)
    return list(session.execute(stmt).scalars())


def keep_hours() -> int:
    return current_app.config["JOB_KEEP_HOURS"]

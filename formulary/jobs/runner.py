"""Running one job in a worker: claim it, do it with progress and a heartbeat, end it.

- Claim: ``UPDATE job SET status='running' ... WHERE id=:id AND status='queued'``; a job
  another worker claimed (or that ended) is not run twice.
- Progress (``rows_done``) and the heartbeat (``heartbeat_at``) are written on connections
  of their own and committed at once, beside the work's own transaction, so a page polling
  the job sees them move. Progress is written at most every ``PROGRESS_EVERY`` seconds;
  the heartbeat every ``JOB_HEARTBEAT_SECONDS`` from a thread, even while the work is in a
  long step that reports no rows (the zip of a big workbook). Such a step may say what it
  is doing as it goes (:meth:`JobRun.phase`: the job's summary while it runs, e.g. the
  size of the file being saved), so the page sees the job move there too.
- End: ``done`` with the file and ``expires_at`` (``JOB_KEEP_HOURS`` later), or ``failed``
  with the reason.
- Language: a job's texts (its summary, the phase it is in, the reason it failed) are
  written once, by the worker, in the language of the person who asked for it (the
  ``lang`` its row keeps, :func:`formulary.jobs.services.create_job`); a job nobody asked
  for (the nightly backup, the digest) in the clinic's ``DEFAULT_LOCALE``. The job's page
  and ``/api/v1/jobs`` show them as stored, to whoever reads them: an admin reading
  another user's job reads it in that user's language. A worker killed meanwhile leaves the job ``running`` with a heartbeat
  that stops: :func:`formulary.jobs.schedule.reap` queues it again or fails it.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from contextlib import nullcontext

from flask import Flask, current_app
from flask_babel import force_locale
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from formulary.db import utcnow, write_intent
from formulary.domain.errors import DomainError
from formulary.extensions import db
from formulary.i18n import tr
from formulary.jobs.kinds import KINDS, Outcome
from formulary.jobs.models import Job

log = logging.getLogger(__name__)

#: Seconds between two progress writes (the page polls every second; the goal is 2 s).
PROGRESS_EVERY = 0.5


def _write(values: dict, *conditions, wait: bool = True) -> int:
    """One committed UPDATE of a job row on a connection of its own. ``wait=False`` (a
    progress write): on SQLite, when another transaction holds the write lock (the job's
    own, in a delivery import), skip this write at once instead of waiting; 0 is
    answered. PostgreSQL locks rows, and the job's row is nobody else's."""
    token = write_intent.set(True)
    try:
        with db.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            raw = conn.connection.dbapi_connection if sqlite else None
            if sqlite and not wait:
                raw.execute("PRAGMA busy_timeout=0")  # outside any transaction
            try:
                with conn.begin():
                    return conn.execute(update(Job).where(*conditions).values(**values)).rowcount
            except OperationalError:
                if wait or not sqlite:
                    raise
                return 0
            finally:
                if sqlite and not wait:
                    raw.execute(
                        f"PRAGMA busy_timeout={int(current_app.config['SQLITE_BUSY_TIMEOUT'] * 1000)}")
    finally:
        write_intent.reset(token)


class JobRun:
    """What a kind's ``run`` gets: the job's id, parameters and user, and the progress
    callback (``progress(rows_done)``; ``set_total(rows_total)`` first)."""

    def __init__(self, app: Flask, job: Job):
        self.app = app
        self.job_id = job.id
        self.kind = job.kind
        self.params: dict[str, Any] = job.params
        self.user_id = job.user_id
        self.rows_done = 0
        self._last = 0.0

    @property
    def user(self):
        from formulary.auth.models import User

        return db.session.get(User, self.user_id) if self.user_id else None

    def set_total(self, total: int) -> None:
        _write({"rows_total": max(0, int(total))}, Job.id == self.job_id)

    def progress(self, rows_done: int, force: bool = False) -> None:
        self.rows_done = rows_done
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_EVERY:
            self._last = now
            _write({"rows_done": rows_done, "heartbeat_at": utcnow()}, Job.id == self.job_id,
                   wait=False)

    def phase(self, text: str, force: bool = False) -> None:
        """A step with no rows to count (the workbook compressed into its file after its
        last row): ``text`` is the job's summary while it runs (the page shows it), written
        as often as the progress, so the page sees the job move. The outcome's summary
        replaces it at the end."""
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_EVERY:
            self._last = now
            _write({"summary": text[:1000], "heartbeat_at": utcnow()}, Job.id == self.job_id,
                   wait=False)


class _Heartbeat(threading.Thread):
    def __init__(self, app: Flask, job_id: int):
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.app, self.job_id = app, job_id
        self.interval = float(app.config["JOB_HEARTBEAT_SECONDS"])
        self.stopped = threading.Event()

    def run(self) -> None:
        with self.app.app_context():
            while not self.stopped.wait(self.interval):
                try:
                    _write({"heartbeat_at": utcnow()}, Job.id == self.job_id,
                           Job.status == "running")
                except Exception:  # the database away for a moment: the next beat
                    log.warning("heartbeat of job %s not written", self.job_id, exc_info=True)
            db.session.remove()


def claim(job_id: int) -> Job | None:
    """Take the queued job for this worker, or None when it is not queued (any more)."""
    now = utcnow()
    changed = _write({"status": "running", "attempts": Job.attempts + 1, "started_at": now,
                      "heartbeat_at": now, "rows_done": 0, "error": None, "summary": None},
                     Job.id == job_id, Job.status == "queued")
    if changed != 1:
        return None
    return db.session.get(Job, job_id)


def reason_of(exc: BaseException) -> str:
    """Why a job failed: a refusal in the words its reader reads (the job's language, see
    the module docstring); anything else as the error it was, for whoever looks into it."""
    if isinstance(exc, DomainError):
        return tr(exc.message)[:1000]
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:1000] if text else type(exc).__name__


def run_job(app: Flask, job_id: int) -> None:
    with app.app_context():
        try:
            job = claim(job_id)
            if job is None:
                log.info("job %s is not queued: not run", job_id)
                return
            kind = KINDS.get(job.kind)
            run = JobRun(app, job)
            db.session.rollback()  # nothing of ours held open during the work
            beat = _Heartbeat(app, job_id)
            beat.start()
            with job_language(run.params):
                _run_claimed(app, job_id, kind, run, beat)
        finally:
            db.session.remove()


def job_language(params):
    """The job's texts are written in the asker's language (module docstring)."""
    lang = params.get("lang") if isinstance(params, dict) else None
    return force_locale(lang) if isinstance(lang, str) and lang else nullcontext()


def _run_claimed(app: Flask, job_id: int, kind, run: JobRun, beat: _Heartbeat) -> None:
    """Do the claimed job, then end it: ``done`` with its outcome, or ``failed``."""
    try:
        if kind is None:
            raise RuntimeError(f"No kind of job is named {run.kind!r}.")
        outcome: Outcome = kind.run(run)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        log.warning("job %s failed: %s", job_id, exc, exc_info=not isinstance(exc, DomainError))
        _write({"status": "failed", "error": reason_of(exc), "finished_at": utcnow(),
                "summary": None},
               Job.id == job_id, Job.status == "running")
        return
    finally:
        beat.stopped.set()
        beat.join(5)
    now = utcnow()
    values = {"status": "done", "finished_at": now, "heartbeat_at": now,
              "file_path": outcome.path, "filename": outcome.filename,
              "summary": outcome.summary,
              "expires_at": now + timedelta(hours=app.config["JOB_KEEP_HOURS"])}
    if run.rows_done:
        values["rows_done"] = run.rows_done
    _write(values, Job.id == job_id, Job.status == "running")

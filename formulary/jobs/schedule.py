"""The work of the clock (huey's periodic ``tick``, every minute on every worker):

- :func:`reap`: a running job whose heartbeat is older than ``JOB_STALE_SECONDS`` lost its
  worker (killed, machine down). It is queued again while it has had fewer than
  ``JOB_MAX_ATTEMPTS`` runs, else marked failed with the reason; its ``.part`` file goes.
- :func:`cleanup`: finished files older than ``JOB_KEEP_HOURS`` are deleted.
- the nightly backup at ``BACKUP_AT`` and the daily digest at ``DIGEST_AT`` (clinic time),
  each once per clinic day however many workers tick (a ``scheduled_run`` row per day).

The kinds ``backup`` and ``digest`` are registered here.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from formulary import clock
from formulary.db import utcnow
from formulary.domain.schedule import due_day, parse_time_of_day
from formulary.extensions import db
from formulary.jobs.kinds import JobKind, Outcome, register
from formulary.jobs.models import Job, ScheduledRun
from formulary.jobs.services import create_job
from formulary.i18n import _

log = logging.getLogger(__name__)


def tick(app: Flask, now: datetime | None = None) -> None:
    with app.app_context():
        try:
            reap(app)
            cleanup(app)
            now = now or clock.now()
            local = now.astimezone(clock.clinic_tz())
            schedule_daily("backup", app.config["BACKUP_AT"], local)
            if app.config.get("SMTP_HOST"):  # no SMTP: no mail, and no digest job
                schedule_daily("digest", app.config["DIGEST_AT"], local)
        finally:
            db.session.remove()


def schedule_daily(name: str, at_text: str, local_now: datetime) -> int | None:
    """Queue the job ``name`` when it is due and no worker queued it yet today; answers
    the job's id. No transaction is left open (the worker's claim needs the write lock)."""
    day = due_day(local_now, parse_time_of_day(at_text, name))
    if day is None:
        return None
    if db.session.get(ScheduledRun, (name, day)) is not None:
        db.session.rollback()
        return None
    try:
        run = ScheduledRun(name=name, day=day)
        db.session.add(run)
        db.session.flush()
        job = create_job(db.session, None, name, {"day": day.isoformat()})
        run.job_id = job_id = job.id
        db.session.commit()  # the job is queued once this commits
    except IntegrityError:  # another worker's insert won
        db.session.rollback()
        return None
    log.info("scheduled %s for %s: job %s", name, day, job_id)
    return job_id


def reap(app: Flask) -> list[int]:
    """Jobs whose worker died: queued again, or failed with the reason. Answers their ids."""
    from formulary.jobs.queue import enqueue
    from formulary.jobs.runner import _write, job_language

    with app.app_context():
        now = utcnow()
        stale = now - timedelta(seconds=app.config["JOB_STALE_SECONDS"])
        jobs = db.session.execute(select(Job).where(
            Job.status == "running", Job.heartbeat_at < stale)).scalars().all()
        jobs = [(job.id, job.attempts, job.heartbeat_at, job.params) for job in jobs]
        db.session.rollback()
        reaped = []
        for job_id, attempts, beat, params in jobs:
            _drop_parts(job_id)
            age = int((now - beat).total_seconds())
            same = (Job.id == job_id, Job.status == "running", Job.heartbeat_at == beat)
            with job_language(params):  # the reason in the asker's language, as the job's texts
                if attempts < app.config["JOB_MAX_ATTEMPTS"]:
                    if _write({"status": "queued", "rows_done": 0,
                               "error": _("The worker running it stopped (no sign of life for "
                                          "%(age)s s); queued again.", age=age)}, *same):
                        enqueue(job_id)
                        reaped.append(job_id)
                elif _write({"status": "failed", "finished_at": now,
                             "error": _("The worker running it stopped (no sign of life for "
                                        "%(age)s s), %(attempts)s time(s): not tried again.",
                                        age=age, attempts=attempts)}, *same):
                    reaped.append(job_id)
        return reaped


def _drop_parts(job_id: int) -> None:
    directory = Path(current_app.config["JOB_FILES_DIR"])
    if directory.is_dir():
        for part in directory.glob(f"job-{job_id}-*.part"):
            part.unlink(missing_ok=True)


def cleanup(app: Flask) -> int:
    """Delete the files of jobs past ``expires_at``; answers how many."""
    with app.app_context():
        now = utcnow()
        expired = db.session.execute(select(Job.id, Job.file_path).where(
            Job.expires_at < now, Job.file_path.is_not(None))).all()
        db.session.rollback()
        from formulary.jobs.runner import _write

        for job_id, path in expired:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            _write({"file_path": None}, Job.id == job_id)
        # .part files nobody will finish (a worker killed long ago)
        directory = Path(app.config["JOB_FILES_DIR"])
        if directory.is_dir():
            limit = now.timestamp() - app.config["JOB_KEEP_HOURS"] * 3600
            for part in directory.glob("*.part"):
                if part.stat().st_mtime < limit:
                    part.unlink(missing_ok=True)
        return len(expired)


# ------------------------------------------------------------------ nightly backup

BACKUP_PREFIX = "formulary_"


def run_backup_job(run) -> Outcome:
    from formulary.backup import backup, head_path

    directory = Path(current_app.config["BACKUP_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    stamp = clock.now().astimezone(clock.clinic_tz()).strftime("%Y-%m-%d_%H%M%S")
    ext = ".sqlite" if db.engine.dialect.name == "sqlite" else ".dump"
    final = directory / f"{BACKUP_PREFIX}{stamp}{ext}"
    part = directory / f".{final.name}.part"
    try:
        head = backup(part)
        os.replace(part, final)
        if head_path(part).exists():
            os.replace(head_path(part), head_path(final))
    finally:
        part.unlink(missing_ok=True)
        head_path(part).unlink(missing_ok=True)
    removed = prune_backups(directory, current_app.config["BACKUP_KEEP_DAYS"], keep=final)
    return Outcome(path=str(final), filename=final.name,
                   summary=_backup_summary(final.name, head, removed))


def _backup_summary(name: str, head, removed: int) -> str:
    """The backup job's line, in the clinic's language (a job nobody asked for)."""
    text = _("Backup %(file)s", file=name)
    if head:
        text = _("%(text)s, audit head %(head)s", text=text, head=head)
    if removed:
        text = _("%(text)s; %(count)s older backup(s) removed", text=text, count=removed)
    return text


def backup_taken_at(path: Path) -> float:
    """When a backup was taken: the clinic time its name says (``formulary_YYYY-MM-DD_HHMMSS``,
    written by :func:`run_backup_job`), else the file's modification time. The name is
    the backup's own record: a copy, a restore of the folder or a clock set right later
    changes the file's times, not its name."""
    stamp = path.name[len(BACKUP_PREFIX):].split(".", 1)[0]
    try:
        taken = datetime.strptime(stamp, "%Y-%m-%d_%H%M%S").replace(tzinfo=clock.clinic_tz())
    except ValueError:
        return path.stat().st_mtime
    return taken.timestamp()


def prune_backups(directory: Path, keep_days: int, now: datetime | None = None,
                  keep: Path | None = None) -> int:
    """Delete the backups (and their heads) taken more than ``keep_days`` days ago; never
    ``keep`` (the one just written)."""
    limit = (now or utcnow()).timestamp() - keep_days * 86400
    removed = 0
    for path in directory.glob(f"{BACKUP_PREFIX}*"):
        if path.name.endswith(".head.json") or not path.is_file() or path == keep:
            continue
        if backup_taken_at(path) < limit:
            path.unlink()
            path.with_name(path.name + ".head.json").unlink(missing_ok=True)
            removed += 1
    return removed


register(JobKind("backup", "Backup", run_backup_job, downloadable=False))


# -------------------------------------------------------------------- daily digest

def run_digest_job(run) -> Outcome:
    from formulary.jobs.digest import send_digests

    sent, skipped = send_digests(db.session, clock.now())
    return Outcome(summary=_digest_summary(sent, skipped))


def _digest_summary(sent: int, skipped: int) -> str:
    """The digest job's line, in the clinic's language (a job nobody asked for)."""
    text = _("Digest sent to %(count)s user(s)", count=sent)
    if skipped:
        text = _("%(text)s; %(count)s without an email address", text=text, count=skipped)
    return text


register(JobKind("digest", "Daily digest", run_digest_job, downloadable=False))

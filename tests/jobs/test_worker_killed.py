"""A real worker process (``flask --app wsgi worker``) killed with SIGKILL in the middle of
an export, on huey's SQLite storage and on Redis: no half-written file is ever named by
the job; a second worker finds the job dead (stale heartbeat), runs it again, and runs
the next job too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from formulary.extensions import db
from formulary.jobs.models import Job
from tests.jobs.helpers import add_audit_rows, read_whole, rows_of, user_api

ROOT = Path(__file__).resolve().parents[2]


def start_worker(url: str, config: dict, tmp_path, name: str) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=url, FORMULARY_CONFIG="development",
               JOB_QUEUE_PATH=config["JOB_QUEUE_PATH"], JOB_FILES_DIR=config["JOB_FILES_DIR"],
               JOB_QUEUE_NAME=config["JOB_QUEUE_NAME"], JOB_WORKERS="1")
    env.pop("REDIS_URL", None)
    if config["REDIS_URL"]:
        env["REDIS_URL"] = config["REDIS_URL"]
    with open(tmp_path / f"{name}.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def job_row(job_id: int):
    """The job's row as it is now; no transaction left open (on SQLite a transaction of
    this process would hold the write lock the worker needs)."""
    from types import SimpleNamespace

    from formulary.db import write_intent

    db.session.rollback()
    token = write_intent.set(False)
    try:
        job = db.session.get(Job, job_id)
        row = SimpleNamespace(status=job.status, rows_done=job.rows_done, error=job.error,
                              file_path=job.file_path, attempts=job.attempts)
    finally:
        db.session.rollback()
        write_intent.reset(token)
    return row


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


# Each database and each queue storage once (pairwise), not every pair: the database and
# the queue play separate parts here (the job's row and file; the task's delivery), and a
# run costs the suite some twenty seconds.
PAIRS = [pytest.param("sqlite", "sqlite", id="sqlite-sqlite"),
         pytest.param("postgresql", "redis", id="postgresql-redis")]


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("backend", "storage"), PAIRS, indirect=True)
def test_a_worker_killed_mid_export_leaves_no_file_and_the_next_worker_finishes(jobs_app, tmp_path):
    app, url, config = jobs_app
    add_audit_rows(30_000)
    manager, _ = user_api(app, "manager", "mona")
    first = manager.post("/api/v1/jobs/exports", json={"report": "audit"}).get_json()["id"]
    second = manager.post("/api/v1/jobs/exports",
                          json={"report": "audit", "action": "test.row", "object_id": "7"}
                          ).get_json()["id"]
    # The worker processes read the job settings from the environment: the stale limit
    # is theirs by default (60 s); the second worker is started once the heartbeat is old.
    worker = start_worker(url, config, tmp_path, "worker1")
    try:
        wait_for(lambda: job_row(first).rows_done > 1000, 90, "the export to be under way")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    killed = job_row(first)
    assert killed.status == "running" and killed.file_path is None  # no file named
    files = list(Path(config["JOB_FILES_DIR"]).glob("*.xlsx"))
    assert files == [], "only a .part file may exist while the job is unfinished"

    # Its heartbeat is made old (as a minute without a worker would), then a new worker
    # starts: it finds the job dead on start-up, queues it again and runs both jobs.
    from sqlalchemy import update

    from formulary.db import utcnow
    from datetime import timedelta

    db.session.execute(update(Job).where(Job.id == first).values(
        heartbeat_at=utcnow() - timedelta(seconds=app.config["JOB_STALE_SECONDS"] + 1)))
    db.session.commit()
    worker2 = start_worker(url, config, tmp_path, "worker2")
    try:
        wait_for(lambda: job_row(first).status in ("done", "failed") and
                 job_row(second).status in ("done", "failed"), 180, "both jobs to end")
    finally:
        worker2.send_signal(signal.SIGINT)
        try:
            worker2.wait(20)
        except subprocess.TimeoutExpired:
            worker2.kill()
            worker2.wait(10)
    done = job_row(first)
    assert done.status == "done", (done.error, (tmp_path / "worker2.log").read_text())
    assert done.attempts == 2 and "stopped" not in (done.error or "")
    assert job_row(second).status == "done"
    assert not list(Path(config["JOB_FILES_DIR"]).glob("*.part"))
    rows = rows_of(read_whole(manager.get(f"/api/v1/jobs/{first}/file")).data, "Audit log")
    assert len(rows) - 1 >= 30_000
    assert len(rows_of(read_whole(manager.get(f"/api/v1/jobs/{second}/file")).data,
                       "Audit log")) == 2
    assert db.session.execute(select(Job.status).where(Job.id.in_([first, second]))).scalars().all() == ["done", "done"]

"""The job queue: huey, on a SQLite file by default and on Redis when ``REDIS_URL`` is set.

The queue carries only a job's id; the ``job`` table says what it is and how far it got.
:func:`init_app` makes the app's huey and registers its tasks on it:

- ``run_job(job_id)``: one job, by :func:`formulary.jobs.runner.run_job`;
- ``tick()``, every minute (huey's periodic task): the work of the clock
  (:func:`formulary.jobs.schedule.tick`): dead workers' jobs, expired files, the nightly
  backup and the daily digest when due.

Each worker also looks for jobs left by a dead worker when it starts (``on_startup``).
``flask --app wsgi worker`` runs huey's consumer on the app's huey (:func:`run_worker`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey

log = logging.getLogger(__name__)


def make_huey(config) -> Huey:
    """Redis when ``REDIS_URL`` is set, else the SQLite file ``JOB_QUEUE_PATH``."""
    name = config["JOB_QUEUE_NAME"]
    if config.get("REDIS_URL"):
        return RedisHuey(name, url=config["REDIS_URL"], results=False, utc=True)
    path = Path(config["JOB_QUEUE_PATH"])
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(path), results=False, utc=True, timeout=15)


def storage_label(huey: Huey) -> str:
    return "Redis" if isinstance(huey, RedisHuey) else f"SQLite ({huey.storage.filename})"


def init_app(app: Flask) -> None:
    huey = make_huey(app.config)
    app.extensions["huey"] = huey
    app.extensions["huey_tasks"] = _register_tasks(huey, app)


def _register_tasks(huey: Huey, app: Flask) -> dict:
    from formulary.jobs import runner, schedule

    @huey.task(name="run_job")
    def run_job(job_id: int) -> None:
        runner.run_job(app, job_id)

    @huey.periodic_task(crontab(minute="*"), name="tick")
    def tick() -> None:
        schedule.tick(app)

    @huey.on_startup(name="reap")
    def reap_on_startup() -> None:
        try:
            schedule.reap(app)
        except Exception:  # a database not reachable yet: the minute's tick will do it
            log.exception("looking for the jobs of dead workers failed")

    return {"run_job": run_job, "tick": tick}


def huey() -> Huey:
    return current_app.extensions["huey"]


def enqueue(job_id: int) -> None:
    """Put the job on the queue (after the job's row is committed: the worker reads it)."""
    current_app.extensions["huey_tasks"]["run_job"](job_id)


def run_pending(app: Flask, limit: int = 100) -> int:
    """Run the queued tasks in this thread, as a worker would (huey's own dequeue and
    execute): for tests and for a process that wants its jobs done now. Answers how many."""
    h: Huey = app.extensions["huey"]
    done = 0
    while done < limit:
        # an empty queue ends the run at once (Redis' dequeue would wait for a task
        # for its read timeout, a second, first)
        if not h.pending_count():
            break
        task = h.dequeue()
        if task is None:
            break
        h.execute(task)
        done += 1
    return done


def run_worker(app: Flask, workers: int | None = None, periodic: bool = True) -> None:
    """huey's consumer on the app's queue, until SIGINT (graceful) or SIGTERM."""
    h: Huey = app.extensions["huey"]
    n = workers or app.config["JOB_WORKERS"]
    log.info("worker %s: %d thread(s) on %s", os.getpid(), n, storage_label(h))
    consumer = h.create_consumer(workers=n, periodic=periodic, worker_type="thread",
                                 initial_delay=0.1, max_delay=1.0, check_worker_health=True)
    consumer.run()

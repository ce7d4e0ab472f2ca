"""Jobs tests: an app whose database a worker process can open too (a SQLite file, or the
PostgreSQL test database), with its own queue: huey's SQLite file under ``tmp_path``
(``storage="sqlite"``) or Redis (``storage="redis"``: ``TEST_REDIS_URL``, by default
redis://127.0.0.1:6379/9, each test under a queue name of its own; skipped with the reason
when no Redis answers there)."""

from __future__ import annotations

import os
import uuid

import pytest

from formulary.extensions import db
from tests.conftest import PG_URL, make_app

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
_redis_problem: list = []


def redis_problem() -> str | None:
    """Why Redis cannot be used here, or None."""
    if not _redis_problem:
        try:
            import redis

            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
            _redis_problem.append(None)
        except Exception as exc:  # noqa: BLE001 - any failure means: no Redis here
            _redis_problem.append(f"Redis tests skipped: no Redis at {REDIS_URL} "
                                  f"(set TEST_REDIS_URL): {exc}")
    return _redis_problem[0]


@pytest.fixture(params=["sqlite", "redis"])
def storage(request) -> str:
    if request.param == "redis" and redis_problem():
        pytest.skip(redis_problem())
    return request.param


def job_config(storage: str, tmp_path) -> dict:
    config = {"JOB_QUEUE_PATH": str(tmp_path / "queue.db"),
              "JOB_FILES_DIR": str(tmp_path / "files"),
              "BACKUP_DIR": str(tmp_path / "backups"),
              "JOB_QUEUE_NAME": f"formulary-test-{uuid.uuid4().hex[:12]}",
              "REDIS_URL": REDIS_URL if storage == "redis" else None}
    return config


@pytest.fixture
def jobs_app(backend, storage, tmp_path, request):
    """``(app, url, config)``: the app (context pushed), its database URL and the job
    settings a worker process needs to share its queue."""
    config = job_config(storage, tmp_path)
    if backend == "postgresql":
        request.getfixturevalue("app")  # empties the tables
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
    app = make_app(url, **config)
    ctx = app.app_context()
    ctx.push()
    if backend == "sqlite":
        db.create_all()
    huey = app.extensions["huey"]
    try:
        yield app, url, config
    finally:
        db.session.remove()
        huey.flush()  # Redis: this test's keys go
        db.engine.dispose()
        ctx.pop()

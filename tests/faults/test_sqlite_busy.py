"""SQLite busy with another writer: a writing request waits (``SQLITE_BUSY_TIMEOUT``)
rather than fails; past the bound it fails clearly (503 ``unavailable`` with Retry-After)
and writes nothing. Reads run beside the writer (WAL).

The other writer is a second connection holding ``BEGIN IMMEDIATE`` (the write lock), as
a long report export or a backup in another process would.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from formulary.extensions import db
from tests.conftest import make_app
from tests.faults.conftest import book_problems, counts, seed

BOUND = 1.0  # seconds: small, so the test is quick; production waits 15


@pytest.fixture
def busy_app(tmp_path):
    path = tmp_path / "busy.db"
    app = make_app(f"sqlite:///{path}", SQLITE_BUSY_TIMEOUT=BOUND)
    with app.app_context():
        db.create_all()
        ids = seed()
        yield app, path, ids
        db.session.remove()
        db.engine.dispose()


def hold_write_lock(path, seconds: float) -> threading.Thread:
    """Another connection takes the write lock now and keeps it for ``seconds``."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE lot SET supplier = 'other writer' WHERE id = 1")

    def release():
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def receive(app, ids, number: str):
    client = app.test_client()
    started = time.monotonic()
    response = client.post("/api/v1/lots", headers={"Authorization": f"Bearer {ids['token']}"},
                           json={"ingredient_id": ids["ingredient_ids"][0], "lot_number": number,
                                 "expiry_date": "2031-01-31", "quantity": "5"})
    return response, time.monotonic() - started


def test_a_writer_shorter_than_the_bound_is_waited_for(busy_app):
    app, path, ids = busy_app
    holder = hold_write_lock(path, BOUND / 3)
    response, waited = receive(app, ids, "WAITED-1")
    holder.join()
    assert response.status_code == 201, response.json
    assert waited >= BOUND / 3 * 0.8  # it waited for the other writer instead of failing
    db.session.expire_all()
    assert book_problems() == []


def test_a_writer_longer_than_the_bound_fails_clearly_and_writes_nothing(busy_app):
    app, path, ids = busy_app
    before = counts()
    holder = hold_write_lock(path, BOUND * 2.5)
    try:
        response, waited = receive(app, ids, "TOO-LATE-1")
    finally:
        holder.join()
    assert response.status_code == 503
    assert response.json["error"]["code"] == "unavailable"
    assert response.headers["Retry-After"]
    assert BOUND * 0.8 <= waited < BOUND * 2.5  # bounded: it gave up before the other writer ended
    assert counts() == before
    # Once the other writer is done, the same request goes through.
    response, _ = receive(app, ids, "TOO-LATE-1")
    assert response.status_code == 201
    assert book_problems() == []


def test_reads_run_beside_a_writer(busy_app):
    app, path, ids = busy_app
    holder = hold_write_lock(path, BOUND * 2)
    try:
        started = time.monotonic()
        response = app.test_client().get("/api/v1/lots", headers={"Authorization": f"Bearer {ids['token']}"})
        took = time.monotonic() - started
    finally:
        holder.join()
    assert response.status_code == 200 and response.json["total"] == 2
    assert took < BOUND  # no waiting for the writer at all

"""SQLite busy with another writer: a writing request waits (``SQLITE_BUSY_TIMEOUT``)
rather than fails; past the bound it fails clearly (503 ``unavailable`` with Retry-After)
and writes nothing. Reads run beside the writer (WAL).

The other writer is a second connection holding ``BEGIN IMMEDIATE`` (the write lock), as
a long report export or a backup in another process would.

No wall-clock thresholds (they fail by chance on a loaded machine): the other writer lets
go of the lock on a signal (the request has sent its ``BEGIN IMMEDIATE``, or has answered),
and each test asserts the order in which the two sides did things, recorded as they happen.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import event

from formulary.extensions import db
from tests.conftest import make_app
from tests.faults.conftest import book_problems, counts, seed

BOUND = 1.0  # seconds: small, so a request that must give up does so quickly
#: Long enough that no scheduling delay on a loaded machine reaches it: the other writer
#: lets go on a signal, long before.
PATIENT_BOUND = 60.0
#: The most a step waits for the other side's signal: only reached when the code is wrong.
SIGNAL_WAIT = 30.0
#: How long the other writer keeps the lock after the request's BEGIN IMMEDIATE was sent,
#: to see the request still waiting. It decides nothing when the code is right (the request
#: cannot get the lock while it is held, however slow the machine): it only gives a wrong
#: change (a request that does not wait) the time to show itself.
HOLD_AFTER_BEGIN = 0.3
BEGIN_IMMEDIATE = "BEGIN IMMEDIATE"


@pytest.fixture
def busy_app(tmp_path, request):
    """``(app, path, ids)``: a SQLite file app whose busy timeout is ``BOUND`` (or the
    test's indirect parameter)."""
    path = tmp_path / "busy.db"
    app = make_app(f"sqlite:///{path}", SQLITE_BUSY_TIMEOUT=getattr(request, "param", BOUND))
    with app.app_context():
        db.create_all()
        ids = seed()
        yield app, path, ids
        db.session.remove()
        db.engine.dispose()


class Timeline:
    """What both sides did, in order, and the signals they wait for."""

    def __init__(self):
        self.events: list[str] = []
        self.begin_sent = threading.Event()
        self.begin_done = threading.Event()
        self.answered = threading.Event()

    def add(self, what: str) -> None:
        self.events.append(what)  # list.append is atomic: safe from both threads

    def watch(self, engine):
        """Record the app's ``BEGIN IMMEDIATE`` (sent, and completed) on ``engine``."""
        def before(_conn, _cursor, statement, *_args):
            if statement == BEGIN_IMMEDIATE:
                self.add("request: BEGIN IMMEDIATE sent")
                self.begin_sent.set()

        def after(_conn, _cursor, statement, *_args):
            if statement == BEGIN_IMMEDIATE:
                self.add("request: BEGIN IMMEDIATE done")
                self.begin_done.set()

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        return lambda: (event.remove(engine, "before_cursor_execute", before),
                        event.remove(engine, "after_cursor_execute", after))


def hold_write_lock(path, timeline: Timeline, release_when) -> threading.Thread:
    """Another connection takes the write lock now and commits once ``release_when``
    (called in its thread, with the timeline) returns."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE lot SET supplier = 'other writer' WHERE id = 1")
    timeline.add("other writer: holds the lock")

    def release():
        try:
            release_when(timeline)
        finally:
            timeline.add("other writer: COMMIT")  # before it: nothing can take the lock earlier
            other.execute("COMMIT")
            other.close()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def after_answer(timeline: Timeline) -> None:
    """Keep the lock until the request has answered."""
    timeline.answered.wait(SIGNAL_WAIT)


def receive(app, ids, number: str, timeline: Timeline | None = None):
    response = app.test_client().post(
        "/api/v1/lots", headers={"Authorization": f"Bearer {ids['token']}"},
        json={"ingredient_id": ids["ingredient_ids"][0], "lot_number": number,
              "expiry_date": "2031-01-31", "quantity": "5"})
    if timeline is not None:
        timeline.add(f"request: answered {response.status_code}")
        timeline.answered.set()
    return response


@pytest.mark.parametrize("busy_app", [PATIENT_BOUND], indirect=True)
def test_a_writer_shorter_than_the_bound_is_waited_for(busy_app):
    app, path, ids = busy_app
    timeline = Timeline()
    still_waiting = []

    def after_begin_is_sent(t: Timeline):
        # the request's BEGIN IMMEDIATE is under way: it must still be waiting for us
        if t.begin_sent.wait(SIGNAL_WAIT):
            still_waiting.append(not t.begin_done.wait(HOLD_AFTER_BEGIN))

    unwatch = timeline.watch(db.engine)
    try:
        holder = hold_write_lock(path, timeline, after_begin_is_sent)
        response = receive(app, ids, "WAITED-1", timeline)
        holder.join()
    finally:
        unwatch()
    assert response.status_code == 201, response.json
    # it waited for the other writer instead of failing: its write lock came only after
    # the other writer's commit
    assert still_waiting == [True]
    assert timeline.events == [
        "other writer: holds the lock",
        "request: BEGIN IMMEDIATE sent",
        "other writer: COMMIT",
        "request: BEGIN IMMEDIATE done",
        "request: answered 201",
    ]
    db.session.expire_all()
    assert book_problems() == []


def test_a_writer_longer_than_the_bound_fails_clearly_and_writes_nothing(busy_app):
    app, path, ids = busy_app
    with db.engine.connect() as conn:  # the bound the request waits: BOUND, in ms
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == int(BOUND * 1000)
    before = counts()
    timeline = Timeline()
    unwatch = timeline.watch(db.engine)
    try:
        holder = hold_write_lock(path, timeline, after_answer)
        try:
            response = receive(app, ids, "TOO-LATE-1", timeline)
        finally:
            holder.join()
    finally:
        unwatch()
    assert response.status_code == 503
    assert response.json["error"]["code"] == "unavailable"
    assert response.headers["Retry-After"]
    # bounded: it asked for the lock and gave up while the other writer still held it
    assert timeline.events == [
        "other writer: holds the lock",
        "request: BEGIN IMMEDIATE sent",
        "request: answered 503",
        "other writer: COMMIT",
    ]
    assert counts() == before
    # Once the other writer is done, the same request goes through.
    response = receive(app, ids, "TOO-LATE-1")
    assert response.status_code == 201
    assert book_problems() == []


def test_reads_run_beside_a_writer(busy_app):
    app, path, ids = busy_app
    timeline = Timeline()
    unwatch = timeline.watch(db.engine)
    try:
        holder = hold_write_lock(path, timeline, after_answer)
        try:
            response = app.test_client().get(
                "/api/v1/lots", headers={"Authorization": f"Bearer {ids['token']}"})
            timeline.add(f"read: answered {response.status_code}")
            timeline.answered.set()
        finally:
            holder.join()
    finally:
        unwatch()
    # no waiting for the writer at all: answered (not 503 past the bound) while it held
    # the lock, without asking for the lock, and from the last committed state
    assert response.status_code == 200 and response.json["total"] == 2
    assert timeline.events == ["other writer: holds the lock", "read: answered 200",
                               "other writer: COMMIT"]
    assert "other writer" not in {lot["supplier"] for lot in response.json["items"]}

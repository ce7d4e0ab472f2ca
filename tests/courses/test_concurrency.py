"""Two administrations racing for the last dose of one batch: exactly one succeeds, the
other is refused (409), and the batch never gives more doses than it holds (SPEC §7, §11).

On PostgreSQL the batch row is locked (``SELECT ... FOR UPDATE``) before the doses given
are summed; threads with their own connections start together at a barrier. (On SQLite
every writer begins with ``BEGIN IMMEDIATE`` and the writers queue; the in-memory test
database has a single connection, so the race is run on PostgreSQL.)
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formulary.auth.models import User
from formulary.courses import administrations
from formulary.courses.models import Administration, CourseSession
from formulary.extensions import db
from tests.courses.conftest import race

RACERS = 2


def test_two_administrations_race_for_the_last_dose(backend, app, start_course, make_batch,
                                                    practitioner_api):
    if backend != "postgresql":
        pytest.skip("the race runs on PostgreSQL (SQLite writers queue on BEGIN IMMEDIATE)")
    course = start_course()
    batch = make_batch(1)
    session_ids = [s["id"] for s in course["sessions"][:RACERS]]
    user_id, batch_id = practitioner_api.user.id, batch.id
    db.session.commit()
    db.session.remove()

    def give(session_id: int):
        return lambda: administrations.give(
            db.session, db.session.get(User, user_id), db.session.get(CourseSession, session_id),
            batch_id=batch_id, doses=1, sites="crown", technique="nappage")

    outcomes = race(app, [give(sid) for sid in session_ids])
    assert outcomes == ["409 batch_used_up", "ok"], outcomes
    given = db.session.execute(select(func.coalesce(func.sum(Administration.doses), 0))
                               .where(Administration.batch_id == batch_id)).scalar_one()
    assert given == 1

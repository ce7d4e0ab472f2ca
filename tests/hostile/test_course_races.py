"""Two changes of one course racing (a double click, two tabs, two colleagues): of two
stops, two consents, two marks of one session, or a dose given while the consent is
withdrawn, exactly one wins and the other is refused (409); a change that answered 2xx is
never undone (SPEC §7 "state changes are atomic", §11). Run on PostgreSQL (READ
COMMITTED lets both read the old state); SQLite's writers queue on BEGIN IMMEDIATE."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formulary import clock
from formulary.auth.models import User
from formulary.courses import administrations, consent, services
from formulary.courses.models import Consent, Course, CourseSession
from formulary.domain.errors import DomainError
from formulary.extensions import db
from tests.courses.conftest import race
from tests.hostile.conftest import GIVE


@pytest.fixture
def racing(backend, app, start_course):
    if backend != "postgresql":
        pytest.skip("the races run on PostgreSQL (SQLite writers queue on BEGIN IMMEDIATE)")

    return start_course


def settle():
    """What the test made, committed; the threads open their own sessions."""
    db.session.commit()
    db.session.remove()


def _user(user_id):
    return db.session.get(User, user_id)


def test_two_stops_one_wins(app, racing, practitioner_api):
    course = racing()
    uid = practitioner_api.user.id
    settle()

    def stop(reason):
        return lambda: services.stop_course(db.session, _user(uid),
                                            services.get_course(db.session, course["id"]), reason)

    assert race(app, [stop("patient moved"), stop("patient asked")]) == ["409 invalid_state", "ok"]
    stopped = db.session.get(Course, course["id"])
    assert stopped.stop_reason in ("patient moved", "patient asked")


def test_two_consents_one_is_recorded(app, racing, practitioner_api):
    course = racing(consent=False)
    text = practitioner_api.post("consent-texts", json={"area": "scalp", "title": "Scalp",
                                                        "body": "I agree."}).get_json()
    uid = practitioner_api.user.id
    settle()

    def record():
        consent.record_consent(db.session, _user(uid), services.get_course(db.session, course["id"]),
                               consent_text_id=text["id"], consented_on=clock.today().isoformat(),
                               today=clock.today())

    assert race(app, [record, record]) == ["409 duplicate", "ok"]
    assert db.session.execute(select(func.count()).select_from(Consent)
                              .where(Consent.course_id == course["id"])).scalar_one() == 1


def test_missed_and_cancelled_at_once_one_wins(app, racing, practitioner_api):
    course = racing()
    uid, sid = practitioner_api.user.id, course["sessions"][0]["id"]
    settle()

    def mark(status):
        return lambda: services.mark_session(db.session, _user(uid),
                                             db.session.get(CourseSession, sid), status,
                                             "patient did not come", today=clock.today())

    outcomes = race(app, [mark("missed"), mark("cancelled")])
    assert outcomes == ["409 invalid_state", "ok"], outcomes


def test_a_dose_given_while_consent_is_withdrawn(app, racing, practitioner_api, make_batch):
    """Either the dose was given first (then the withdrawal stops the course after it), or
    the withdrawal came first and the dose is refused: never a dose on a stopped course."""
    course = racing()
    batch_id = make_batch(2).id
    uid, sid = practitioner_api.user.id, course["sessions"][0]["id"]
    settle()

    def give():
        administrations.give(db.session, _user(uid), db.session.get(CourseSession, sid),
                             batch_id=batch_id, **GIVE)

    def withdraw():
        consent.withdraw_consent(db.session, _user(uid),
                                 services.get_course(db.session, course["id"]),
                                 withdrawn_on=clock.today().isoformat(), reason="changed her mind",
                                 today=clock.today())

    outcomes = race(app, [give, withdraw])
    assert outcomes in (["ok", "ok"], ["409 consent_withdrawn", "ok"]), outcomes
    row = db.session.get(Course, course["id"])
    assert row.status == "stopped"
    if outcomes == ["ok", "ok"]:
        from formulary.courses.models import Administration

        given = db.session.execute(select(Administration.given_at)).scalars().all()
        assert len(given) == 1 and given[0] <= row.stopped_at

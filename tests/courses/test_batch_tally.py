"""The outstanding batches kept by the writes (``compounding.tally``): after every kind of
change (prepare, verify, discard, give part, give the rest, quarantine, release, recall,
time passing, a savepoint rolled back, a batch deleted, a bulk load rebuilt) each batch's
flag, the tally and the dashboard's counts equal a recount by the rule; on both
databases. Here beside the courses: administrations are one of the changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import product

import pytest
import time_machine
from sqlalchemy import event, func, insert, select

from formulary import clock
from formulary.compounding import dashboard, tally
from formulary.compounding import services as batch_services
from formulary.compounding.models import Batch, BatchLine, BatchTally
from formulary.compounding.state import state_clause, state_of
from formulary.db import utcnow
from formulary.domain.batch_state import OUTSTANDING_STATES, STATES, LotFact, batch_state
from formulary.extensions import db
from formulary.inventory import lots as lot_services
from formulary.inventory.models import Lot
from tests.courses.conftest import run_together
from tests.courses.test_administrations import give


# --- the rule: outstanding is exactly "not discarded, doses left, no lot held" --------------

@pytest.mark.parametrize("status, given, held, past", list(product(
    ("prepared", "verified", "discarded"), (0, 1, 3), (False, True), (False, True))))
def test_outstanding_states_truth_table(status, given, held, past):
    now = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
    lots = [LotFact("L1", "quarantined" if held else "available")]
    state = batch_state(status=status, beyond_use_at=now + timedelta(hours=-1 if past else 1),
                        now=now, doses=3, lots=lots, doses_given=given).state
    assert (state in OUTSTANDING_STATES) == (status != "discarded" and given < 3 and not held)


# --- the kept flags and tally against a recount, after every kind of change -----------------

def _recount(now) -> dict:
    """The state of every batch by the rule (``state_of``) and by SQL (``state_clause``)."""
    db.session.expire_all()
    ids = db.session.execute(select(Batch.id).order_by(Batch.id)).scalars().all()
    by_rule = {i: state_of(batch_services.get_batch(db.session, i), now).state for i in ids}
    for state in STATES:
        in_sql = set(db.session.execute(select(Batch.id).where(state_clause(state, now))).scalars())
        assert in_sql == {i for i, s in by_rule.items() if s == state}, state
    return by_rule


def check(now=None) -> dict:
    """Flags, tally and the dashboard's counts equal the recount; the states by batch."""
    now = now or utcnow()
    states = _recount(now)
    flags = dict(db.session.execute(select(Batch.id, Batch.outstanding)).all())
    assert {i: bool(v) for i, v in flags.items()} == {
        i: s in OUTSTANDING_STATES for i, s in states.items()}
    assert tally.check_tally(db.session) == []
    kept = db.session.execute(select(tally.tally_statement())).scalar_one()
    assert kept == sum(s in OUTSTANDING_STATES for s in states.values())
    assert dashboard.held_and_expired(db.session, now) == (
        list(states.values()).count("on_hold"), list(states.values()).count("expired"))
    assert dashboard.awaiting(db.session, now) == list(states.values()).count("prepared")
    # the panel reads the same counts, and today's batches by status, in one statement
    tz = clock.clinic_tz()
    start, end = batch_services.local_day_bounds(now.astimezone(tz).date(), tz)
    today = [status for status, at in db.session.execute(select(Batch.status, Batch.prepared_at))
             if start <= at < end]
    statements = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        counts = dashboard.today_counts(db.session, tz, now)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert len(statements) == 1
    assert counts == {
        "total": len(today), "prepared": today.count("prepared"),
        "verified": today.count("verified"), "discarded": today.count("discarded"),
        "awaiting": list(states.values()).count("prepared"),
        "on_hold": list(states.values()).count("on_hold"),
        "expired": list(states.values()).count("expired")}
    return states


def _lot_status(actor, lot, status):
    lot_services.set_lot_status(db.session, actor, db.session.get(Lot, lot.id), status=status,
                                reason="supplier notice")
    db.session.commit()


def test_every_kind_of_change_keeps_the_tally(practitioner_api, start_course, make_batch,
                                              make_cocktail, clinic):
    course = start_course()
    sessions = [s["id"] for s in course["sessions"]]
    assert check() == {}
    a = make_batch(3)                                   # prepared and verified
    b = make_batch(2, verify=False)                     # prepared
    biotin_only = make_cocktail([(clinic["biotin"], "1", "mL")], name="Biotin only")
    c = make_batch(2, cocktail=biotin_only, patient=None)
    assert check() == {a.id: "verified", b.id: "prepared", c.id: "verified"}
    batch_services.discard_batch(db.session, clinic["checker"], b, "spilt")  # a Core UPDATE
    db.session.commit()
    assert check()[b.id] == "discarded"
    assert give(practitioner_api, sessions[0], a, doses=1).status_code == 201
    assert check()[a.id] == "partly_given"
    assert give(practitioner_api, sessions[1], a, doses=2).status_code == 201
    assert check()[a.id] == "given"
    d = make_batch(2)
    _lot_status(clinic["checker"], clinic["lido_lot"], "quarantined")   # holds d, not a (given)
    assert check()[d.id] == "on_hold"
    _lot_status(clinic["checker"], clinic["lido_lot"], "available")     # released
    assert check()[d.id] == "verified"
    with time_machine.travel(utcnow() + timedelta(days=3), tick=False):  # time alone
        assert check()[d.id] == "expired" and check()[c.id] == "expired"
    _lot_status(clinic["checker"], clinic["biotin_lot"], "recalled")    # c and d: on hold
    states = check()
    assert (states[c.id], states[d.id]) == ("on_hold", "on_hold")
    with time_machine.travel(utcnow() + timedelta(days=3), tick=False):
        assert check()[d.id] == "on_hold"


def test_a_change_rolled_back_in_a_savepoint_leaves_the_tally(make_batch, clinic):
    a = make_batch(3)
    with db.session.begin_nested():
        db.session.get(Lot, clinic["lido_lot"].id).status = "quarantined"
        db.session.flush()
        db.session.rollback()
    b = make_batch(1)
    db.session.commit()
    assert check() == {a.id: "verified", b.id: "verified"}


def test_a_bulk_load_rebuilt_then_a_batch_deleted(make_batch, clinic):
    b = make_batch(2)
    # a bulk insert bypasses the session: counted by rebuild
    row = {c: getattr(b, c) for c in ("cocktail_id", "cocktail_version_id", "doses", "prepared_by_id",
                                      "beyond_use_at", "status")}
    db.session.execute(insert(Batch), [{**row, "batch_number": "BULK-1"}])
    bulk = db.session.execute(select(Batch.id).where(Batch.batch_number == "BULK-1")).scalar_one()
    db.session.execute(insert(BatchLine), [{"batch_id": bulk, "ingredient_id": clinic["biotin"].id,
                                            "lot_id": clinic["biotin_lot"].id, "quantity": 1,
                                            "unit": "mL"}])
    assert tally.check_tally(db.session) != []
    tally.rebuild(db.session)
    db.session.commit()
    assert check() == {b.id: "verified", bulk: "verified"}
    db.session.delete(db.session.get(Batch, bulk))  # nothing else refers to it
    db.session.commit()
    assert check() == {b.id: "verified"}


def test_a_tally_row_missing_is_made_again(make_batch):
    db.session.execute(BatchTally.__table__.delete())
    db.session.commit()
    a = make_batch(1)
    assert check() == {a.id: "verified"}


def test_the_counts_take_one_statement_whatever_the_batches(app, make_batch, clinic):
    def statements(now):
        db.session.execute(select(1))  # the transaction begun (SQLite's BEGIN is a statement)
        seen = []
        listen = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            dashboard.held_and_expired(db.session, now)
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        return len(seen)

    make_batch(1)
    one = statements(utcnow())
    for _ in range(5):
        make_batch(1)
    _lot_status(clinic["checker"], clinic["lido_lot"], "quarantined")
    assert statements(utcnow()) == one == 1
    assert db.session.execute(select(func.count()).select_from(Batch)).scalar_one() == 6


def test_racing_writers_keep_the_tally(backend, app, start_course, make_batch, practitioner_api,
                                       clinic):
    """Administrations of three batches (each given whole), a discard and a quarantine of
    the lot every batch used, started together on PostgreSQL (row locks; SQLite writers
    queue whole transactions): none fails on a lock, and the flags and tally equal a
    recount after."""
    from formulary.auth.models import User
    from formulary.courses import administrations
    from formulary.courses.models import CourseSession

    if backend != "postgresql":
        pytest.skip("the race runs on PostgreSQL (SQLite writers queue on BEGIN IMMEDIATE)")
    sessions = [s["id"] for s in start_course()["sessions"]]
    given = [make_batch(1), make_batch(1), make_batch(2)]  # 2 doses: the most a session allows
    other = make_batch(2)
    ids = {"user": practitioner_api.user.id, "checker": clinic["checker"].id,
           "lot": clinic["lido_lot"].id, "other": other.id}
    plan = [(s, b.id, b.doses) for s, b in zip(sessions, given)]
    db.session.commit()
    db.session.remove()

    def give_one(session_id, batch_id, doses):
        user, row = db.session.get(User, ids["user"]), db.session.get(CourseSession, session_id)
        return lambda: administrations.give(db.session, user, row, batch_id=batch_id, doses=doses,
                                            sites="crown", technique="nappage")

    def discard():
        user, batch = db.session.get(User, ids["checker"]), batch_services.get_batch(db.session, ids["other"])
        return lambda: batch_services.discard_batch(db.session, user, batch, "spilt")

    def quarantine():
        user, lot = db.session.get(User, ids["checker"]), db.session.get(Lot, ids["lot"])
        return lambda: lot_services.set_lot_status(db.session, user, lot, status="quarantined",
                                                   reason="supplier notice")

    works = [lambda p=p: give_one(*p) for p in plan] + [discard, quarantine]
    outcomes = run_together(app, works)
    # refused (409) only where the quarantine won the batch first
    assert all(o == "ok" or o.startswith("409 ") for o in outcomes) and len(outcomes) == len(works), outcomes
    with app.app_context():
        assert tally.check_tally(db.session) == []
        check()


# --- the number of batches in all (the batch list's unfiltered total) -----------------------

def _total() -> int:
    return db.session.execute(tally.total_statement()).scalar_one()


def test_the_total_counts_the_batches_kept_and_not_one_rolled_back(make_batch, clinic, app,
                                                                   api):
    assert _total() == 0
    a = make_batch(3)
    b = make_batch(1, verify=False)
    row = {c: getattr(a, c) for c in ("cocktail_id", "cocktail_version_id", "doses",
                                      "prepared_by_id", "beyond_use_at", "status")}
    with db.session.begin_nested():  # a batch inserted, then its savepoint rolled back
        db.session.add(Batch(**row, batch_number="GONE-1"))
        db.session.flush()
        db.session.rollback()
    db.session.add(Batch(**row, batch_number="KEPT-1"))  # and one kept, by the session
    db.session.commit()
    assert _total() == 3 == db.session.execute(select(func.count()).select_from(Batch)).scalar_one()
    assert tally.check_tally(db.session) == []
    batch_services.discard_batch(db.session, clinic["checker"], b, "spilt")  # still a batch
    db.session.commit()
    assert _total() == 3 and tally.check_tally(db.session) == []
    # the lists: unfiltered, the kept total; filtered, a count (the same batches)
    admin = api("admin")
    assert admin.get("batches").get_json()["total"] == 3
    assert admin.get("batches?status=discarded").get_json()["total"] == 1


def test_a_wrong_total_is_reported_and_rebuilt(make_batch, clinic):
    make_batch(2)
    db.session.execute(BatchTally.__table__.update().values(total=BatchTally.total + 5))
    assert [str(p) for p in tally.check_tally(db.session)] == [
        "batches in all: recorded 6, recount 1"]
    tally.rebuild(db.session)
    db.session.commit()
    assert _total() == 1 and tally.check_tally(db.session) == []

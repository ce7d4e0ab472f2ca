"""SPEC §2: the ledger and the audit log are append-only in the database itself: a raw
UPDATE or DELETE of their rows, sent past the application, is refused by the database
and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from formulary import append_only
from formulary.audit.models import AuditEntry
from formulary.audit.services import record, verify_chain
from formulary.extensions import db
from formulary.inventory.models import Movement


@pytest.fixture
def rows(make_ingredient, make_lot):
    lot = make_lot(make_ingredient(), "10", on_hand="7")  # a receipt and a correction
    for i in range(3):
        record(db.session, "tester", "thing.change", "thing", i, after={"n": i})
        db.session.commit()
    return lot


def snapshot():
    db.session.rollback()
    return (db.session.execute(select(Movement.id, Movement.quantity_delta, Movement.balance_after,
                                      Movement.note).order_by(Movement.id)).all(),
            db.session.execute(select(AuditEntry.seq, AuditEntry.username, AuditEntry.hash)
                               .order_by(AuditEntry.seq)).all())


REFUSED = [
    "UPDATE movement SET quantity_delta = 1000, balance_after = 1000",
    "UPDATE movement SET note = 'edited' WHERE id = 1",
    "DELETE FROM movement WHERE id = 2",
    "DELETE FROM movement",
    "UPDATE audit_entry SET username = 'mallory' WHERE seq = 2",
    "UPDATE audit_entry SET hash = prev_hash",
    "DELETE FROM audit_entry WHERE seq = 3",
    "DELETE FROM audit_entry",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_a_raw_update_or_delete_is_refused_by_the_database(rows, statement):
    before = snapshot()
    assert len(before[0]) == 2 and len(before[1]) == 3
    conn = db.session.connection()  # raw SQL on the connection, past the ORM
    with pytest.raises(IntegrityError, match="append-only"):
        conn.execute(text(statement))
    db.session.rollback()
    assert snapshot() == before
    assert verify_chain(db.session) == []


def test_the_orm_cannot_change_a_movement_either(rows):
    movement = db.session.execute(select(Movement).order_by(Movement.id)).scalars().first()
    movement.note = "edited"
    with pytest.raises(IntegrityError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert snapshot()[0][0].note == ""


def test_inserts_still_work_and_every_trigger_is_there(rows, make_lot, make_ingredient):
    make_lot(make_ingredient(), "5")
    record(db.session, "tester", "thing.change", "thing", 9)
    db.session.commit()
    assert db.session.execute(select(func.count()).select_from(Movement)).scalar_one() == 3
    assert db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 4
    assert append_only.missing_triggers(db.session.connection()) == []
    db.session.rollback()


def test_the_suites_emptying_leaves_every_trigger_in_place(app, rows):
    """The test suite empties these tables between tests (its triggers dropped and made
    again in the same transaction): every later test starts with them refusing again."""
    from tests.conftest import _empty_tables

    db.session.rollback()
    _empty_tables(app)
    assert snapshot() == ([], [])
    assert append_only.missing_triggers(db.session.connection()) == []
    db.session.rollback()
    record(db.session, "tester", "thing.change", "thing", 1)
    db.session.commit()
    with pytest.raises(IntegrityError, match="append-only"):
        db.session.connection().execute(text("DELETE FROM audit_entry"))
    db.session.rollback()
    assert db.session.execute(select(AuditEntry.seq)).scalars().all() == [1]

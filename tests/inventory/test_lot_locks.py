"""The lock a stock change takes on its lots (``ledger.lock_lots``), on PostgreSQL: stock
writers queue behind each other, but not behind a transaction that only inserts a row
naming the lot (its foreign-key check holds ``FOR KEY SHARE``): with ``FOR UPDATE`` an
administration's lines and a preparation deadlocked under load (bench/README.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from formulary import clock
from formulary.extensions import db
from formulary.inventory.ledger import lock_lots


@pytest.fixture
def other_connection(backend, app):
    if backend != "postgresql":
        pytest.skip("row lock modes: SQLite locks the whole database")
    engine = create_engine(db.engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        yield conn
        conn.rollback()
    engine.dispose()


def _lot(make_ingredient, make_lot):
    lot = make_lot(make_ingredient(), "10", expiry=clock.today() + timedelta(days=90))
    db.session.commit()
    return lot.id


def _lock_fails_fast(lot_id) -> bool:
    """Whether locking the lot from the app's session gives up within the timeout."""
    db.session.execute(text("SET LOCAL lock_timeout = '1s'"))
    try:
        lock_lots(db.session, [lot_id])
    except Exception as exc:  # noqa: BLE001: the lock's timeout, as the driver raises it
        assert "lock timeout" in str(exc), exc
        db.session.rollback()
        return True
    db.session.rollback()
    return False


def test_a_row_naming_the_lot_does_not_block_a_stock_change(other_connection, make_ingredient,
                                                           make_lot):
    lot_id = _lot(make_ingredient, make_lot)
    # what inserting a batch line or an administration line holds until it commits
    other_connection.execute(text("SELECT 1 FROM lot WHERE id = :id FOR KEY SHARE"), {"id": lot_id})
    assert not _lock_fails_fast(lot_id)


def test_stock_changes_still_queue_behind_each_other(other_connection, make_ingredient, make_lot):
    lot_id = _lot(make_ingredient, make_lot)
    other_connection.execute(text("SELECT 1 FROM lot WHERE id = :id FOR NO KEY UPDATE"),
                             {"id": lot_id})
    assert _lock_fails_fast(lot_id)

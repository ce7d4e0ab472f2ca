"""Concurrent adjustments of one lot from separate connections: the books stay right and
the lot never goes below zero, on a SQLite file and on PostgreSQL (FIELD-NOTES: SQLite
ignores FOR UPDATE; the write transaction's BEGIN IMMEDIATE is what serialises it)."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import func, select

from formulary.auth import services
from formulary.extensions import db
from formulary.inventory.ledger import check_books
from formulary.inventory.models import Lot, Movement


def test_concurrent_adjustments_never_oversell(shared_app):
    from tests.conftest import PASSWORD

    with shared_app.app_context():
        from formulary.inventory.models import Ingredient

        user = services.create_user(db.session, "test", username="conc", password=PASSWORD, role="pharmacist")
        token, _ = services.create_token(db.session, user, days=1)
        ing = Ingredient(name="Biotin", name_key="biotin", category="vitamin", unit="mL")
        lot = Lot(ingredient=ing, lot_number="C1", expiry_date=__import__("datetime").date(2099, 1, 1),
                  quantity_received=Decimal(10), quantity_on_hand=Decimal(10))
        db.session.add_all([ing, lot, Movement(lot=lot, kind="receipt", quantity_delta=Decimal(10),
                                               balance_after=Decimal(10))])
        db.session.commit()
        lot_id = lot.id
        db.session.remove()

    workers = 8
    barrier = threading.Barrier(workers)
    statuses: list[int] = []
    lock = threading.Lock()

    def adjust():
        client = shared_app.test_client()
        barrier.wait()
        r = client.post(f"/api/v1/lots/{lot_id}/adjustments",
                        json={"quantity_delta": "-2", "reason": "waste"},
                        headers={"Authorization": f"Bearer {token}"})
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=adjust) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert sorted(statuses) == [201] * 5 + [409] * 3
    with shared_app.app_context():
        assert db.session.get(Lot, lot_id).quantity_on_hand == 0
        count = db.session.execute(select(func.count()).select_from(Movement)
                                   .where(Movement.lot_id == lot_id)).scalar_one()
        assert count == 1 + 5
        assert check_books(db.session) == []
        balances = db.session.execute(select(Movement.balance_after).where(Movement.lot_id == lot_id)
                                      .order_by(Movement.id)).scalars().all()
        assert balances == [Decimal(v) for v in (10, 8, 6, 4, 2, 0)]
        db.session.remove()

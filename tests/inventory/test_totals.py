"""The stock on hand per ingredient (``inventory.totals``): equal to the sum of its lots
after every kind of change, through rollbacks and savepoints, and under concurrent
writers on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from formulary import clock
from formulary.auth import services as auth
from formulary.extensions import db
from formulary.inventory import lots as lot_services
from formulary.inventory import queries, totals
from formulary.inventory.ledger import check_books
from formulary.inventory.models import Ingredient, IngredientStock, Lot, Movement
from tests.conftest import PASSWORD


def recorded(ingredient_id: int) -> Decimal | None:
    db.session.expire_all()
    return db.session.execute(select(IngredientStock.on_hand)
                              .where(IngredientStock.ingredient_id == ingredient_id)).scalar()


def test_totals_follow_receipts_adjustments_status_and_batches(api, make_ingredient, make_cocktail):
    client = api("pharmacist")
    ing = make_ingredient("Biotin 5 mg/mL", unit="mL")
    assert recorded(ing.id) == 0  # its row is made with it: later changes lock it
    expiry = (date.today() + timedelta(days=200)).isoformat()
    r = client.post("/api/v1/lots", json={"ingredient_id": ing.id, "lot_number": "A",
                                          "expiry_date": expiry, "quantity": "10"})
    assert r.status_code == 201, r.get_json()
    lot_a = r.get_json()["id"]
    client.post("/api/v1/lots", json={"ingredient_id": ing.id, "lot_number": "B",
                                      "expiry_date": expiry, "quantity": "2.5"})
    assert recorded(ing.id) == Decimal("12.5")
    r = client.post(f"/api/v1/lots/{lot_a}/adjustments", json={"quantity_delta": "-1.25", "reason": "waste"})
    assert r.status_code == 201
    assert recorded(ing.id) == Decimal("11.25")
    # a quarantined lot is still on hand (not usable: that is the usable stock's business)
    r = client.post(f"/api/v1/lots/{lot_a}/status", json={"status": "quarantined", "reason": "check"})
    assert r.status_code == 200, r.get_json()
    assert recorded(ing.id) == Decimal("11.25")
    assert queries.usable_quantities(db.session, [ing.id], clock.now(), clock.clinic_tz()) == {ing.id: Decimal("2.5")}
    client.post(f"/api/v1/lots/{lot_a}/status", json={"status": "available", "reason": "ok"})
    cocktail = make_cocktail([(ing, "2", "mL")])
    r = client.post("/api/v1/batches", json={"cocktail_id": cocktail.id, "doses": 3})
    assert r.status_code == 201, r.get_json()
    assert recorded(ing.id) == Decimal("5.25")
    assert check_books(db.session) == []


def test_a_refused_request_changes_no_total(api, make_ingredient, make_lot):
    client = api("pharmacist")
    ing = make_ingredient()
    lot = make_lot(ing, "3")
    r = client.post(f"/api/v1/lots/{lot.id}/adjustments", json={"quantity_delta": "-5", "reason": "waste"})
    assert r.status_code == 409
    assert recorded(ing.id) == Decimal(3)
    assert check_books(db.session) == []


def test_a_rolled_back_savepoint_leaves_the_total_as_the_lots(session, make_user, make_ingredient):
    user = make_user("pharmacist")
    ing = make_ingredient()
    expiry = date.today() + timedelta(days=100)
    lot_services.receive_lot(session, user, ingredient=ing, lot_number="KEEP", expiry_date=expiry,
                             quantity=Decimal(4))
    with pytest.raises(RuntimeError):
        with session.begin_nested():
            lot_services.receive_lot(session, user, ingredient=ing, lot_number="GONE",
                                     expiry_date=expiry, quantity=Decimal(100))
            session.flush()
            raise RuntimeError("the row after it was refused")
    session.commit()
    assert recorded(ing.id) == Decimal(4)
    assert check_books(session) == []


def test_a_transaction_reads_its_own_changes_before_it_commits(session, make_user, make_ingredient, make_lot):
    user = make_user("pharmacist")
    ing = make_ingredient()
    lot = make_lot(ing, "10")
    lot_services.adjust_lot(session, user, lot, quantity_delta=Decimal(-4), reason="waste", note="spilt")
    now, tz = clock.now(), clock.clinic_tz()
    assert queries.on_hand_quantities(session, [ing.id]) == {ing.id: Decimal(6)}
    assert queries.usable_quantities(session, [ing.id], now, tz) == {ing.id: Decimal(6)}
    session.rollback()
    assert recorded(ing.id) == Decimal(10)


def test_rebuild_after_a_bulk_load_and_check_totals_reports_a_difference(session, make_ingredient, make_lot):
    ing = make_ingredient()
    make_lot(ing, "5")
    session.execute(IngredientStock.__table__.update().values(on_hand=Decimal(7)))
    session.commit()
    problems = totals.check_totals(session)
    assert [(p.ingredient_id, p.recorded, p.lots) for p in problems] == [(ing.id, Decimal(7), Decimal(5))]
    assert "total on hand 7" in str(problems[0]) and problems[0] in check_books(session)
    totals.rebuild(session)
    session.commit()
    assert totals.check_totals(session) == [] and recorded(ing.id) == Decimal(5)


def test_concurrent_changes_to_lots_of_one_ingredient_keep_its_total(shared_app):
    """Each thread adjusts a lot of its own, all of one ingredient, at once: no lot lock
    is shared, so only the lock on the ingredient's total keeps a recomputed total from
    missing a neighbour's change."""
    workers = 8
    with shared_app.app_context():
        user = auth.create_user(db.session, "test", username="tot", password=PASSWORD, role="pharmacist")
        token, _ = auth.create_token(db.session, user, days=1)
        ing = Ingredient(name="Saline", name_key="saline", category="diluent", unit="mL")
        db.session.add(ing)
        lot_ids = []
        for k in range(workers):
            lot = Lot(ingredient=ing, lot_number=f"S{k}", expiry_date=date(2099, 1, 1),
                      quantity_received=Decimal(10), quantity_on_hand=Decimal(10))
            db.session.add_all([lot, Movement(lot=lot, kind="receipt", quantity_delta=Decimal(10),
                                              balance_after=Decimal(10))])
            db.session.flush()
            lot_ids.append(lot.id)
        db.session.commit()
        ing_id = ing.id
        db.session.remove()

    barrier = threading.Barrier(workers)
    statuses: list[int] = []

    def adjust(lot_id):
        client = shared_app.test_client()
        barrier.wait()
        for _ in range(3):
            r = client.post(f"/api/v1/lots/{lot_id}/adjustments",
                            json={"quantity_delta": "-1", "reason": "waste"},
                            headers={"Authorization": f"Bearer {token}"})
            statuses.append(r.status_code)

    threads = [threading.Thread(target=adjust, args=(i,)) for i in lot_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [201] * workers * 3
    with shared_app.app_context():
        assert recorded(ing_id) == Decimal(workers * 10 - workers * 3)
        assert check_books(db.session) == []

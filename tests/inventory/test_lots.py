"""Receiving, scanning, adjusting and changing the status of lots: the services (SPEC §4)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.domain.errors import (Duplicate, InsufficientStock, InvalidState,
                                     ValidationError)
from formulary.extensions import db
from formulary.inventory import lots
from formulary.inventory.models import Lot, Movement
from tests.inventory.conftest import BIOTIN_GTIN, in_days, yymmdd


def receive(user, ing, number="B100", expiry=None, quantity="10", **kw):
    lot = lots.receive_lot(db.session, user, ingredient=ing, lot_number=number,
                           expiry_date=expiry or in_days(200), quantity=quantity, **kw)
    db.session.commit()
    return lot


def movements(lot):
    return db.session.execute(select(Movement).where(Movement.lot_id == lot.id)
                              .order_by(Movement.id)).scalars().all()


def test_a_receipt_creates_the_lot_with_its_receipt_movement(pharmacist, biotin, books):
    lot = receive(pharmacist, biotin, quantity="12.5", unit_cost="0.8", supplier="Mesopharm")
    assert (lot.quantity_received, lot.quantity_on_hand, lot.status) == (Decimal("12.5"),) * 2 + ("available",)
    [m] = movements(lot)
    assert (m.kind, m.quantity_delta, m.balance_after, m.user_id) == ("receipt", Decimal("12.5"), Decimal("12.5"), pharmacist.id)
    assert db.session.execute(select(AuditEntry).where(AuditEntry.action == "lot.receive")).scalar_one()
    books()


def test_the_same_lot_with_the_same_expiry_adds_to_it(pharmacist, biotin, books):
    expiry = in_days(300)
    first = receive(pharmacist, biotin, expiry=expiry, quantity="10")
    again = receive(pharmacist, biotin, expiry=expiry, quantity="5")
    assert again.id == first.id
    assert (again.quantity_received, again.quantity_on_hand) == (Decimal(15), Decimal(15))
    assert [m.balance_after for m in movements(again)] == [Decimal(10), Decimal(15)]
    books()


def test_the_same_lot_with_another_expiry_is_refused(pharmacist, biotin, snapshot):
    receive(pharmacist, biotin, expiry=in_days(300))
    before = snapshot()
    with pytest.raises(Duplicate) as err:
        lots.receive_lot(db.session, pharmacist, ingredient=biotin, lot_number="B100",
                         expiry_date=in_days(301), quantity="5")
    db.session.rollback()
    assert "expiry_date" in err.value.fields
    assert snapshot() == before


@pytest.mark.parametrize("expiry, ok", [
    (date.today() - timedelta(days=1), False),   # expired yesterday
    (date.today() - timedelta(days=400), False),
    (date.today() + timedelta(days=1), True),
])
def test_an_expired_lot_is_refused(pharmacist, biotin, expiry, ok):
    if ok:
        assert receive(pharmacist, biotin, expiry=expiry).id
        return
    with pytest.raises(ValidationError) as err:
        receive(pharmacist, biotin, expiry=expiry)
    assert "expiry_date" in err.value.fields
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Lot)).scalar_one() == 0


def test_a_recalled_lot_is_not_received_again(pharmacist, biotin, snapshot):
    lot = receive(pharmacist, biotin, expiry=in_days(300))
    lots.set_lot_status(db.session, pharmacist, lot, status="recalled", reason="supplier recall")
    db.session.commit()
    before = snapshot()
    with pytest.raises(InvalidState):
        receive(pharmacist, biotin, expiry=in_days(300))
    db.session.rollback()
    assert snapshot() == before


@pytest.mark.parametrize("quantity", ["0", "-1", "abc", "", None, "1.00001", 2.5, True, "1e13"])
def test_a_quantity_that_is_not_a_positive_exact_number_is_refused(pharmacist, biotin, quantity):
    with pytest.raises(ValidationError) as err:
        receive(pharmacist, biotin, quantity=quantity)
    assert "quantity" in err.value.fields
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Lot)).scalar_one() == 0


@pytest.mark.parametrize("cost, ok", [("0", True), ("1.2345", True), ("1.23456", False), ("-0.01", False)])
def test_unit_cost_is_zero_or_more_with_at_most_four_places(pharmacist, biotin, cost, ok):
    if ok:
        assert receive(pharmacist, biotin, unit_cost=cost).unit_cost == Decimal(cost)
    else:
        with pytest.raises(ValidationError) as err:
            receive(pharmacist, biotin, unit_cost=cost)
        assert "unit_cost" in err.value.fields


def test_an_inactive_ingredient_is_not_received(pharmacist, make_ingredient):
    ing = make_ingredient(active=False)
    with pytest.raises(ValidationError) as err:
        receive(pharmacist, ing)
    assert "ingredient_id" in err.value.fields


# --- scanning ---------------------------------------------------------------------------

def test_a_scan_fills_ingredient_lot_and_expiry(pharmacist, biotin, books):
    lot = lots.receive_scanned(db.session, pharmacist, quantity="4",
                               barcode=f"(01){BIOTIN_GTIN}(17){yymmdd(in_days(400))}(10)SC1")
    db.session.commit()
    assert (lot.ingredient_id, lot.lot_number, lot.expiry_date) == (biotin.id, "SC1", in_days(400))
    books()


def test_day_00_in_a_scanned_expiry_is_the_last_day_of_the_month(pharmacist, biotin):
    year = date.today().year + 2
    raw = f"01{BIOTIN_GTIN}17{year % 100:02d}020010RAW1\x1d21SERIAL9"
    lot = lots.receive_scanned(db.session, pharmacist, barcode=raw, quantity="1")
    last = 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28
    assert lot.expiry_date == date(year, 2, last)
    assert lot.lot_number == "RAW1"


@pytest.mark.parametrize("barcode, says", [
    ("(01)09506000134369(17)301231(10)X", "Unknown GTIN 09506000134369"),     # valid, unknown
    ("(01)09506000134353(17)301231(10)X", "Bad check digit"),                 # last digit off
    (f"(01){BIOTIN_GTIN}(17)200131(10)OLD", "expired"),                        # expired in 2020
    (f"(01){BIOTIN_GTIN}(10)NOEXP", "lacks a lot or an expiry"),
    ("hello", "Could not read"),
])
def test_a_scan_is_refused_with_what_was_read(pharmacist, biotin, barcode, says):
    with pytest.raises(ValidationError) as err:
        lots.receive_scanned(db.session, pharmacist, barcode=barcode, quantity="1")
    db.session.rollback()
    message = " ".join(err.value.fields["barcode"])
    assert says in message
    if "GTIN" in says or "expired" in says:
        assert "read" in message
    assert db.session.execute(select(func.count()).select_from(Lot)).scalar_one() == 0


def test_scanning_a_recalled_lot_is_refused(pharmacist, biotin):
    lot = receive(pharmacist, biotin, number="RC1", expiry=date(2031, 1, 31))
    lots.set_lot_status(db.session, pharmacist, lot, status="recalled", reason="recall")
    db.session.commit()
    with pytest.raises(InvalidState) as err:
        lots.receive_scanned(db.session, pharmacist, barcode=f"(01){BIOTIN_GTIN}(17)310131(10)RC1",
                             quantity="1")
    assert "RC1" in err.value.fields["barcode"][0] and "recalled" in err.value.message


# --- adjusting --------------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["waste", "breakage", "count_correction", "return", "other"])
def test_an_adjustment_is_a_movement_with_reason_and_note(pharmacist, biotin, books, reason):
    lot = receive(pharmacist, biotin)
    m = lots.adjust_lot(db.session, pharmacist, lot, quantity_delta="-2.5", reason=reason, note="n")
    db.session.commit()
    assert (m.kind, m.reason, m.quantity_delta, m.balance_after, m.note) == (
        "adjustment", reason, Decimal("-2.5"), Decimal("7.5"), "n")
    assert lot.quantity_on_hand == Decimal("7.5")
    books()


def test_other_needs_a_note(pharmacist, biotin):
    lot = receive(pharmacist, biotin)
    with pytest.raises(ValidationError) as err:
        lots.adjust_lot(db.session, pharmacist, lot, quantity_delta="1", reason="other", note="  ")
    assert "note" in err.value.fields


@pytest.mark.parametrize("delta, reason", [("0", "waste"), ("x", "waste"), ("1", "theft"), ("1", None)])
def test_an_adjustment_needs_a_non_zero_change_and_a_known_reason(pharmacist, biotin, delta, reason):
    lot = receive(pharmacist, biotin)
    with pytest.raises(ValidationError):
        lots.adjust_lot(db.session, pharmacist, lot, quantity_delta=delta, reason=reason)


def test_an_adjustment_below_zero_is_refused_and_writes_nothing(pharmacist, biotin, snapshot, books):
    lot = receive(pharmacist, biotin, quantity="3")
    before = snapshot()
    with pytest.raises(InsufficientStock) as err:
        lots.adjust_lot(db.session, pharmacist, lot, quantity_delta="-3.0001", reason="waste")
    db.session.rollback()
    assert err.value.code == "insufficient_stock"
    assert snapshot() == before
    lots.adjust_lot(db.session, pharmacist, lot, quantity_delta="-3", reason="waste")  # to zero: fine
    db.session.commit()
    assert lot.quantity_on_hand == 0
    books()


# --- status -----------------------------------------------------------------------------

def test_quarantine_and_release_with_a_reason(pharmacist, biotin):
    lot = receive(pharmacist, biotin)
    lots.set_lot_status(db.session, pharmacist, lot, status="quarantined", reason="fridge at 11 °C")
    assert (lot.status, lot.status_reason) == ("quarantined", "fridge at 11 °C")
    lots.set_lot_status(db.session, pharmacist, lot, status="available", reason="supplier: fine")
    db.session.commit()
    actions = db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert actions[-2:] == ["lot.quarantine", "lot.release"]


def test_a_status_change_needs_a_reason_and_a_known_status(pharmacist, biotin):
    lot = receive(pharmacist, biotin)
    with pytest.raises(ValidationError) as err:
        lots.set_lot_status(db.session, pharmacist, lot, status="quarantined", reason=" ")
    assert "reason" in err.value.fields
    with pytest.raises(ValidationError) as err:
        lots.set_lot_status(db.session, pharmacist, lot, status="lost", reason="r")
    assert "status" in err.value.fields


@pytest.mark.parametrize("to", ["available", "quarantined"])
def test_a_recall_is_final(pharmacist, biotin, to):
    lot = receive(pharmacist, biotin)
    lots.set_lot_status(db.session, pharmacist, lot, status="recalled", reason="recall 24-117")
    db.session.commit()
    with pytest.raises(InvalidState):
        lots.set_lot_status(db.session, pharmacist, lot, status=to, reason="mistake")
    db.session.rollback()
    assert db.session.get(Lot, lot.id).status == "recalled"

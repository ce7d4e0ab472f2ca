"""Inventory pages: forms through ``client.post_form`` (CSRF on), lists, statement counts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from formulary import clock
from formulary.extensions import db
from formulary.inventory import queries
from formulary.inventory.models import Ingredient, Lot, Movement
from formulary.domain.stock import usable_by_ingredient
from tests.inventory.conftest import BIOTIN_GTIN, in_days, yymmdd


def test_create_and_edit_an_ingredient(client, login_as, make_group):
    login_as("pharmacist")
    make_group("amide local anesthetic")
    r = client.post_form("/ingredients/new", {
        "name": "Lidocaine 2% preservative-free", "category": "anesthetic", "unit": "mL",
        "strength": "20", "strength_unit": "mg", "allergen_groups": ["amide local anesthetic"],
        "contraindications": [], "reorder_level": "20", "max_dose_per_session": "100",
        "max_dose_unit": "mg", "gtins": "09506000134352", "storage": "room", "active": "y"})
    assert r.status_code == 302
    ing = db.session.execute(select(Ingredient)).scalar_one()
    assert (ing.strength_amount, ing.max_dose_amount, [g.name for g in ing.allergen_groups]) == (
        Decimal(20), Decimal(100), ["amide local anesthetic"])
    r = client.post_form(f"/ingredients/{ing.id}/edit", {
        "name": ing.name, "category": "anesthetic", "unit": "mg", "strength": "20",
        "strength_unit": "mg", "storage": "room", "active": "y"})
    assert r.status_code == 422
    assert "Only an ingredient stocked in mL" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Ingredient, ing.id).unit == "mL"


def test_receive_by_form_then_adjust_and_status(client, login_as, biotin):
    login_as("pharmacist")
    r = client.post_form("/receive", {"ingredient_id": str(biotin.id), "lot_number": "F1",
                                      "expiry_date": in_days(90).isoformat(), "quantity": "10"})
    assert r.status_code == 302
    lot = db.session.execute(select(Lot)).scalar_one()
    r = client.post_form(f"/lots/{lot.id}/adjust", {"adjust-quantity_delta": "-11", "adjust-reason": "waste"},
                         form_url=f"/lots/{lot.id}")
    assert r.status_code == 409 and "below zero" in r.get_data(as_text=True)
    r = client.post_form(f"/lots/{lot.id}/adjust", {"adjust-quantity_delta": "-1", "adjust-reason": "breakage",
                                                    "adjust-note": "dropped"}, form_url=f"/lots/{lot.id}")
    assert r.status_code == 302
    r = client.post_form(f"/lots/{lot.id}/status", {"status-status": "quarantined", "status-reason": ""},
                         form_url=f"/lots/{lot.id}")
    assert r.status_code == 422
    r = client.post_form(f"/lots/{lot.id}/status", {"status-status": "quarantined", "status-reason": "check"},
                         form_url=f"/lots/{lot.id}")
    assert r.status_code == 302
    db.session.expire_all()
    lot = db.session.get(Lot, lot.id)
    assert (lot.quantity_on_hand, lot.status) == (Decimal(9), "quarantined")
    page = client.get(f"/lots/{lot.id}").get_data(as_text=True)
    assert "breakage" in page and "dropped" in page


def test_the_scan_field_fills_the_form_and_asks_for_the_quantity(client, login_as, biotin):
    login_as("pharmacist")
    barcode = f"(01){BIOTIN_GTIN}(17){yymmdd(in_days(120))}(10)SCAN7"
    page = client.get("/receive", query_string={"barcode": barcode}).get_data(as_text=True)
    assert "SCAN7" in page and in_days(120).isoformat() in page and "Biotin 5 mg/mL" in page
    r = client.post_form("/receive", {"barcode": barcode, "ingredient_id": str(biotin.id),
                                      "quantity": "6"}, form_url="/receive")
    assert r.status_code == 302
    lot = db.session.execute(select(Lot)).scalar_one()
    assert (lot.lot_number, lot.expiry_date, lot.quantity_on_hand) == ("SCAN7", in_days(120), Decimal(6))
    bad = client.get("/receive", query_string={"barcode": "(01)09506000134353(17)301231(10)X"})
    assert bad.status_code == 422 and "Bad check digit" in bad.get_data(as_text=True)


def test_lists_filter_and_search(client, login_as, biotin, make_ingredient, make_lot):
    login_as("practitioner")
    saline = make_ingredient("Sodium chloride 0.9%", category="diluent")
    make_lot(biotin, "3", lot_number="SOON", expiry=in_days(20))
    make_lot(saline, "30", lot_number="LATER", expiry=in_days(400))
    make_lot(saline, "5", lot_number="GONE", expiry=date.today() - timedelta(days=2))
    page = client.get("/lots?expiring_within_days=30").get_data(as_text=True)
    assert "SOON" in page and "LATER" not in page and "GONE" not in page
    page = client.get("/lots?status=expired").get_data(as_text=True)
    assert "GONE" in page and "SOON" not in page
    page = client.get("/ingredients?low_stock=1").get_data(as_text=True)
    assert "Biotin" in page and "Sodium chloride" not in page
    page = client.get("/ingredients?category=diluent").get_data(as_text=True)
    assert "Sodium chloride" in page and "Biotin" not in page
    dash = client.get("/dashboard").get_data(as_text=True)
    assert 'data-low="Biotin 5 mg/mL"' in dash and 'data-expiring="SOON"' in dash


def test_allergen_groups_page(client, login_as, make_group):
    login_as("admin")
    make_group("ester local anesthetic")
    r = client.post_form("/allergen-groups", {"name": "PABA", "cross_reacts_with": ["ester local anesthetic"]})
    assert r.status_code == 302
    page = client.get("/allergen-groups").get_data(as_text=True)
    assert page.count("PABA") >= 2  # its row, and the partner column of the ester group


def test_sql_usable_stock_agrees_with_the_domain(app, make_ingredient, make_lot):
    """The SQL shortcut of usable_quantities decides exactly as domain.stock does."""
    now, tz = clock.now(), clock.clinic_tz()
    ings = [make_ingredient(multi_dose=m, in_use_days=d) for m, d in ((False, None), (True, None), (True, 3))]
    today = queries.today_in(now, tz)
    for ing in ings:
        for expiry in (today - timedelta(days=1), today, today + timedelta(days=1)):
            for status in ("available", "quarantined"):
                for opened in (None, now - timedelta(days=2), now - timedelta(days=40)):
                    make_lot(ing, "1.5", expiry=expiry, status=status, opened_at=opened)
        make_lot(ing, "2", on_hand="0")
    lots = db.session.execute(select(Lot)).scalars().all()
    expected = usable_by_ingredient([queries.to_lot_stock(lot) for lot in lots], now, tz)
    assert queries.usable_quantities(db.session, [i.id for i in ings], now, tz) == expected
    assert queries.usable_quantities(db.session, None, now, tz) == {
        i: q for i, q in expected.items() if q > 0}


def test_unusable_stock_is_summed_exactly(app, make_ingredient, make_lot):
    """The database sums the quarantined, recalled and expired stock: to the millionth,
    on SQLite too (whose reals would make 0.1 + 0.2 a little more than 0.3); the opened
    vials past their in-use period are added by the domain's decision."""
    now, tz = clock.now(), clock.clinic_tz()
    today = queries.today_in(now, tz)
    ing = make_ingredient(multi_dose=True, in_use_days=3)
    other = make_ingredient()
    for quantity in ("0.1", "0.2", "0.000001", "123456789.999999"):
        make_lot(ing, quantity, status="quarantined")
    make_lot(ing, "0.7", status="recalled")
    make_lot(ing, "0.3", expiry=today - timedelta(days=1))
    make_lot(ing, "0.05", opened_at=now - timedelta(days=4))  # past its in-use period
    make_lot(ing, "9", opened_at=now - timedelta(days=1))     # within it: usable
    make_lot(ing, "4", status="quarantined", on_hand="0")     # nothing on hand
    make_lot(other, "0.4", expiry=today - timedelta(days=3))
    make_lot(other, "2")
    expected = {ing.id: Decimal("123456791.35"), other.id: Decimal("0.4")}
    assert queries.unusable_on_hand(db.session, None, now, tz) == expected
    assert queries.unusable_on_hand(db.session, [ing.id, other.id], now, tz) == expected
    assert queries.unusable_on_hand(db.session, [other.id], now, tz) == {other.id: Decimal("0.4")}
    vials = queries.opened_vials(db.session, today)
    assert sorted(lot.on_hand for lot, _cost in vials) == [Decimal("0.05"), Decimal(9)]
    assert queries.unusable_on_hand(db.session, None, now, tz, vials=vials) == expected
    with pytest.raises(ValueError):  # the vials are every ingredient's
        queries.unusable_on_hand(db.session, [ing.id], now, tz, vials=vials)


def test_with_stock_is_counted_when_no_ingredient_may_be_low(app, make_ingredient, make_lot):
    """The number of ingredients with stock rides on the candidates' rows; with no
    candidate (no level above the stock, every lot usable) it is read alone."""
    now, tz = clock.now(), clock.clinic_tz()
    for _ in range(3):
        make_lot(make_ingredient(reorder_level=None), "2")
    make_lot(make_ingredient(reorder_level=Decimal("1")), "5")
    make_ingredient(reorder_level=None)  # no lot at all
    assert queries.stock_levels_named(db.session, now, tz) == ({}, 4, {})
    low_one = make_ingredient(reorder_level=Decimal("10"))
    make_lot(low_one, "1")
    assert queries.stock_levels_named(db.session, now, tz) == (
        {low_one.id: (Decimal("1"), Decimal("10"))}, 5,
        {low_one.id: (low_one.id, low_one.name, low_one.unit)})


@pytest.mark.parametrize("level", ["0.5", "1.5", "3", "4.5", "100"])
def test_low_stock_and_with_stock_agree_with_the_domain(app, make_ingredient, make_lot, level):
    """``queries.stock_levels`` reads only the candidates (total below the level, or some
    stock not plainly usable); it must find exactly what the domain finds over every lot."""
    now, tz = clock.now(), clock.clinic_tz()
    today = queries.today_in(now, tz)
    kinds = [dict(), dict(status="quarantined"), dict(expiry=today - timedelta(days=1)),
             dict(opened_at=now - timedelta(days=40)), dict(opened_at=now - timedelta(days=1))]
    ings = []
    for k, first in enumerate(kinds):
        for second in kinds[k:]:
            ing = make_ingredient(multi_dose=True, reorder_level=Decimal(level))
            make_lot(ing, "1.5", **first)
            make_lot(ing, "3", **second)
            ings.append(ing)
    ings.append(make_ingredient(reorder_level=Decimal(level)))  # no lot at all
    ings.append(make_ingredient(reorder_level=None))
    make_lot(ings[-1], "1")
    make_lot(make_ingredient(reorder_level=Decimal(level), active=False), "0.25")
    lots = db.session.execute(select(Lot)).scalars().all()
    usable = usable_by_ingredient([queries.to_lot_stock(lot) for lot in lots], now, tz)
    every = db.session.execute(select(Ingredient)).scalars().all()
    expected_low = {i.id: (usable.get(i.id, Decimal(0)), i.reorder_level) for i in every
                    if i.active and i.reorder_level is not None
                    and usable.get(i.id, Decimal(0)) < i.reorder_level}
    low, with_stock = queries.stock_levels(db.session, now, tz)
    assert low == expected_low
    assert with_stock == sum(1 for q in usable.values() if q > 0)
    # the dashboard's: the same, with each low ingredient's name and unit read with them
    named = queries.stock_levels_named(db.session, now, tz)
    assert named == (low, with_stock, {i.id: (i.id, i.name, i.unit) for i in every
                                       if i.id in expected_low})
    # the dashboard's way: the opened vials read once and handed over
    vials = queries.opened_vials(db.session, today)
    assert queries.stock_levels(db.session, now, tz, vials=vials) == (low, with_stock)
    assert queries.low_stock_ids(db.session, now, tz) == {i: u for i, (u, _) in expected_low.items()}


def _fill(make_ingredient, make_lot, n):
    for k in range(n):
        ing = make_ingredient(reorder_level=5, category="vitamin" if k % 2 else "drug")
        make_lot(ing, "2", expiry=in_days(30 + k))
        make_lot(ing, "7", expiry=in_days(300 + k))


@pytest.mark.parametrize("url", ["/dashboard", "/ingredients", "/lots", "/ingredients?low_stock=1",
                                 "/lots?expiring_within_days=90"])
def test_statements_per_page_do_not_grow_with_the_data(client, login_as, make_ingredient, make_lot,
                                                       count_queries, url):
    login_as("pharmacist")
    counts = []
    for n in (3, 30):
        _fill(make_ingredient, make_lot, n)
        db.session.remove()
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts

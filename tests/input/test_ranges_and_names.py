"""Quantities in range, dates of this world, one date-range rule, and names equal after
normalisation (SPEC §3 "Range", "Text, everywhere"; §9), on both databases."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from formulary.extensions import db
from formulary.inventory.ledger import check_books
from formulary.inventory.models import Ingredient, Lot
from formulary.reports import delivery
from tests.input.conftest import in_days

TOO_LARGE = "at most 9 digits before the decimal point (999999999.9999)"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def _receive(client, ing, quantity, **kw):
    body = {"ingredient_id": ing.id, "lot_number": "BIG-1",
            "expiry_date": in_days(300).isoformat(), "quantity": quantity, **kw}
    return client.post("lots", json=body)


# --- quantities: at most 9 digits before the point -------------------------------------

def test_the_largest_quantity_is_stored_exactly_and_the_books_balance(clinic):
    admin = clinic["admin"]
    r = _receive(admin, clinic["biotin"], "999999999.9999")
    assert r.status_code == 201, r.get_json()
    lot_id = r.get_json()["id"]
    r = admin.post(f"lots/{lot_id}/adjustments", json={"quantity_delta": "-0.0001", "reason": "waste"})
    assert r.status_code == 201 and r.get_json()["balance_after"] == "999999999.9998"
    db.session.expire_all()
    assert db.session.get(Lot, lot_id).quantity_on_hand == Decimal("999999999.9998")
    assert admin.get(f"lots/{lot_id}").get_json()["quantity_on_hand"] == "999999999.9998"
    assert check_books(db.session) == []


@pytest.mark.parametrize("route, body, field", [
    ("lots", lambda c: {"ingredient_id": c["biotin"].id, "lot_number": "BIG-1",
                        "expiry_date": in_days(300).isoformat(), "quantity": "9876543219.9876"},
     "quantity"),
    ("lots", lambda c: {"ingredient_id": c["biotin"].id, "lot_number": "BIG-1",
                        "expiry_date": in_days(300).isoformat(), "quantity": "1",
                        "unit_cost": "1000000000"}, "unit_cost"),
    ("lots/scan", lambda c: {"barcode": f"(01)09506000134352(17){in_days(300):%y%m%d}(10)S9",
                             "quantity": 1000000000}, "quantity"),
    ("adjust", lambda c: {"quantity_delta": "-1000000000", "reason": "waste"}, "quantity_delta"),
    ("ingredients", lambda c: {"name": "Caffeine", "category": "vitamin", "unit": "mg",
                               "reorder_level": "1e9"}, "reorder_level"),
    ("ingredients", lambda c: {"name": "Caffeine", "category": "vitamin", "unit": "mg",
                               "max_dose_per_session": {"amount": "1234567890", "unit": "mg"}},
     "max_dose_per_session"),
    ("cocktails", lambda c: {"name": "Face glow", "area": "face", "storage": "fridge",
                             "components": [{"ingredient_id": c["biotin"].id,
                                             "amount": "1000000000", "unit": "mL"}]},
     "components.0.amount"),
])
def test_a_quantity_of_ten_digits_is_422_and_writes_nothing(clinic, rows, route, body, field):
    url = f"lots/{clinic['lot'].id}/adjustments" if route == "adjust" else route
    before = rows()
    r = clinic["admin"].post(url, json=body(clinic))
    assert r.status_code == 422, r.get_json()
    assert any(TOO_LARGE in m for m in r.get_json()["error"]["fields"][field])
    assert rows() == before


def test_receiving_a_lot_again_keeps_its_balance_in_range(clinic, rows):
    admin = clinic["admin"]
    assert _receive(admin, clinic["biotin"], "999999999").status_code == 201
    before = rows()
    r = _receive(admin, clinic["biotin"], "1")  # same lot number and expiry: added to it
    assert r.status_code == 422 and "a lot holds at most 999999999.9999" in r.get_json()["error"]["message"]
    assert rows() == before


def test_a_delivery_row_of_ten_digits_is_refused():
    from openpyxl import Workbook
    import io

    wb = Workbook()
    wb.active.append(["ingredient", "lot", "expiry", "quantity"])
    wb.active.append(["Biotin 5 mg/mL", "L1", date(2027, 1, 31), 1234567890])
    wb.active.append(["Biotin 5 mg/mL", "L2", date(9999, 12, 31), 1])
    wb.active.append(["Biotin 5 mg/mL", "L\u200b3", date(2027, 1, 31), "\u200b"])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    with pytest.raises(delivery.DeliveryFileError) as info:
        delivery.read_delivery(out)
    reasons = dict(info.value.problems)
    assert TOO_LARGE in reasons[2] and "out of range" in reasons[3]
    assert "Quantity" in reasons[4]  # the zero-width space alone is an empty quantity


# --- dates: 1900-01-01 to 2999-12-31, never an overflow --------------------------------

def test_an_absurd_expiry_on_the_receive_form_keeps_what_was_typed(client, login_as, clinic, rows):
    login_as("pharmacist")
    html = client.get("/receive").get_data(as_text=True)
    token = _CSRF.search(html)
    before = rows()
    r = client.post("/receive", data={
        "csrf_token": token.group(1) or token.group(2), "ingredient_id": str(clinic["biotin"].id),
        "lot_number": "TYPED-LOT-77", "expiry_date": "9999-12-31", "quantity": "12",
        "supplier": "Typed Supplier"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "out of range" in html
    assert "TYPED-LOT-77" in html and "Typed Supplier" in html and "9999-12-31" in html
    assert rows() == before


@pytest.mark.parametrize("method, url, body", [
    ("post", "lots", lambda c: {"ingredient_id": c["biotin"].id, "lot_number": "X",
                                "expiry_date": "9999-12-31", "quantity": "1"}),
    ("post", "patients", lambda c: {"mrn": "MRN-9", "first_name": "A", "last_name": "B",
                                    "date_of_birth": "9999-12-31"}),
    ("get", "batches?to=9999-12-31", None),
    ("get", "batches?from=0001-01-01", None),
    ("get", "reports/batch-log.xlsx?from=2026-01-01&to=9999-12-31", None),
])
def test_an_absurd_date_is_422_in_the_api(clinic, rows, method, url, body):
    before = rows()
    client = clinic["admin"]
    r = client.post(url, json=body(clinic)) if method == "post" else client.get(url)
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    error = r.get_json()["error"]
    assert any("out of range" in m for ms in error["fields"].values() for m in ms), error
    assert rows() == before


@pytest.mark.parametrize("url", [
    "/batches?date_to=9999-12-31",
    "/batches?date_from=0001-01-01",
    "/audit/?to=9999-12-31",
    "/reports/batch-log.xlsx?from=2026-01-01&to=9999-12-31",
    "/reports/stock.xlsx?from=2026-01-01&to=9999-12-31",
])
def test_an_absurd_date_on_a_page_is_an_error_not_a_500(client, login_as, url):
    login_as("admin")
    r = client.get(url)
    assert r.status_code == 422 and "out of range" in r.get_data(as_text=True)


# --- one range rule: "from" after "to" is refused everywhere ---------------------------

def test_a_range_that_ends_before_it_starts_is_refused_alike(client, login_as, clinic):
    start, end = date.today(), date.today() - timedelta(days=5)
    message = f"The range starts ({start}) after it ends ({end})."
    r = clinic["admin"].get(f"batches?from={start}&to={end}")
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"to": [message]}
    r = clinic["admin"].get(f"reports/batch-log.xlsx?from={start}&to={end}")
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"to": [message]}
    login_as("admin")
    for url in (f"/batches?date_from={start}&date_to={end}", f"/audit/?from={start}&to={end}",
                f"/reports/batch-log.xlsx?from={start}&to={end}"):
        r = client.get(url)
        assert r.status_code == 422 and message.replace("(", "") .split()[0] in r.get_data(as_text=True)
        assert "after it ends" in r.get_data(as_text=True), url
    # the same dates the right way round answer the batch made today
    r = clinic["admin"].get(f"batches?from={end}&to={start}")
    assert r.status_code == 200 and r.get_json()["total"] == 1


# --- names equal after normalisation are duplicates ------------------------------------

@pytest.mark.parametrize("first, second", [
    ("Caf\u00e9ine", "Cafe\u0301ine"),          # composed, then decomposed
    ("Cafe\u0301ine", "CAF\u00c9INE"),
    ("Lidocaine", "Lido\u200bcaine"),           # a zero-width space inside
    ("Lidocaine", "\uff2c\uff49\uff44\uff4f\uff43\uff41\uff49\uff4e\uff45"),  # fullwidth
])
def test_a_look_alike_ingredient_name_is_a_duplicate(clinic, rows, first, second):
    admin = clinic["admin"]
    r = admin.post("ingredients", json={"name": first, "category": "drug", "unit": "mg"})
    assert r.status_code == 201
    assert r.get_json()["name"] == first.replace("e\u0301", "\u00e9")  # stored in NFC
    before = rows()
    r = admin.post("ingredients", json={"name": second, "category": "drug", "unit": "mg"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "duplicate"
    assert rows() == before


def test_look_alike_group_and_cocktail_names_are_duplicates(clinic):
    admin = clinic["admin"]
    r = admin.post("allergen-groups", json={"name": "Para\u200bbens"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "duplicate"
    r = admin.post("cocktails", json={"name": "SCALP\u2060 BIOTIN", "area": "scalp",
                                      "storage": "fridge", "components": [
                                          {"ingredient_id": clinic["biotin"].id, "amount": "1",
                                           "unit": "mL"}]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "duplicate"


def test_a_free_text_allergy_typed_with_invisible_characters_finds_its_ingredient(
        clinic, make_ingredient, make_lot, make_cocktail):
    admin = clinic["admin"]
    r = admin.post("ingredients", json={"name": "Cafe\u0301ine", "category": "drug", "unit": "mg"})
    caffeine_id = r.get_json()["id"]
    caffeine = db.session.get(Ingredient, caffeine_id)
    cocktail = make_cocktail([(caffeine, "1", "mg")], name="Body firm")
    patient = admin.post("patients", json={"mrn": "MRN-CAF", "first_name": "Eva",
                                           "last_name": "Roy"}).get_json()
    r = admin.post(f"patients/{patient['id']}/allergies",
                   json={"substance": "caf\u00e9\u200bine", "severity": "severe"})
    assert r.status_code == 201, r.get_json()
    # the text names the ingredient once cleaned: the allergy is coded to it
    assert r.get_json()["ingredient_id"] == caffeine_id, r.get_json()
    screen = admin.get(f"patients/{patient['id']}/safety?cocktail_id={cocktail.id}").get_json()
    assert screen["verdict"] == "blocked"
    assert [(f["level"], f["ingredient_id"]) for f in screen["findings"]] == [("block", caffeine_id)]


def test_the_stored_key_is_the_shared_one(clinic):
    clinic["admin"].post("ingredients", json={"name": "  Cafe\u0301ine  Citrate ",
                                              "category": "drug", "unit": "mg"})
    ing = db.session.execute(select(Ingredient).where(Ingredient.name.like("Caf%"))).scalar_one()
    assert (ing.name, ing.name_key) == ("Caf\u00e9ine Citrate", "caf\u00e9ine citrate")

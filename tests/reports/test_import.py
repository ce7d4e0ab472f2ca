"""The delivery import (SPEC §8): a good sheet receives every lot in one transaction; one
bad row refuses the whole file, with every bad row's number and reason; nothing is
received then. Through the API, the page and the service."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.extensions import db
from formulary.inventory.models import Lot, Movement
from tests.reports.conftest import read_workbook

GTIN = "04006381333931"   # a real EAN-13 with its check digit, as GTIN-14
NEXT_YEAR = date.today() + timedelta(days=365)


def sheet(*rows, header=("Ingredient", "GTIN", "Lot", "Expiry", "Quantity", "Unit cost", "Supplier")):
    wb = Workbook()
    ws = wb.active
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture
def products(make_ingredient):
    return {"biotin": make_ingredient("Biotin 5 mg/mL", unit="mL"),
            "lido": make_ingredient("Lidocaine 2%", unit="mL", gtins=[GTIN])}


def lot_count():
    return db.session.execute(select(func.count(Lot.id))).scalar_one()


def post_file(client, data: bytes, name="delivery.xlsx"):
    return client.post("imports/delivery", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_a_good_sheet_receives_every_lot(api, products):
    data = sheet(("  biotin 5 MG/ml ", None, "B-1", NEXT_YEAR, 10, 4.5, "Pharma Ltd"),
                 (None, GTIN, "+L-2", NEXT_YEAR.isoformat(), "2.5", None, None))
    response = post_file(api("pharmacist"), data)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["total"] == 2
    assert [(i["lot_number"], i["quantity_on_hand"], i["unit_cost"]) for i in body["items"]] == [
        ("B-1", "10", "4.5"), ("+L-2", "2.5", None)]
    db.session.expire_all()
    lots = db.session.execute(select(Lot).order_by(Lot.id)).scalars().all()
    assert [(lot.ingredient_id, lot.quantity_on_hand, lot.supplier) for lot in lots] == [
        (products["biotin"].id, Decimal("10"), "Pharma Ltd"), (products["lido"].id, Decimal("2.5"), "")]
    assert db.session.execute(select(func.count(Movement.id)).where(Movement.kind == "receipt")).scalar_one() == 2
    actions = db.session.execute(select(AuditEntry.action)).scalars().all()
    assert actions.count("lot.receive") == 2 and "delivery.import" in actions


def test_one_bad_row_refuses_the_whole_file_and_lists_every_bad_row(api, products):
    data = sheet(("Biotin 5 mg/mL", None, "B-1", NEXT_YEAR, 10, 4.5, None),        # row 2: good
                 ("Vitamin Z", None, "Z-1", NEXT_YEAR, 1, None, None),              # row 3: unknown
                 ("Lidocaine 2%", None, "L-1", date(2020, 1, 1), 1, None, None),    # row 4: expired
                 ("Biotin 5 mg/mL", GTIN, "B-2", NEXT_YEAR, 1, None, None),         # row 5: GTIN of another
                 (None, "04006381333932", "L-3", NEXT_YEAR, 1, None, None),         # row 6: bad check digit
                 ("Lidocaine 2%", None, "L-4", NEXT_YEAR, -1, None, None))          # row 7: negative
    response = post_file(api("pharmacist"), data)
    assert response.status_code == 422
    error = response.get_json()["error"]
    rows = [p["row"] for p in error["problems"]]
    assert rows == [3, 4, 5, 6, 7]
    by_row = {p["row"]: p["reason"] for p in error["problems"]}
    assert "No ingredient is named 'Vitamin Z'" in by_row[3]
    assert "expired" in by_row[4]
    assert "is Lidocaine 2%, not Biotin 5 mg/mL" in by_row[5]
    assert error["fields"]["rows"][0].startswith("Row 3: ")
    assert lot_count() == 0                                  # not even row 2
    assert db.session.execute(select(func.count(AuditEntry.id)).where(
        AuditEntry.action.in_(("lot.receive", "delivery.import")))).scalar_one() == 0


def test_same_lot_twice_with_another_expiry_is_a_bad_row(api, products):
    data = sheet(("Biotin 5 mg/mL", None, "B-1", NEXT_YEAR, 1, None, None),
                 ("Biotin 5 mg/mL", None, "B-1", NEXT_YEAR + timedelta(days=1), 1, None, None))
    response = post_file(api("pharmacist"), data)
    assert response.status_code == 422
    assert [p["row"] for p in response.get_json()["error"]["problems"]] == [3]
    assert lot_count() == 0


@pytest.mark.parametrize("data, message", [
    (b"not a workbook at all", "not an Excel workbook"),
    (sheet(), "no rows"),
    (sheet(("Biotin 5 mg/mL", None, "B-1", NEXT_YEAR, 1, None, None, "x"),
           header=("Ingredient", "GTIN", "Lot", "Expiry", "Quantity", "Unit cost", "Supplier", "Colour")),
     "Unknown column 'Colour'"),
    (sheet(("Biotin 5 mg/mL", "B-1", 1), header=("Ingredient", "Lot", "Quantity")),
     "Missing column: expiry"),
])
def test_bad_files_are_refused_with_a_clear_422(api, products, data, message):
    response = post_file(api("pharmacist"), data)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert any(message in m for m in error["fields"]["file"]), error
    assert lot_count() == 0


def test_api_malformed_and_roles(api, client, products):
    pharmacist = api("pharmacist")
    assert pharmacist.post("imports/delivery", json={}).status_code == 400      # not multipart
    missing = pharmacist.post("imports/delivery", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "file" in missing.get_json()["error"]["fields"]
    assert post_file(api("manager"), sheet()).status_code == 403
    assert client.post("/api/v1/imports/delivery").status_code == 401
    assert lot_count() == 0


def test_template_round_trips(api, products):
    response = api("pharmacist").get("imports/delivery/template.xlsx")
    assert response.status_code == 200
    rows = read_workbook(response.get_data())["Delivery"]
    assert [h.lower().replace(" ", "_") for h in rows[0]] == [
        "ingredient", "gtin", "lot", "expiry", "quantity", "unit_cost", "supplier"]


# --- the page -------------------------------------------------------------------------

def test_page_import_success_and_refusal(client, login_as, products):
    login_as("pharmacist")
    good = sheet(("Biotin 5 mg/mL", None, "B-1", NEXT_YEAR, 10, 4.5, None))
    response = client.post_form("/reports/delivery", {"file": (io.BytesIO(good), "d.xlsx")},
                                form_url="/reports/", follow_redirects=True)
    assert response.status_code == 200
    assert "1 lot(s) received" in response.get_data(as_text=True)
    assert lot_count() == 1
    bad = sheet(("Biotin 5 mg/mL", None, "B-2", NEXT_YEAR, 10, None, None),
                ("Nope", None, "N-1", NEXT_YEAR, 1, None, None),
                ("Biotin 5 mg/mL", None, "B-3", "2026-02-30", 1, None, None))
    response = client.post_form("/reports/delivery", {"file": (io.BytesIO(bad), "d.xlsx")},
                                form_url="/reports/")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-row="3"' in html and 'data-row="4"' in html and 'data-row="2"' not in html
    assert "No ingredient is named" in html and "not a real date" in html
    assert lot_count() == 1


def test_page_import_without_a_file_or_token(client, login_as, products):
    login_as("pharmacist")
    assert client.post_form("/reports/delivery", {}, form_url="/reports/").status_code == 422
    assert client.post("/reports/delivery", data={}).status_code == 400      # no CSRF token
    template = client.get("/reports/delivery-template.xlsx")
    assert template.status_code == 200 and "delivery-template.xlsx" in template.headers["Content-Disposition"]

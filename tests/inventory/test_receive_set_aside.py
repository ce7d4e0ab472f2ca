"""SPEC §4: receiving more of a lot that is quarantined or recalled is refused, by scan
(API and page) or by lot number (API and page): 409 naming the lot's status, nothing
written. A quarantined lot once scanned again got the stock added (201)."""

from __future__ import annotations

import pytest

from formulary.domain.errors import InvalidState
from formulary.extensions import db
from formulary.inventory import lots
from tests.inventory.conftest import BIOTIN_GTIN, in_days, yymmdd

EXPIRY = in_days(150)
BARCODE = f"(01){BIOTIN_GTIN}(17){yymmdd(EXPIRY)}(10)Q1"
STATUSES = ["quarantined", "recalled"]


@pytest.fixture
def set_aside(biotin, make_lot):
    def make(status):
        return make_lot(biotin, "10", lot_number="Q1", expiry=EXPIRY, status=status)
    return make


@pytest.mark.parametrize("status", STATUSES)
def test_service_refuses_by_lot_number_and_by_scan(pharmacist, biotin, set_aside, snapshot, status):
    set_aside(status)
    before = snapshot()
    with pytest.raises(InvalidState) as info:
        lots.receive_lot(db.session, pharmacist, ingredient=biotin, lot_number="Q1",
                         expiry_date=EXPIRY.isoformat(), quantity="5")
    db.session.rollback()
    assert info.value.message == (f"Lot Q1 of Biotin 5 mg/mL is {status}: more of it "
                                  "cannot be received.")
    assert info.value.fields == {"lot_number": [info.value.message]}
    with pytest.raises(InvalidState) as info:
        lots.receive_scanned(db.session, pharmacist, barcode=BARCODE, quantity="5")
    db.session.rollback()
    assert status in info.value.message and "(read GTIN" in info.value.message
    assert list(info.value.fields) == ["barcode"]
    assert snapshot() == before


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("route, body", [
    ("lots/scan", {"barcode": BARCODE, "quantity": "5"}),
    ("lots", {"lot_number": "Q1", "expiry_date": EXPIRY.isoformat(), "quantity": "5"}),
])
def test_api_answers_409_naming_the_status(api, biotin, set_aside, snapshot, status, route, body):
    set_aside(status)
    client = api("pharmacist")
    before = snapshot()
    if route == "lots":
        body = {**body, "ingredient_id": biotin.id}
    r = client.post(route, json=body)
    assert r.status_code == 409, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "invalid_state" and status in error["message"]
    assert snapshot() == before


@pytest.mark.parametrize("status", STATUSES)
def test_receive_page_refuses_scan_and_form(client, login_as, biotin, set_aside, snapshot, status):
    login_as("pharmacist")
    set_aside(status)
    before = snapshot()
    r = client.post_form("/receive", {"barcode": BARCODE, "ingredient_id": str(biotin.id),
                                      "quantity": "5"}, form_url="/receive")
    assert r.status_code == 409 and f"is {status}" in r.get_data(as_text=True)
    r = client.post_form("/receive", {"ingredient_id": str(biotin.id), "lot_number": "Q1",
                                      "expiry_date": EXPIRY.isoformat(), "quantity": "5"},
                         form_url="/receive")
    assert r.status_code == 409 and f"is {status}" in r.get_data(as_text=True)
    assert snapshot() == before


def test_an_available_lot_still_takes_more(api, biotin, set_aside):
    set_aside("available")
    r = api("pharmacist").post("lots/scan", json={"barcode": BARCODE, "quantity": "5"})
    assert r.status_code == 201 and r.get_json()["quantity_on_hand"] == "15"

"""A lot's expiry at most ten years ahead (no vial keeps longer: 2999-12-31 or 2062 for
2026 is a typing error): the rule's truth table, then receiving on the API and on the page
(a GS1 scan and a delivery sheet receive through the same service), refused on the expiry
field with nothing written."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from formulary.domain.stock import MAX_SHELF_YEARS, expiry_too_far
from tests.hostile.conftest import assert_refused, table_counts

TABLE = [
    (date(2026, 6, 15), date(2026, 6, 15), False),
    (date(2036, 6, 15), date(2026, 6, 15), False),   # ten years: the last day
    (date(2036, 6, 16), date(2026, 6, 15), True),
    (date(2999, 12, 31), date(2026, 6, 15), True),
    (date(2062, 1, 1), date(2026, 1, 1), True),
    (date(2038, 2, 28), date(2028, 2, 29), False),   # from 29 February: to 28 February
    (date(2038, 3, 1), date(2028, 2, 29), True),
    (date(2020, 1, 1), date(2026, 6, 15), False),    # past: another rule's (expired)
]


@pytest.mark.parametrize("expiry,today,refused", TABLE)
def test_the_rule(expiry, today, refused):
    assert MAX_SHELF_YEARS == 10
    assert expiry_too_far(expiry, today) is refused


@pytest.fixture
def frozen():
    with time_machine.travel("2026-06-15T10:00:00+00:00", tick=False):
        yield


@pytest.mark.parametrize("expiry", ["2999-12-31", "2036-06-16"])
def test_receiving_far_ahead_is_refused(frozen, make_ingredient, api, client, login_as, expiry):
    ingredient = make_ingredient("Biotin far", unit="mL")
    pharmacist = api("pharmacist")
    before = table_counts()
    r = pharmacist.post("lots", json={"ingredient_id": ingredient.id, "lot_number": "FAR-1",
                                      "expiry_date": expiry, "quantity": "5"})
    assert_refused(r, 422, "invalid", expiry)
    assert "years ahead" in r.get_json()["error"]["fields"]["expiry_date"][0]
    assert table_counts() == before
    login_as("pharmacist")
    token = client.csrf_token("/receive")
    before = table_counts()
    r = client.post("/receive", data={"csrf_token": token, "ingredient_id": str(ingredient.id),
                                      "lot_number": "FAR-1", "expiry_date": expiry,
                                      "quantity": "5"})
    assert r.status_code == 422 and "years ahead" in r.get_data(as_text=True), r.status_code
    assert table_counts() == before


def test_ten_years_ahead_is_received(frozen, make_ingredient, api):
    ingredient = make_ingredient("Biotin long", unit="mL")
    r = api("pharmacist").post("lots", json={"ingredient_id": ingredient.id, "lot_number": "L-10",
                                             "expiry_date": "2036-06-15", "quantity": "5"})
    assert r.status_code == 201, r.get_json()

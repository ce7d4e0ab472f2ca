"""Receive by scan (issue 16): after a look-up the cursor goes to Quantity; an expired
vial is refused at look-up, saying what was read."""

from __future__ import annotations

import re
from datetime import date, timedelta

import time_machine

from tests.inventory.conftest import BIOTIN_GTIN

TODAY = date(2026, 6, 15)


def _attrs(html: str, name: str) -> str:
    return re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)


@time_machine.travel("2026-06-15 10:00 +02:00", tick=False)
def test_after_a_look_up_the_cursor_goes_to_quantity(client, login_as, make_ingredient):
    make_ingredient("Biotin 5 mg/mL", gtins=[BIOTIN_GTIN])
    login_as("pharmacist")
    html = client.get("/receive").get_data(as_text=True)
    assert "autofocus" in _attrs(html, "barcode")  # first: the scan field
    html = client.get(f"/receive?barcode=(01){BIOTIN_GTIN}(17)261231(10)L1").get_data(as_text=True)
    assert "autofocus" in _attrs(html, "quantity")
    assert "autofocus" not in _attrs(html, "barcode")


@time_machine.travel("2026-06-15 10:00 +02:00", tick=False)
def test_an_expired_vial_is_refused_at_look_up(client, login_as, make_ingredient):
    from formulary.extensions import db
    from formulary.inventory.models import Lot

    make_ingredient("Biotin 5 mg/mL", gtins=[BIOTIN_GTIN])
    login_as("pharmacist")
    yesterday = TODAY - timedelta(days=1)
    resp = client.get(f"/receive?barcode=(01){BIOTIN_GTIN}(17){yesterday:%y%m%d}(10)OLD1")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f"This lot expired on {yesterday.isoformat()}: an expired lot is not received" in html
    assert "lot OLD1" in html  # what was read
    assert 'data-testid="scanned"' not in html  # nothing filled in to submit
    # a vial expiring today is still received (usable all day)
    resp = client.get(f"/receive?barcode=(01){BIOTIN_GTIN}(17){TODAY:%y%m%d}(10)NEW1")
    assert resp.status_code == 200 and 'data-testid="scanned"' in resp.get_data(as_text=True)
    assert db.session.query(Lot).count() == 0

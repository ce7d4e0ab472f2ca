"""A pharmacist receives a lot by scanning, finds it on the dashboard and in the lot list,
adjusts it and reads the ledger, in a real browser."""

from __future__ import annotations

from formulary.extensions import db
from tests.inventory.conftest import BIOTIN_GTIN, in_days, yymmdd


def test_scan_receive_adjust_and_read_the_ledger(page):
    from formulary.inventory import ingredients

    with page.live.app.app_context():
        ingredients.create_ingredient(db.session, "test", {
            "name": "Biotin 5 mg/mL", "category": "vitamin", "unit": "mL",
            "strength": {"amount": "5", "unit": "mg"}, "gtins": [BIOTIN_GTIN], "reorder_level": "50"})
        db.session.commit()
    page.login("pharmacist")
    page.goto("/receive")
    expiry = in_days(45)
    # a USB scanner types the string, then Enter
    page.fill("input[name=barcode]", f"(01){BIOTIN_GTIN}(17){yymmdd(expiry)}(10)BRW42")
    page.press("input[name=barcode]", "Enter")
    page.wait_for_selector("[data-testid=scanned]")
    assert page.input_value("input[name=lot_number]") == "BRW42"
    assert page.input_value("input[name=expiry_date]") == expiry.isoformat()
    page.fill("input[name=quantity]", "12")
    page.click("[data-testid=receive-form] button[type=submit]")
    page.wait_for_selector("[data-testid=ledger]")
    assert "12 mL" in page.inner_text("[data-testid=on-hand]")

    page.goto("/dashboard")
    assert page.is_visible("[data-expiring=BRW42]")
    assert page.is_visible("[data-low='Biotin 5 mg/mL']")  # 12 < 50
    page.goto("/lots")
    page.click("[data-lot=BRW42] a")
    page.fill("input[name=adjust-quantity_delta]", "-2")
    page.select_option("select[name=adjust-reason]", "waste")
    page.fill("input[name=adjust-note]", "drawn up wrong")
    page.click("[data-testid=adjust-form] button[type=submit]")
    page.wait_for_selector("text=Adjustment recorded")
    assert "10 mL" in page.inner_text("[data-testid=on-hand]")
    rows = page.locator("[data-testid=ledger] tbody tr")
    assert rows.count() == 2
    last = rows.nth(1).inner_text()
    assert "-2" in last and "waste" in last and "drawn up wrong" in last

"""In a real browser: build a cocktail in the editor, watch the live totals, approve it,
find it among the active ones."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from formulary.extensions import db
from formulary.inventory.models import Ingredient, Lot, Movement

expect = pytest.importorskip("playwright.sync_api").expect


def _stock(app):
    with app.app_context():
        biotin = Ingredient(name="Biotin 5 mg/mL", name_key="biotin 5 mg/ml", category="vitamin",
                            unit="mL", strength_amount=Decimal("5"), strength_unit="mg")
        panthenol = Ingredient(name="Dexpanthenol 250 mg/mL", name_key="dexpanthenol 250 mg/ml",
                               category="vitamin", unit="mL", strength_amount=Decimal("250"),
                               strength_unit="mg")
        db.session.add_all([biotin, panthenol])
        for ing, qty in ((biotin, "20"), (panthenol, "10")):
            lot = Lot(ingredient=ing, lot_number=f"B{ing.name[:3]}", expiry_date=date.today() + timedelta(days=300),
                      quantity_received=Decimal(qty), quantity_on_hand=Decimal(qty), status="available")
            db.session.add_all([lot, Movement(lot=lot, kind="receipt", quantity_delta=Decimal(qty),
                                              balance_after=Decimal(qty))])
        db.session.commit()
        return biotin.id, panthenol.id


def test_build_preview_approve_and_find(page):
    biotin_id, panthenol_id = _stock(page.live.app)
    page.login("pharmacist")
    page.goto("/cocktails/new")
    page.fill("input[name=name]", "Browser scalp mix")
    page.select_option("select[name=area]", "scalp")
    page.fill("input[name=indication]", "hair loss")

    first = page.locator("tr.component-row").nth(0)
    first.locator("[data-field=ingredient_id]").select_option(str(biotin_id))
    first.locator("[data-field=unit]").select_option("mg")
    first.locator("[data-field=amount]").fill("10")
    # 10 mg of 5 mg/mL is 2 mL from stock; 20 mL on the shelf allow 10 doses
    expect(first.locator("[data-out=stock_quantity]")).to_have_text("2 mL")
    expect(page.locator("[data-testid=total-volume]")).to_have_text("2 mL")
    expect(page.locator("[data-testid=doses-possible]")).to_have_text("10")

    page.click("[data-add-row]")
    added = page.locator("tr.component-row").last
    added.locator("[data-field=ingredient_id]").select_option(str(panthenol_id))
    added.locator("[data-field=unit]").select_option("mg")
    added.locator("[data-field=amount]").fill("250")
    expect(page.locator("[data-testid=total-volume]")).to_have_text("3 mL")
    # biotin 10 mg in 3 mL of mix
    expect(first.locator("[data-out=concentration]")).to_have_text("3.333333 mg/mL")

    # a dose over nothing: the message shows on the row as it is typed
    added.locator("[data-field=amount]").fill("-1")
    expect(added.locator("[data-error-for=amount]")).to_contain_text("positive")
    added.locator("[data-field=amount]").fill("250")

    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=approve]")
    # four eyes (SPEC §12): the writer may not approve; a second pharmacist does
    expect(page.locator("[data-testid=approve]")).to_be_disabled()
    expect(page.locator("[data-testid=four-eyes]")).to_contain_text("another pharmacist approves it")
    detail_url = page.url
    page.context.clear_cookies()
    page.login("pharmacist")
    page.goto(detail_url)
    page.click("[data-testid=approve]")
    expect(page.locator(".alert-success")).to_contain_text("approved: it is the active version now")
    page.goto("/cocktails/?status=active")
    row = page.locator("tr[data-cocktail='Browser scalp mix']")
    assert row.count() == 1
    assert "active" in row.inner_text()

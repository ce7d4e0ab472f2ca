"""In a real browser: prepare a batch for a patient, see the lots preview, confirm, and
open the printable label."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from formulary.cocktails.models import Cocktail, CocktailVersion, Component
from formulary.extensions import db
from formulary.inventory.models import Ingredient, Lot, Movement
from formulary.patients.models import Patient

pytestmark = pytest.mark.browser


def _stock(app) -> None:
    with app.app_context():
        ing = Ingredient(name="Biotin 5 mg/mL", name_key="biotin 5 mg/mL".casefold(), category="vitamin", unit="mL")
        lots = []
        for number, qty, days in (("BIO-LATE", "10", 300), ("BIO-SOON", "1", 60)):
            q = Decimal(qty)
            lot = Lot(ingredient=ing, lot_number=number, expiry_date=date.today() + timedelta(days=days),
                      quantity_received=q, quantity_on_hand=q, status="available")
            lots += [lot, Movement(lot=lot, kind="receipt", quantity_delta=q, balance_after=q)]
        cocktail = Cocktail(name="Scalp biotin", name_key="scalp biotin", status="active")
        version = CocktailVersion(cocktail=cocktail, number=1, area="scalp", storage="fridge", status="active")
        version.components.append(Component(ingredient=ing, amount=Decimal("1"), unit="mL",
                                            stock_quantity=Decimal("1"), stock_unit="mL"))
        patient = Patient(mrn="MRN-BROWSER", first_name="Bea", last_name="Rowser", allergy_status="none_known")
        db.session.add_all([ing, *lots, cocktail, version, patient])
        db.session.flush()
        cocktail.active_version = version
        db.session.commit()


def test_prepare_for_a_patient_preview_confirm_and_print(page):
    _stock(page.live.app)
    page.login("pharmacist")
    page.goto("/batches/new")
    page.select_option("select[name=cocktail_id]", label="Scalp biotin (v1)")
    page.fill("input[name=doses]", "3")
    page.fill("input[name=patient_mrn]", "MRN-BROWSER")
    page.click("[data-testid=preview]")
    preview = page.locator("[data-testid=lots-preview]")
    preview.wait_for()
    # first expiry first, split across the two lots
    lots = preview.locator("[data-lot]").all_inner_texts()
    assert "BIO-SOON" in lots[0] and "BIO-LATE" in lots[1]
    assert page.locator("[data-testid=verdict]").inner_text().strip() == "safe"
    assert "Beyond-use" in page.locator("[data-testid=beyond-use]").inner_text()
    page.click("[data-testid=confirm]")
    page.wait_for_url("**/batches/*")
    number = page.locator("[data-testid=batch-number]").inner_text()
    assert number.startswith("B-")
    assert "MRN-BROWSER" in page.locator("[data-testid=patient]").inner_text()
    page.click("[data-testid=label-link]")
    page.wait_for_url("**/label")
    label = page.locator("[data-testid=label]")
    assert page.locator("[data-testid=label-batch-number]").inner_text() == number
    assert page.locator("[data-testid=label-mrn]").inner_text() == "MRN-BROWSER"
    assert page.locator("[data-testid=qr] svg").count() == 1
    box = label.bounding_box()
    assert 200 < box["width"] < 260  # 62 mm at 96 dpi is about 234 px
    page.emulate_media(media="print")
    assert not page.locator(".label-tools").is_visible()
    assert label.is_visible()

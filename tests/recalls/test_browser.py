"""In a real browser (SPEC §12): prepare a batch from two lots, recall one of them, see
the batch on hold, fail to verify it, open the recall's worklist, mark the patient
contacted, and export the worklist (downloaded and read back)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from formulary.cocktails.models import Cocktail, CocktailVersion, Component
from formulary.extensions import db
from formulary.inventory.models import Ingredient, Lot, Movement
from formulary.patients.models import Patient

pytestmark = pytest.mark.browser


def _stock(app) -> None:
    with app.app_context():
        made = []
        version = CocktailVersion(number=1, area="scalp", storage="fridge", status="active")
        for position, (name, number) in enumerate((("Biotin 5 mg/mL", "BIO-7"),
                                                   ("Dexpanthenol 250 mg/mL", "DEX-9"))):
            ing = Ingredient(name=name, name_key=name.casefold(), category="vitamin", unit="mL")
            q = Decimal("20")
            lot = Lot(ingredient=ing, lot_number=number, expiry_date=date.today() + timedelta(days=200),
                      quantity_received=q, quantity_on_hand=q, status="available")
            made += [ing, lot, Movement(lot=lot, kind="receipt", quantity_delta=q, balance_after=q)]
            version.components.append(Component(ingredient=ing, position=position, amount=Decimal("1"),
                                                unit="mL", stock_quantity=Decimal("1"), stock_unit="mL"))
        cocktail = Cocktail(name="Scalp duo", name_key="scalp duo", status="active")
        version.cocktail = cocktail
        patient = Patient(mrn="MRN-RECALL", first_name="Rita", last_name="Recall",
                          date_of_birth=date(1980, 1, 2), allergy_status="none_known")
        db.session.add_all([*made, cocktail, version, patient])
        db.session.flush()
        cocktail.active_version = version
        db.session.commit()


def test_prepare_recall_hold_worklist_and_export(page, tmp_path):
    _stock(page.live.app)
    page.login("pharmacist")
    page.goto("/batches/new")
    page.select_option("select[name=cocktail_id]", label="Scalp duo (v1)")
    page.fill("input[name=doses]", "2")
    page.fill("input[name=patient_mrn]", "MRN-RECALL")
    page.click("[data-testid=preview]")
    page.locator("[data-testid=lots-preview]").wait_for()
    page.click("[data-testid=confirm]")
    page.wait_for_url("**/batches/*")
    batch_url = page.url
    number = page.locator("[data-testid=batch-number]").inner_text()

    # Recall the dexpanthenol lot from its page (the page asks first: a recall is final).
    page.locator("[data-testid=batch-lot]", has_text="DEX-9").click()
    page.wait_for_url("**/lots/*")
    page.once("dialog", lambda dialog: dialog.accept())
    page.select_option("select[name=status-status]", "recalled")
    page.fill("input[name=status-reason]", "Supplier recall R-88: particles")
    page.click("[data-testid=status-form] button[type=submit]")
    page.locator("[data-testid=lot-recall]").wait_for()

    # The batch is on hold, and a second pharmacist cannot verify it.
    page.context.clear_cookies()
    page.login("pharmacist")
    page.goto(batch_url)
    assert page.locator("[data-testid=state] [data-status]").get_attribute("data-status") == "on_hold"
    assert "DEX-9 is recalled" in page.locator("[data-testid=state-reason]").inner_text()
    page.click("[data-testid=verify-form] [type=submit]")
    assert "on hold and cannot be verified" in page.locator("main, body").first.inner_text()
    assert page.locator("[data-testid=verified]").inner_text() == "not yet"

    # The recall's worklist, from the batch page.
    page.locator("[data-testid=batch-recall] a").click()
    page.wait_for_url("**/recalls/*")
    assert page.locator(f"[data-testid=recall-batches] [data-batch='{number}']").count() == 1
    row = page.locator("[data-testid=worklist] tr[data-mrn=MRN-RECALL]")
    assert row.get_attribute("data-status") == "to_contact"
    row.locator("select[name=status]").select_option("contacted")
    row.locator("textarea[name=note]").fill("Called: no reaction; review on Monday")
    row.locator("button[type=submit]").click()
    page.wait_for_url("**/recalls/*#patient-*")
    row = page.locator("[data-testid=worklist] tr[data-mrn=MRN-RECALL]")
    assert row.get_attribute("data-status") == "contacted"
    assert page.locator("[data-testid=recall-status] [data-status]").get_attribute("data-status") == "closed"

    with page.expect_download() as info:
        page.click("[data-testid=export-worklist]")
    download = info.value
    assert download.suggested_filename.endswith("-worklist.xlsx")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    wb = load_workbook(path, read_only=True, data_only=True)
    rows = list(wb["Patients"].iter_rows(values_only=True))
    assert rows[1][:6] == ("MRN-RECALL", "Recall", "Rita", rows[1][3], "contacted",
                           "Called: no reaction; review on Monday")
    assert rows[1][3].date() == date(1980, 1, 2)
    batches = list(wb["Batches"].iter_rows(values_only=True))
    assert batches[1][0] == number and batches[1][6] == "on hold"
    wb.close()

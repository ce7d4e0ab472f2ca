"""Keyboard only: a pharmacist receives a lot by scanning its barcode, prepares a batch
for a patient, and a second pharmacist verifies it, with no mouse: the test acts only
through ``keyboard.press`` and ``keyboard.type`` (it reads the page to know where the
focus is, never clicks or fills). The skip link is the first stop of the Tab key and
takes the focus past the menu.

SQLite only: what is checked is the pages' focus order and keyboard handling; the
actions themselves are tested on both databases by the areas' page and API tests."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from formulary import clock
from formulary.cocktails.models import Cocktail, CocktailVersion, Component
from formulary.compounding.models import Batch
from formulary.extensions import db
from formulary.inventory.models import Ingredient, IngredientGtin, Lot
from formulary.patients.models import Patient
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

GTIN = "09506000134352"          # a valid GTIN-14 (check digit 2)
MAX_TABS = 120


def focused(page) -> str:
    return page.evaluate("() => { const e = document.activeElement; return e ? e.outerHTML.slice(0, 200) : ''; }")


def tab_to(page, selector: str, *, backwards: bool = False) -> None:
    """Press Tab (Shift+Tab) until the element matching ``selector`` has the focus."""
    for _ in range(MAX_TABS):
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"Tab never reached {selector}; the focus is on {focused(page)}")


def key_login(page, username: str) -> None:
    page.goto("/login")
    tab_to(page, "input[name=username]")
    page.keyboard.type(username)
    tab_to(page, "input[name=password]")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard")


def key_logout(page) -> None:
    tab_to(page, "[data-testid=logout]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/login")


def follow(page, selector: str, url_glob: str) -> None:
    tab_to(page, selector)
    with page.expect_navigation(url=url_glob):
        page.keyboard.press("Enter")


def _clinic(app) -> dict:
    """Biotin (with a GTIN, no stock yet), a cocktail of it, a patient."""
    with app.app_context():
        biotin = Ingredient(name="Biotin 5 mg/mL", name_key="biotin 5 mg/ml", category="vitamin",
                            unit="mL", gtins=[IngredientGtin(gtin=GTIN)])
        cocktail = Cocktail(name="Scalp biotin", name_key="scalp biotin", status="active")
        version = CocktailVersion(cocktail=cocktail, number=1, area="scalp", storage="fridge",
                                  status="active")
        version.components.append(Component(ingredient=biotin, position=0, amount=Decimal("1"),
                                            unit="mL", stock_quantity=Decimal("1"), stock_unit="mL"))
        patient = Patient(mrn="MRN-KEYS", first_name="Kim", last_name="Board",
                          allergy_status="none_known")
        db.session.add_all([biotin, cocktail, version, patient])
        db.session.flush()
        cocktail.active_version = version
        db.session.commit()
        return {"ingredient": biotin.id}


def test_receive_prepare_and_verify_with_the_keyboard_only(page):
    ids = _clinic(page.live.app)
    first = page.live.make_user("pharmacist")
    second = page.live.make_user("pharmacist")
    key_login(page, first)

    # the skip link comes first and moves the focus to the page's content
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.dataset.testid") == "skip-link"
    assert page.locator("[data-testid=skip-link]").is_visible()     # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "content"

    # receive: scan the vial (a scanner types), then the quantity
    follow(page, "[data-nav='inventory.receive']", "**/receive")
    expiry = clock.today() + timedelta(days=400)
    tab_to(page, "input[name=barcode]")
    page.keyboard.type(f"01{GTIN}17{expiry:%y%m%d}10KEY-LOT-1")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Biotin 5 mg/mL" in page.locator("[data-testid=scanned]").inner_text()
    tab_to(page, "input[name=quantity]")
    page.keyboard.type("10")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    with page.live.app.app_context():
        lot = db.session.execute(select(Lot).where(Lot.lot_number == "KEY-LOT-1")).scalar_one()
        assert lot.ingredient_id == ids["ingredient"] and lot.quantity_on_hand == 10
        assert lot.expiry_date == expiry

    # prepare 3 doses for the patient: preview, then confirm
    follow(page, "[data-nav='compounding.batches']", "**/batches")
    follow(page, "[data-testid=new-batch]", "**/batches/new")
    tab_to(page, "select[name=cocktail_id]")
    page.keyboard.type("Scalp")              # a closed select takes the option typed
    assert page.evaluate("() => document.activeElement.selectedOptions[0].text").startswith("Scalp biotin")
    tab_to(page, "input[name=doses]")
    page.keyboard.type("3")
    tab_to(page, "input[name=patient_mrn]")
    page.keyboard.type("MRN-KEYS")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "KEY-LOT-1" in page.locator("[data-testid=lots-preview]").inner_text()
    tab_to(page, "[data-testid=confirm]")
    with page.expect_navigation(url="**/batches/*"):
        page.keyboard.press("Enter")
    number = page.locator("[data-testid=batch-number]").inner_text()
    batch_path = "/" + page.url.split("/", 3)[3]
    key_logout(page)

    # a second pharmacist verifies it
    key_login(page, second)
    follow(page, "[data-nav='compounding.batches']", "**/batches")
    follow(page, f'a[href="{batch_path}"]', "**/batches/*")
    tab_to(page, "[data-testid=verify-form] [type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    with page.live.app.app_context():
        batch = db.session.execute(select(Batch).where(Batch.batch_number == number)).scalar_one()
        assert batch.status == "verified" and batch.doses == 3
        assert batch.patient.mrn == "MRN-KEYS"

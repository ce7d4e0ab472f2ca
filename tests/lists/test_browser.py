"""In a real browser (issue 16): sorting a list by its headers, the navigation bar's
search (words and a scanned GS1 string), the picker's next steps, and the cursor after a
receive look-up."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from formulary import clock
from formulary.extensions import db
from tests.inventory.conftest import BIOTIN_GTIN


def _seed(app) -> dict:
    """Two ingredients (Biotin with its GTIN), three lots, an active cocktail, a patient."""
    from formulary.cocktails.models import Cocktail, CocktailVersion, Component
    from formulary.db import utcnow
    from formulary.inventory.models import Ingredient, IngredientGtin, Lot, Movement
    from formulary.patients.models import Patient

    with app.app_context():
        today = clock.today()
        biotin = Ingredient(name="Biotin 5 mg/mL", name_key="biotin 5 mg/ml", category="vitamin", unit="mL")
        caffeine = Ingredient(name="Caffeine 20 mg/mL", name_key="caffeine 20 mg/ml",
                              category="plant_extract", unit="mL")
        db.session.add_all([biotin, caffeine, IngredientGtin(gtin=BIOTIN_GTIN, ingredient=biotin)])
        for ing, number, qty, days in ((biotin, "BIO-B", "30", 300), (caffeine, "CAF-A", "5", 100),
                                       (biotin, "BIO-C", "12", 200)):
            q = Decimal(qty)
            lot = Lot(ingredient=ing, lot_number=number, expiry_date=today + timedelta(days=days),
                      supplier="Lab", quantity_received=q, quantity_on_hand=q, status="available",
                      received_at=utcnow())
            db.session.add_all([lot, Movement(lot=lot, kind="receipt", quantity_delta=q,
                                              balance_after=q, at=utcnow())])
        cocktail = Cocktail(name="Scalp biotin", name_key="scalp biotin", status="active")
        version = CocktailVersion(cocktail=cocktail, number=1, area="scalp", indication="hair loss",
                                  storage="fridge", status="active", approved_at=utcnow())
        version.components.append(Component(ingredient=biotin, position=0, amount=Decimal("1"),
                                            unit="mL", stock_quantity=Decimal("1"), stock_unit="mL"))
        patient = Patient(mrn="MRN-BRW", first_name="Julie", last_name="Martin",
                          date_of_birth=date(1984, 3, 7), allergy_status="none_known")
        db.session.add_all([cocktail, version, patient])
        db.session.flush()
        cocktail.active_version = version
        db.session.commit()
        lots = {lot.lot_number: lot.id for lot in db.session.query(Lot)}
        return {"lots": lots, "cocktail": cocktail.id, "patient": patient.id}


def _lots_shown(page) -> list[str]:
    return page.eval_on_selector_all("[data-testid=lots] tbody tr[data-lot]",
                                     "rows => rows.map(r => r.dataset.lot)")


def test_sorting_a_list_by_its_headers_keeps_the_filters(page):
    _seed(page.live.app)
    page.login("manager")
    page.goto("/lots?q=bio")
    assert _lots_shown(page) == ["BIO-C", "BIO-B"]          # by expiry, the default
    page.click("th [data-sort=on_hand]")
    page.wait_for_url("**sort=on_hand**")
    assert _lots_shown(page) == ["BIO-C", "BIO-B"]          # 12 before 30
    assert page.get_attribute("th:has([data-sort=on_hand])", "aria-sort") == "ascending"
    page.click("th [data-sort=on_hand]")                    # again: descending
    page.wait_for_url("**sort=-on_hand**")
    assert _lots_shown(page) == ["BIO-B", "BIO-C"]
    assert "q=bio" in page.url                              # the filter stayed
    # and the filter form keeps the order
    page.fill("#q", "")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**sort=-on_hand**")
    assert _lots_shown(page) == ["BIO-B", "BIO-C", "CAF-A"]


def test_the_navigation_bar_search_finds_and_a_scan_opens_the_lot(page):
    seeded = _seed(page.live.app)
    page.login("practitioner")
    box = page.locator("#global-q")
    box.fill("martin")
    box.press("Enter")
    page.wait_for_selector("[data-testid=search-patients]")
    page.click(f"[data-hit=patient-{seeded['patient']}]")
    page.wait_for_url(f"**/patients/{seeded['patient']}")
    # a USB scanner types a vial's GS1 string into the box, then Enter: the lot opens
    expiry = (clock.today() + timedelta(days=200)).strftime("%y%m%d")
    page.locator("#global-q").fill(f"(01){BIOTIN_GTIN}(17){expiry}(10)BIO-C")
    page.locator("#global-q").press("Enter")
    page.wait_for_url(f"**/lots/{seeded['lots']['BIO-C']}")
    # a vial not received says so
    page.locator("#global-q").fill(f"(01){BIOTIN_GTIN}(10)NOPE")
    page.locator("#global-q").press("Enter")
    assert "has not been received" in page.inner_text("[data-testid=search-message]")


def test_a_manager_does_not_find_patients(page):
    _seed(page.live.app)
    page.login("manager")
    page.locator("#global-q").fill("martin")
    page.locator("#global-q").press("Enter")
    page.wait_for_selector("[data-testid=search-nothing]")
    assert page.locator("[data-testid=search-patients]").count() == 0


def test_the_pickers_next_steps(page):
    seeded = _seed(page.live.app)
    page.login("pharmacist")
    page.goto(f"/patients/{seeded['patient']}/formulations")
    page.click("[data-cocktail='Scalp biotin'] [data-testid=prepare-for-patient]")
    page.wait_for_url("**/batches/new?**")
    assert page.input_value("input[name=patient_mrn]") == "MRN-BRW"
    assert page.input_value("select[name=cocktail_id]") == str(seeded["cocktail"])
    assert page.evaluate("document.activeElement.name") == "doses"
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Prepare batch")
    # the cocktail's name links to its page
    page.goto(f"/patients/{seeded['patient']}/formulations")
    page.click("[data-cocktail='Scalp biotin'] [data-testid=picker-cocktail]")
    page.wait_for_url(f"**/cocktails/{seeded['cocktail']}")


def test_after_a_receive_look_up_the_cursor_is_in_quantity(page):
    _seed(page.live.app)
    page.login("pharmacist")
    page.goto("/receive")
    assert page.evaluate("document.activeElement.name") == "barcode"
    expiry = (clock.today() + timedelta(days=90)).strftime("%y%m%d")
    page.fill("input[name=barcode]", f"(01){BIOTIN_GTIN}(17){expiry}(10)NEW-1")
    page.press("input[name=barcode]", "Enter")
    page.wait_for_selector("[data-testid=scanned]")
    assert page.evaluate("document.activeElement.name") == "quantity"

"""In a real browser, the issue's "done when": a practitioner starts a 6-session course
from the picker, records consent with the signed form, gives sessions 1-3 from verified
batches, marks one missed, records a bruising and an allergic reaction which becomes an
allergy that then blocks the next session (the refusal shown with its reason), and prints
the patient's sheet."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from formulary import clock
from formulary.extensions import db
from tests.courses.scanfiles import png

pytestmark = pytest.mark.browser


def _clinic(app) -> dict:
    """A scalp cocktail in stock, a patient with no known allergy, and two verified
    batches for her (2 doses each), prepared and checked by two pharmacists."""
    from formulary.auth import services as auth
    from formulary.cocktails.models import Cocktail, CocktailVersion, Component
    from formulary.compounding import services as batches
    from formulary.inventory.models import Ingredient, Lot, Movement
    from formulary.patients.models import Patient

    with app.app_context():
        made = []
        for name, lot_number in (("Biotin 5 mg/mL", "BIO-77"), ("Dexpanthenol 250 mg/mL", "DEX-12")):
            ing = Ingredient(name=name, name_key=name.casefold(), category="vitamin", unit="mL")
            q = Decimal(50)
            lot = Lot(ingredient=ing, lot_number=lot_number,
                      expiry_date=clock.today() + timedelta(days=200),
                      quantity_received=q, quantity_on_hand=q, status="available")
            db.session.add_all([ing, lot, Movement(lot=lot, kind="receipt", quantity_delta=q,
                                                   balance_after=q)])
            made.append(ing)
        cocktail = Cocktail(name="Hair vitality", name_key="hair vitality", status="active")
        version = CocktailVersion(cocktail=cocktail, number=1, area="scalp", status="active",
                                  storage="fridge", indication="hair loss")
        version.components = [Component(ingredient=i, position=n, amount=Decimal("1"), unit="mL",
                                         stock_quantity=Decimal("1"), stock_unit="mL")
                              for n, i in enumerate(made)]
        patient = Patient(mrn="MRN-COURSE", first_name="Inès", last_name="Martin",
                          allergy_status="none_known")
        db.session.add_all([cocktail, version, patient])
        db.session.flush()
        cocktail.active_version = version
        preparer = auth.create_user(db.session, "test", username="pharma1", password="x" * 12,
                                    role="pharmacist")
        checker = auth.create_user(db.session, "test", username="pharma2", password="x" * 12,
                                   role="pharmacist")
        db.session.commit()
        numbers = []
        for _ in range(2):
            batch = batches.prepare_batch(
                db.session, preparer, cocktail=cocktail, doses=2, patient=patient,
                tz=clock.clinic_tz(), policy=batches.policy_from_hours(
                    app.config["BEYOND_USE_HOURS"]))
            batches.verify_batch(db.session, checker, batch)
            db.session.commit()
            numbers.append(batch.batch_number)
        return {"patient_id": patient.id, "batches": numbers}


def _settled(page) -> None:
    """Wait for the page's stylesheets and scripts (``load``) before a click: a page found
    by its content may still be loading them, and a click placed before they apply can
    land where the element was not yet (twice on a loaded box: a click that sent
    nothing)."""
    page.wait_for_load_state("load")


def _give(page, session_number: int, batch_number: str) -> None:
    _settled(page)
    page.click(f"tr[data-session='{session_number}'] [data-testid=give-session]")
    page.wait_for_url("**/give")
    value = page.locator(f"select[name=batch_id] option:has-text('{batch_number}')"
                         ).get_attribute("value")
    page.select_option("select[name=batch_id]", value)
    page.fill("input[name=doses]", "1")
    page.fill("input[name=site_description]", "vertex and crown, 60 points")
    page.select_option("select[name=technique]", "nappage")
    page.fill("input[name=needle]", "32G 4 mm")
    page.click("[data-testid=give-submit]")
    page.wait_for_url("**/administrations/*")


def test_a_course_from_the_picker_to_the_printed_sheet(page, tmp_path):
    seeded = _clinic(page.live.app)
    first_batch, second_batch = seeded["batches"]
    patient_id = seeded["patient_id"]
    page.login("practitioner")

    # a consent text for the scalp
    page.goto("/consent-texts")
    page.select_option("select[name=area]", "scalp")
    page.fill("input[name=title]", "Scalp mesotherapy")
    page.fill("textarea[name=body]", "I agree to a course of scalp mesotherapy.")
    page.click("[data-testid=consent-text-form] button[type=submit]")
    page.wait_for_selector("[data-area=scalp]")

    # start a course from the picker: 6 sessions, daily, the first five days ago
    page.goto(f"/patients/{patient_id}")
    page.click("[data-testid=open-picker]")
    page.click("[data-cocktail='Hair vitality'] [data-testid=start-course]")
    page.wait_for_url("**/courses/new*")
    assert page.locator("input[name=indication]").input_value() == "hair loss"
    page.fill("input[name=planned_sessions]", "6")
    page.fill("input[name=interval_days]", "1")
    with page.live.app.app_context():  # the clinic's today, as the server sees it (outside
        today = clock.today()          # an app context clock.today() is the UTC date)
    page.fill("input[name=start_date]", (today - timedelta(days=5)).isoformat())
    page.click("[data-testid=start-course]")
    page.wait_for_url("**/courses/*")
    course_url = page.url
    assert page.locator("[data-testid=course-progress]").inner_text().startswith("0 of 6")
    assert page.locator("[data-testid=consent-status]").get_attribute("data-status") == "missing"

    # giving before consent is refused with the reason
    page.click("tr[data-session='1'] [data-testid=give-session]")
    page.wait_for_url("**/give")
    assert page.locator("[data-testid=no-consent]").is_visible()
    page.goto(course_url)

    # record consent with the signed form
    form = tmp_path / "signed.png"
    form.write_bytes(png())
    page.set_input_files("[data-testid=consent-form] input[name=scan]", str(form))
    page.click("[data-testid=record-consent]")
    page.wait_for_selector("[data-testid=consent-status][data-status=given]")
    assert page.locator("[data-testid=scan-link]").is_visible()

    # sessions 1 to 3 from the two verified batches
    _give(page, 1, first_batch)
    page.goto(course_url)
    _give(page, 2, first_batch)
    page.goto(course_url)
    _give(page, 3, second_batch)
    page.goto(course_url)
    assert page.locator("[data-testid=course-progress]").inner_text().startswith("3 of 6")
    assert page.locator("[data-testid=course-status]").inner_text() == "active"
    states = page.locator("tr[data-session]").evaluate_all(
        "rows => rows.map(r => r.dataset.state)")
    assert states == ["given", "given", "given", "overdue", "overdue", "planned"]

    # the first batch is used up: not offered any more; the second has 1 dose left
    page.click("tr[data-session='4'] [data-testid=give-session]")
    page.wait_for_url("**/give")
    offered = page.locator("[data-testid=batches] [data-batch]").evaluate_all(
        "items => items.map(i => i.dataset.batch)")
    assert offered == [second_batch]
    assert page.locator(f"[data-batch='{second_batch}'] [data-testid=doses-left]"
                        ).inner_text() == "1"
    page.goto(course_url)

    # session 4 was missed
    row = page.locator("tr[data-session='4']")
    row.locator("summary").click()
    row.locator("[data-testid=mark-form] select[name=status]").select_option("missed")
    row.locator("[data-testid=mark-form] input[name=reason]").fill("did not come")
    row.locator("[data-testid=mark-form] button").click()
    page.wait_for_selector("tr[data-session='4'][data-state=missed]")

    # adverse events after session 3: a bruising, then an allergic reaction
    _settled(page)
    page.locator("tr[data-session='3'] [data-testid=administration-link]").click()
    page.wait_for_url("**/administrations/*")
    administration_url = page.url
    for kind, severity in (("bruising", "mild"), ("allergic_reaction", "moderate")):
        _settled(page)
        page.select_option("[data-testid=event-form] select[name=kind]", kind)
        page.select_option("[data-testid=event-form] select[name=severity]", severity)
        page.fill("[data-testid=event-form] input[name=outcome]", "resolved in 2 days")
        page.click("[data-testid=event-form] button[type=submit]")
        page.wait_for_selector(f"[data-event={kind}]")
    _settled(page)  # the page that shows the reaction, before its button is pressed
    with page.expect_navigation():
        page.click("[data-event=allergic_reaction] [data-testid=record-allergy]")
    page.wait_for_selector("text=Allergy recorded on the patient's record")

    # the allergy now blocks session 5, with the screen's reason
    page.goto(course_url)
    page.click("tr[data-session='5'] [data-testid=give-session]")
    page.wait_for_url("**/give")
    assert page.locator("[data-testid=verdict]").inner_text() == "blocked"
    page.select_option("select[name=batch_id]", page.locator(
        f"select[name=batch_id] option:has-text('{second_batch}')").get_attribute("value"))
    page.fill("input[name=site_description]", "vertex")
    page.click("[data-testid=give-submit]")
    error = page.locator("[data-error-for=override_reason]")
    error.wait_for()
    assert "The safety screen blocks this cocktail for this patient now" in error.inner_text()
    assert "Biotin 5 mg/mL" in error.inner_text()
    page.goto(course_url)
    assert page.locator("tr[data-session='5']").get_attribute("data-state") == "overdue"

    # the patient's timeline, then the printable sheet of session 3
    page.goto(f"/patients/{patient_id}")
    assert page.locator("[data-testid=courses] [data-status=active]").count() == 1
    page.click("[data-testid=open-timeline]")
    page.wait_for_selector("[data-testid=timeline]")
    assert page.locator("tr[data-kind=adverse_event]").count() == 2
    assert page.locator("tr[data-kind=allergy]").count() == 2
    page.goto(administration_url)
    page.click("[data-testid=sheet-link]")
    page.wait_for_url("**/sheet")
    sheet = page.locator("[data-testid=sheet]")
    assert "Hair vitality" in page.locator("[data-testid=sheet-cocktail]").inner_text()
    lines = page.locator("[data-testid=sheet-lines] tbody tr").all_inner_texts()
    assert len(lines) == 2 and "1 mL" in lines[0] and "BIO-77" in lines[0]
    assert "DEX-12" in lines[1]
    # the Print button opens the browser's print (its script is the app's own: CSP)
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.click("[data-testid=print]")
    assert page.evaluate("window.__printed") == 1
    # the patient reads French: the same sheet in French, chosen on the sheet
    page.click("[data-testid=sheet-languages] a[hreflang=fr]")
    page.wait_for_url("**/sheet?lang=fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert "Hair vitality" in page.locator("[data-testid=sheet-cocktail]").inner_text()
    page.emulate_media(media="print")
    assert not page.locator("[data-testid=sheet-tools]").is_visible()
    assert sheet.is_visible()

"""In a real browser: record a patient with an allergy, open the picker, see the blocked
cocktail and the reason."""

from __future__ import annotations

from decimal import Decimal

from formulary.extensions import db


def _seed(app) -> None:
    from formulary.cocktails.models import Cocktail, CocktailVersion, Component
    from formulary.inventory.models import AllergenGroup, Ingredient

    with app.app_context():
        paraben = AllergenGroup(name="paraben", name_key="paraben")
        amide = AllergenGroup(name="amide local anesthetic", name_key="amide local anesthetic")
        lido = Ingredient(name="Lidocaine 2% (multi-dose)", name_key="lidocaine 2% (multi-dose)",
                          category="anesthetic", unit="mL", allergen_groups=[amide, paraben])
        biotin = Ingredient(name="Biotin 5 mg/mL", name_key="biotin 5 mg/ml", category="vitamin",
                            unit="mL")
        for name, parts in (("Hair vitality", [biotin, lido]), ("Biotin boost", [biotin])):
            cocktail = Cocktail(name=name, name_key=name.casefold(), status="active")
            version = CocktailVersion(cocktail=cocktail, number=1, area="scalp", status="active")
            version.components = [Component(ingredient=i, position=n, amount=Decimal("1"), unit="mL",
                                            stock_quantity=Decimal("1"), stock_unit="mL")
                                  for n, i in enumerate(parts)]
            db.session.add_all([cocktail, version])
            db.session.flush()
            cocktail.active_version = version
        db.session.commit()


def test_record_a_patient_with_an_allergy_and_see_the_blocked_cocktail(page):
    _seed(page.live.app)
    page.login("practitioner")
    page.click("[data-nav='patients.index']")
    page.click("[data-testid=new-patient]")
    page.fill("input[name=mrn]", "MRN-9001")
    page.fill("input[name=first_name]", "Inès")
    page.fill("input[name=last_name]", "Garnier")
    page.fill("input[name=date_of_birth]", "1988-02-29")
    page.click("form[data-testid=patient-form] button[type=submit]")
    page.wait_for_selector("[data-testid=allergy-status][data-allergy-status=unknown]")

    # The allergen field follows the kind chosen (small JS); the group select shows.
    page.check("input[name=kind][value=allergen_group]")
    assert page.is_hidden("select[name=ingredient_id]")
    page.select_option("select[name=allergen_group]", "paraben")
    page.select_option("select[name=severity]", "severe")
    page.fill("input[name=reaction]", "urticaria")
    page.click("form[data-allergy-form] button[type=submit]")
    page.wait_for_selector("[data-testid=allergy-list]")
    assert page.get_attribute("[data-testid=allergy-status]", "data-allergy-status") == "known"

    page.click("[data-testid=open-picker]")
    rows = page.locator("[data-testid=formulations] [data-cocktail]")
    assert rows.nth(0).get_attribute("data-cocktail") == "Biotin boost"
    blocked = page.locator("[data-cocktail='Hair vitality']")
    assert blocked.get_attribute("data-verdict") == "blocked"
    blocked.locator("summary").click()
    reason = blocked.locator("li[data-kind=allergen_group]")
    assert reason.is_visible()
    assert "Lidocaine 2% (multi-dose) contains paraben" in reason.inner_text()
    assert "severe reaction (urticaria)" in reason.inner_text()


def test_the_picker_screens_a_formulary_change_made_outside_the_app(page):
    # The served app keeps the formulary between views; a change written straight into
    # the database by another program (here Python's sqlite3, as a DBA's tool would)
    # renews the formulary revision through the triggers: the next view screens it.
    import sqlite3

    from formulary.patients.models import Allergy, Patient

    app = page.live.app
    _seed(app)
    with app.app_context():
        from formulary.inventory.models import AllergenGroup

        paraben = db.session.execute(db.select(AllergenGroup).where(AllergenGroup.name_key == "paraben")).scalar_one()
        patient = Patient(mrn="MRN-9002", first_name="Léa", last_name="Morel", allergy_status="known")
        patient.allergies.append(Allergy(allergen_group=paraben, severity="severe",
                                         reaction="urticaria", status="active"))
        db.session.add(patient)
        db.session.commit()
        patient_id, path = patient.id, db.engine.url.database
    page.login("practitioner")
    page.goto(f"/patients/{patient_id}/formulations")
    assert page.get_attribute("[data-cocktail='Biotin boost']", "data-verdict") == "safe"
    page.reload()  # kept now
    assert page.get_attribute("[data-cocktail='Biotin boost']", "data-verdict") == "safe"

    with sqlite3.connect(path) as conn:  # biotin found to hold a paraben preservative
        conn.execute("INSERT INTO ingredient_allergen_group (ingredient_id, allergen_group_id) "
                     "SELECT i.id, g.id FROM ingredient i, allergen_group g "
                     "WHERE i.name_key = 'biotin 5 mg/ml' AND g.name_key = 'paraben'")
    conn.close()
    page.reload()
    boost = page.locator("[data-cocktail='Biotin boost']")
    assert boost.get_attribute("data-verdict") == "blocked"
    boost.locator("summary").click()
    assert "Biotin 5 mg/mL contains paraben" in boost.locator("li[data-kind=allergen_group]").inner_text()

"""SPEC §4: once an ingredient has a lot or is in an approved cocktail version (active,
superseded or retired), its stock unit and strength never change: 409, make a new
ingredient. Otherwise they may. Service, API (409 envelope) and edit page (form error);
a refusal saves nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from formulary.cocktails import services as cocktails
from formulary.compounding import services as compounding
from formulary.domain.errors import InvalidState
from formulary.extensions import db
from formulary.inventory import ingredients
from formulary.inventory.models import Ingredient
from tests.compounding.conftest import NOW, TZ


def _biotin(make_ingredient):
    # no maximum dose, so a strength change is not refused for another reason
    return make_ingredient("Biotin 5 mg/mL", unit="mL", strength=(5, "mg"))


def _active(make_cocktail, ing):
    return make_cocktail([(ing, "10", "mg")])  # 10 mg of 5 mg/mL: 2 mL a dose


def _superseded(make_cocktail, ing):
    cocktail = make_cocktail([(ing, "10", "mg")])
    cocktail.versions[0].status = "superseded"  # a later version took over
    db.session.commit()
    return cocktail


def _retired(make_cocktail, ing):
    cocktail = make_cocktail([(ing, "10", "mg")])
    cocktails.retire_cocktail(db.session, None, cocktail.id)
    db.session.commit()
    return cocktail


# how the ingredient is in use: a lot, or an approved version in each of its states
USES = {
    "a lot": lambda make_lot, make_cocktail, ing: make_lot(ing, "10"),
    "an active version": lambda make_lot, make_cocktail, ing: _active(make_cocktail, ing),
    "a superseded version": lambda make_lot, make_cocktail, ing: _superseded(make_cocktail, ing),
    "a retired version": lambda make_lot, make_cocktail, ing: _retired(make_cocktail, ing),
}
# changes of the stock basis: (data, fields refused)
BASIS_CHANGES = [
    ({"strength": {"amount": "10", "unit": "mg"}}, ["strength"]),    # the case
    ({"strength": {"amount": "5000", "unit": "mcg"}}, ["strength"]), # the same amount, another unit
    ({"strength": None}, ["strength"]),                              # removed: a change too
    ({"unit": "mg", "strength": None}, ["unit", "strength"]),
]


def _row(ing_id):
    db.session.expire_all()
    row = db.session.get(Ingredient, ing_id)
    return row.unit, row.strength_amount, row.strength_unit


@pytest.mark.parametrize("use", list(USES))
@pytest.mark.parametrize("data, fields", BASIS_CHANGES)
def test_service_refuses_a_change_of_unit_or_strength_in_use(
        make_ingredient, make_lot, make_cocktail, pharmacist, use, data, fields):
    ing = _biotin(make_ingredient)
    USES[use](make_lot, make_cocktail, ing)
    with pytest.raises(InvalidState) as info:
        ingredients.update_ingredient(db.session, pharmacist, ing, data)
    db.session.rollback()
    assert info.value.code == "invalid_state" and info.value.status == 409
    assert "Biotin 5 mg/mL" in info.value.message and "make a new ingredient" in info.value.message
    assert sorted(info.value.fields) == sorted(fields)
    assert _row(ing.id) == ("mL", Decimal(5), "mg")


@pytest.mark.parametrize("use", list(USES))
def test_everything_else_still_changes_and_the_same_strength_is_no_change(
        make_ingredient, make_lot, make_cocktail, pharmacist, use):
    ing = _biotin(make_ingredient)
    USES[use](make_lot, make_cocktail, ing)
    ingredients.update_ingredient(db.session, pharmacist, ing, {
        "name": "Biotin 5 mg/mL (Brand)", "unit": "mL", "strength": {"amount": "5.0", "unit": "mg"},
        "max_dose_per_session": {"amount": "20", "unit": "mg"}, "reorder_level": "4"})
    db.session.commit()
    assert _row(ing.id) == ("mL", Decimal(5), "mg")
    assert db.session.get(Ingredient, ing.id).name == "Biotin 5 mg/mL (Brand)"


@pytest.mark.parametrize("setup", ["nothing", "a draft version", "a retired draft"])
@pytest.mark.parametrize("data", [d for d, _ in BASIS_CHANGES])
def test_unit_and_strength_change_while_nothing_depends_on_them(
        make_ingredient, make_cocktail, pharmacist, setup, data):
    ing = _biotin(make_ingredient)
    if setup != "nothing":
        # never approved: its stock quantities are computed again at approval
        cocktail = make_cocktail([(ing, "10", "mg")], status="draft")
        if setup == "a retired draft":
            cocktails.retire_cocktail(db.session, None, cocktail.id)
            db.session.commit()
    ingredients.update_ingredient(db.session, pharmacist, ing, data)
    db.session.commit()
    unit, amount, unit_of_strength = _row(ing.id)
    assert unit == data.get("unit", "mL")
    assert (amount, unit_of_strength) == ((Decimal(data["strength"]["amount"]), data["strength"]["unit"])
                                          if data["strength"] else (None, None))


def test_the_next_batch_still_delivers_the_approved_dose(api, make_ingredient, make_lot,
                                                         make_cocktail, pharmacist):
    # the issue: biotin 5 mg/mL at 10 mg a dose is 2 mL; strength PATCHed to 10 mg/mL
    # answered 200 and the next batch still drew 2 mL (now 20 mg)
    ing = _biotin(make_ingredient)
    make_lot(ing, "100")
    cocktail = _active(make_cocktail, ing)
    client = api("pharmacist")
    r = client.patch(f"ingredients/{ing.id}", json={"strength": {"amount": "10", "unit": "mg"}})
    assert r.status_code == 409
    batch = compounding.prepare_batch(db.session, pharmacist, cocktail=cocktail, doses=1,
                                      now=NOW, tz=TZ)
    assert [line.quantity for line in batch.lines] == [Decimal(2)]
    assert _row(ing.id) == ("mL", Decimal(5), "mg")  # 2 mL of it is the approved 10 mg


@pytest.mark.parametrize("use", ["a lot", "an active version"])
@pytest.mark.parametrize("data, fields", BASIS_CHANGES)
def test_api_answers_409_with_the_envelope_and_changes_nothing(
        api, make_ingredient, make_lot, make_cocktail, snapshot, use, data, fields):
    ing = _biotin(make_ingredient)
    USES[use](make_lot, make_cocktail, ing)
    client = api("pharmacist")
    before = snapshot()
    r = client.patch(f"ingredients/{ing.id}", json=data)
    assert r.status_code == 409, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "invalid_state"
    assert "make a new ingredient" in error["message"]
    assert sorted(error["fields"]) == sorted(fields)
    assert snapshot() == before  # the ingredient and the audit log alike


def test_api_changes_the_strength_of_an_unused_ingredient(api, make_ingredient):
    ing = _biotin(make_ingredient)
    r = api("pharmacist").patch(f"ingredients/{ing.id}", json={"strength": {"amount": "10", "unit": "mg"}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["strength"] == {"amount": "10", "unit": "mg"}


def _edit_form(ing, **changes):
    return {"name": ing.name, "category": ing.category, "unit": "mL", "strength": "5",
            "strength_unit": "mg", "storage": "room", "active": "y", **changes}


@pytest.mark.parametrize("changes", [
    {"strength": "10"},                          # another strength
    {"strength": "", "strength_unit": ""},       # the strength removed
])
def test_edit_page_shows_a_form_error_and_saves_nothing(client, login_as, make_ingredient,
                                                        make_lot, snapshot, changes):
    login_as("pharmacist")
    ing = _biotin(make_ingredient)
    make_lot(ing, "10")
    before = snapshot()
    r = client.post_form(f"/ingredients/{ing.id}/edit", _edit_form(ing, name="Renamed", **changes))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "its stock unit and strength never change" in html and "make a new ingredient" in html
    assert snapshot() == before  # not even the new name


def test_edit_page_saves_other_changes_of_an_ingredient_in_use(client, login_as, make_ingredient,
                                                               make_lot):
    login_as("pharmacist")
    ing = _biotin(make_ingredient)
    make_lot(ing, "10")
    r = client.post_form(f"/ingredients/{ing.id}/edit", _edit_form(ing, name="Renamed"))
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.execute(select(Ingredient.name)).scalar_one() == "Renamed"

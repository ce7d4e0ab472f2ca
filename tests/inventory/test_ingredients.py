"""Ingredients and allergen groups: the services (SPEC §4) through the API's shape."""

from __future__ import annotations

from decimal import Decimal

import pytest

from formulary.domain.errors import Duplicate, InvalidState, ValidationError
from formulary.domain.units import Strength
from formulary.extensions import db
from formulary.inventory import allergens, ingredients

BASE = {"name": "Biotin 5 mg/mL", "category": "vitamin", "unit": "mL"}


def create(user, **data):
    ing = ingredients.create_ingredient(db.session, user, {**BASE, **data})
    db.session.commit()
    return ing


def test_an_ingredient_with_every_field(pharmacist, make_group):
    make_group("amide local anesthetic"), make_group("parabens")
    ing = create(pharmacist, name="Lidocaine 2% multi-dose", category="anesthetic",
                 strength={"amount": "20", "unit": "mg"},
                 allergen_groups=["Amide  Local Anesthetic", "parabens"],
                 contraindications=["pregnant"], reorder_level="20",
                 max_dose_per_session={"amount": "100", "unit": "mg"},
                 gtins=["9 506000 134352"], storage="room", multi_dose=True, in_use_days=28)
    facts = ingredients.ingredient_facts(ing)
    assert facts.strength == Strength(Decimal(20), "mg")
    assert facts.max_dose_per_session == (Decimal(100), "mg")
    assert [g.name for g in ing.allergen_groups] == ["amide local anesthetic", "parabens"]
    assert [g.gtin for g in ing.gtins] == ["09506000134352"]


def test_names_are_unique_whatever_their_case(pharmacist):
    create(pharmacist)
    with pytest.raises(Duplicate) as err:
        create(pharmacist, name="  BIOTIN 5 MG/ML ")
    assert "name" in err.value.fields


@pytest.mark.parametrize("data, field", [
    ({"unit": "mg", "strength": {"amount": "5", "unit": "mg"}}, "strength"),    # strength needs mL
    ({"strength": {"amount": "5", "unit": "mL"}}, "strength"),                  # per mL of mL?
    ({"allergen_groups": ["no such group"]}, "allergen_groups"),
    ({"contraindications": ["pregnancy"]}, "contraindications"),                # the condition is "pregnant"
    ({"gtins": ["09506000134353"]}, "gtins"),                                   # bad check digit
    ({"max_dose_per_session": {"amount": "10", "unit": "mg"}}, "max_dose_per_session"),  # no strength
    ({"unit": "each", "max_dose_per_session": {"amount": "1", "unit": "mL"}}, "max_dose_per_session"),
    ({"category": "potion"}, "category"),
    ({"unit": "drops"}, "unit"),
    ({"reorder_level": "-1"}, "reorder_level"),
    ({"in_use_days": 14}, "in_use_days"),                                       # not multi-dose
    ({"multi_dose": "yes"}, "multi_dose"),
    ({"name": ""}, "name"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_fields_are_refused_on_their_field(pharmacist, data, field):
    with pytest.raises(ValidationError) as err:
        create(pharmacist, **data)
    assert field in err.value.fields


def test_a_gtin_belongs_to_one_ingredient(pharmacist):
    create(pharmacist, gtins=["09506000134352"])
    with pytest.raises(Duplicate) as err:
        create(pharmacist, name="Other", gtins=["9506000134352"])  # the same GTIN-13
    assert "gtins" in err.value.fields


def test_update_changes_only_what_is_given(pharmacist, make_ingredient, make_lot):
    ing = create(pharmacist, strength={"amount": "5", "unit": "mg"}, reorder_level="10")
    ingredients.update_ingredient(db.session, pharmacist, ing, {"reorder_level": "12"})
    assert (ing.reorder_level, ing.strength_amount) == (Decimal(12), Decimal(5))
    make_lot(ing)
    with pytest.raises(InvalidState):
        ingredients.update_ingredient(db.session, pharmacist, ing, {"unit": "mg", "strength": None})


# --- allergen groups ----------------------------------------------------------------------

def test_cross_reactivity_is_symmetric_and_stored_once(pharmacist):
    ester = allergens.create_group(db.session, pharmacist, {"name": "ester local anesthetic"})
    allergens.create_group(db.session, pharmacist, {"name": "amide local anesthetic"})
    paba = allergens.create_group(db.session, pharmacist,
                                  {"name": "PABA", "cross_reacts_with": ["ester local anesthetic"]})
    db.session.commit()
    assert [g.name for g in allergens.partners(db.session, ester)] == ["PABA"]
    table = allergens.cross_reactivity(db.session)
    assert table.reacts("paba", "Ester local anesthetic") and table.reacts("ester local anesthetic", "PABA")
    assert not table.reacts("ester local anesthetic", "amide local anesthetic")
    assert len(table) == 1
    allergens.update_group(db.session, pharmacist, paba, {"cross_reacts_with": []})
    assert len(allergens.cross_reactivity(db.session)) == 0


@pytest.mark.parametrize("data, field", [
    ({"name": "x", "cross_reacts_with": ["unknown"]}, "cross_reacts_with"),
    ({"name": "x", "cross_reacts_with": ["x"]}, "cross_reacts_with"),
    ({"name": " "}, "name"),
    ({"name": "soy"}, "name"),     # taken
])
def test_group_refusals(pharmacist, make_group, data, field):
    make_group("soy")
    with pytest.raises((ValidationError, Duplicate)) as err:
        allergens.create_group(db.session, pharmacist, data)
    assert field in err.value.fields

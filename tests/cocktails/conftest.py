"""Fixtures of the cocktail tests: a small shelf of ingredients and a pharmacist."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from formulary.cocktails.services import CocktailInput
from formulary.domain.doses import ComponentInput


@pytest.fixture
def shelf(make_ingredient):
    """Ingredients as the clinic stocks them."""
    return SimpleNamespace(
        # 5 mg/mL solution: 10 mg is 2 mL
        biotin=make_ingredient("Biotin 5 mg/mL", unit="mL", strength=("5", "mg")),
        # 1 mg/mL solution: 500 mcg is 0.5 mL
        b12=make_ingredient("Cyanocobalamin 1 mg/mL", unit="mL", strength=("1", "mg")),
        # lidocaine 2% = 20 mg/mL, at most 200 mg per session
        lidocaine=make_ingredient("Lidocaine 2% preservative-free", category="anesthetic", unit="mL",
                                  strength=("20", "mg"), max_dose=("200", "mg")),
        # a powder stocked in g: 250 mg is 0.25 g
        zinc=make_ingredient("Zinc sulfate powder", category="mineral", unit="g"),
        # a solution with no strength: mg cannot convert
        saline=make_ingredient("Sodium chloride 0.9%", category="diluent", unit="mL"),
        # stocked in IU
        vit_d=make_ingredient("Cholecalciferol", unit="IU"),
        retired=make_ingredient("Old dexpanthenol", unit="mL", strength=("250", "mg"), active=False),
    )


@pytest.fixture
def pharmacist(make_user):
    return make_user("pharmacist")


def comp(ingredient, amount, unit) -> ComponentInput:
    return ComponentInput(ingredient.id if hasattr(ingredient, "id") else ingredient, amount, unit)


def cocktail_input(*components, name="Scalp revive", area="scalp", indication="hair loss",
                   storage="fridge", notes="") -> CocktailInput:
    return CocktailInput(name=name, area=area, indication=indication, storage=storage,
                         notes=notes, components=list(components))


@pytest.fixture
def colleague(make_user):
    """A second pharmacist: approves what ``pharmacist`` wrote (four eyes, SPEC §12)."""
    return make_user("pharmacist")

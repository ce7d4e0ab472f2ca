"""An approved version never changes: the services refuse it, and the model refuses it
again at flush, whatever code path tries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from formulary.cocktails import services
from formulary.cocktails.composition import diff_versions
from formulary.cocktails.models import Component
from formulary.domain.errors import InvalidState
from tests.cocktails.conftest import cocktail_input, comp


@pytest.fixture
def approved(session, shelf, pharmacist, colleague):
    cocktail = services.create_cocktail(session, pharmacist, cocktail_input(
        comp(shelf.biotin, "10", "mg"), comp(shelf.b12, "500", "mcg")))
    version = services.approve_cocktail(session, colleague, cocktail.id)
    session.commit()
    return version


CHANGES = [
    ("area", lambda v, s: setattr(v, "area", "face")),
    ("indication", lambda v, s: setattr(v, "indication", "something else")),
    ("storage", lambda v, s: setattr(v, "storage", "room")),
    ("notes", lambda v, s: setattr(v, "notes", "changed")),
    ("number", lambda v, s: setattr(v, "number", 9)),
    ("approved_by", lambda v, s: setattr(v, "approved_by_id", None)),
    ("a component's amount", lambda v, s: setattr(v.components[0], "amount", Decimal("20"))),
    ("a component's stock quantity", lambda v, s: setattr(v.components[0], "stock_quantity", Decimal("4"))),
    ("a component's unit", lambda v, s: setattr(v.components[0], "unit", "mL")),
    ("a component removed", lambda v, s: v.components.pop()),
    ("a component deleted", lambda v, s: s.delete(v.components[0])),
    ("a component added", lambda v, s: v.components.append(Component(
        ingredient_id=s.info["zinc"], position=5, amount=Decimal("1"), unit="g",
        stock_quantity=Decimal("1"), stock_unit="g"))),
]


@pytest.mark.parametrize("label,change", CHANGES, ids=[c[0] for c in CHANGES])
@pytest.mark.parametrize("state", ["active", "superseded", "retired"])
def test_no_code_path_changes_an_approved_version(session, shelf, pharmacist, approved, label,
                                                   change, state, colleague):
    cocktail = approved.cocktail
    if state == "superseded":
        services.update_cocktail(session, pharmacist, cocktail.id, cocktail_input(comp(shelf.b12, "1", "mg")))
        services.approve_cocktail(session, colleague, cocktail.id)
    elif state == "retired":
        services.retire_cocktail(session, pharmacist, cocktail.id)
    session.commit()
    assert approved.status == state
    before = services.snapshot(cocktail, approved)
    session.info["zinc"] = shelf.zinc.id
    change(approved, session)
    with pytest.raises(InvalidState):
        session.flush()
    session.rollback()
    session.expire_all()
    assert services.snapshot(cocktail, approved)["components"] == before["components"]


def test_the_services_never_touch_an_approved_version(session, shelf, pharmacist, approved, colleague):
    cocktail = approved.cocktail
    before = services.snapshot(cocktail, approved)
    services.update_cocktail(session, pharmacist, cocktail.id, cocktail_input(
        comp(shelf.zinc, "250", "mg"), area="face", indication="other", storage="room"))
    services.update_cocktail(session, pharmacist, cocktail.id, cocktail_input(comp(shelf.zinc, "1", "g")))
    services.approve_cocktail(session, colleague, cocktail.id)
    services.retire_cocktail(session, pharmacist, cocktail.id)
    session.commit()
    session.expire_all()
    after = services.snapshot(cocktail, approved)
    assert {k: v for k, v in after.items() if k not in ("status", "cocktail_status")} == \
        {k: v for k, v in before.items() if k not in ("status", "cocktail_status")}
    assert [v.status for v in cocktail.versions] == ["superseded", "retired"]


def test_the_difference_between_two_versions(session, shelf, pharmacist, approved):
    cocktail = approved.cocktail
    v2 = services.update_cocktail(session, pharmacist, cocktail.id, cocktail_input(
        comp(shelf.biotin, "5", "mg"), comp(shelf.zinc, "250", "mg"), indication="thinning hair"))
    session.commit()
    fields, components = diff_versions(approved, v2)
    assert {f.label: f.kind for f in fields} == {"Area": "same", "Indication": "changed",
                                                 "Storage": "same", "Notes": "same"}
    assert [(c.label, c.kind) for c in components] == [
        ("Biotin 5 mg/mL", "changed"), ("Cyanocobalamin 1 mg/mL", "removed"),
        ("Zinc sulfate powder", "added")]
    assert components[0].left == "10 mg (2 mL from stock)"
    assert components[0].right == "5 mg (1 mL from stock)"

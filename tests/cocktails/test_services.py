"""The cocktail services (SPEC §5): definitions, refusals, versions, audit."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.cocktails import services
from formulary.cocktails.models import Cocktail, CocktailVersion
from formulary.domain.errors import Duplicate, InvalidState, ValidationError
from tests.cocktails.conftest import cocktail_input, comp


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def audit_actions(session) -> list[str]:
    return list(session.execute(select(AuditEntry.action).where(AuditEntry.object_type == "cocktail")
                                .order_by(AuditEntry.seq)).scalars())


def test_a_new_cocktail_is_draft_version_1_with_stock_quantities(session, shelf, pharmacist):
    cocktail = services.create_cocktail(session, pharmacist, cocktail_input(
        comp(shelf.biotin, "10", "mg"),     # 10 mg of 5 mg/mL is 2 mL
        comp(shelf.b12, "500", "mcg"),      # 500 mcg of 1 mg/mL is 0.5 mL
        comp(shelf.zinc, "250", "mg"),      # 250 mg of a powder stocked in g is 0.25 g
        name="  Scalp   revive ", storage=""))
    session.commit()
    assert cocktail.name == "Scalp revive" and cocktail.name_key == "scalp revive"
    assert cocktail.status == "draft" and cocktail.active_version_id is None
    (version,) = cocktail.versions
    assert (version.number, version.status, version.storage) == (1, "draft", "fridge")
    assert [(c.stock_quantity, c.stock_unit) for c in version.components] == [
        (Decimal("2"), "mL"), (Decimal("0.5"), "mL"), (Decimal("0.25"), "g")]
    assert [(c.amount, c.unit) for c in version.components] == [
        (Decimal("10"), "mg"), (Decimal("500"), "mcg"), (Decimal("250"), "mg")]
    assert audit_actions(session) == ["cocktail.create"]
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "cocktail.create")).scalar_one()
    assert json.loads(entry.after)["components"][0]["stock_quantity"] == "2"


REFUSALS = [
    # (label, components factory, other fields, field that carries the message)
    ("no component", lambda s: [], {}, "components"),
    ("same ingredient twice",
     lambda s: [comp(s.biotin, "10", "mg"), comp(s.biotin, "1", "mL")], {}, "components.1.ingredient_id"),
    ("amount zero", lambda s: [comp(s.biotin, "0", "mg")], {}, "components.0.amount"),
    ("amount negative", lambda s: [comp(s.biotin, "-1", "mL")], {}, "components.0.amount"),
    ("amount not a number", lambda s: [comp(s.biotin, "two", "mL")], {}, "components.0.amount"),
    ("more than 4 decimal places", lambda s: [comp(s.biotin, "0.00001", "mL")], {}, "components.0.amount"),
    ("mg of a solution with no strength", lambda s: [comp(s.saline, "5", "mg")], {}, "components.0.unit"),
    ("IU into mg (a powder in g)", lambda s: [comp(s.zinc, "100", "IU")], {}, "components.0.unit"),
    ("mL into IU", lambda s: [comp(s.vit_d, "1", "mL")], {}, "components.0.unit"),
    ("unknown unit", lambda s: [comp(s.biotin, "1", "drops")], {}, "components.0.unit"),
    ("over the maximum dose per session (11 mL of 20 mg/mL = 220 mg > 200 mg)",
     lambda s: [comp(s.lidocaine, "11", "mL")], {}, "components.0.amount"),
    ("unknown ingredient", lambda s: [comp(999999, "1", "mL")], {}, "components.0.ingredient_id"),
    ("a retired ingredient", lambda s: [comp(s.retired, "1", "mL")], {}, "components.0.ingredient_id"),
    ("no name", lambda s: [comp(s.biotin, "1", "mL")], {"name": "  "}, "name"),
    ("unknown area", lambda s: [comp(s.biotin, "1", "mL")], {"area": "elbow"}, "area"),
    ("no area", lambda s: [comp(s.biotin, "1", "mL")], {"area": ""}, "area"),
    ("unknown storage", lambda s: [comp(s.biotin, "1", "mL")], {"storage": "freezer"}, "storage"),
]


@pytest.mark.parametrize("label,components,fields,field", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_name_the_field_and_change_nothing(session, shelf, pharmacist, label, components,
                                                   fields, field):
    with pytest.raises(ValidationError) as caught:
        services.create_cocktail(session, pharmacist, cocktail_input(*components(shelf), **fields))
    assert field in caught.value.fields, caught.value.fields
    session.rollback()
    assert count(session, Cocktail) == 0 and count(session, CocktailVersion) == 0
    session.commit()
    assert audit_actions(session) == []


def test_exactly_the_maximum_dose_is_accepted(session, shelf, pharmacist):
    cocktail = services.create_cocktail(session, pharmacist, cocktail_input(
        comp(shelf.lidocaine, "200", "mg")))
    assert cocktail.versions[0].components[0].stock_quantity == Decimal("10")


def test_a_retired_ingredient_is_named_as_such(session, shelf, pharmacist):
    with pytest.raises(ValidationError) as caught:
        services.create_cocktail(session, pharmacist, cocktail_input(comp(shelf.retired, "1", "mL")))
    assert "no longer active" in caught.value.fields["components.0.ingredient_id"][0]


@pytest.mark.parametrize("taken", ["Scalp Revive", "SCALP  REVIVE", " scalp revive "])
def test_a_name_already_taken_is_a_duplicate_whatever_its_case(session, shelf, pharmacist, taken):
    services.create_cocktail(session, pharmacist, cocktail_input(comp(shelf.biotin, "1", "mL")))
    session.commit()
    with pytest.raises(Duplicate) as caught:
        services.create_cocktail(session, pharmacist, cocktail_input(
            comp(shelf.biotin, "1", "mL"), name=taken))
    assert "name" in caught.value.fields
    session.rollback()
    assert count(session, Cocktail) == 1


def test_every_problem_is_reported_at_once(session, shelf, pharmacist):
    with pytest.raises(ValidationError) as caught:
        services.create_cocktail(session, pharmacist, cocktail_input(
            comp(shelf.biotin, "0", "mg"), comp(shelf.saline, "1", "mg"), name="", area="knee"))
    assert set(caught.value.fields) == {"name", "area", "components.0.amount", "components.1.unit"}


def _draft(session, shelf, pharmacist, **kw):
    cocktail = services.create_cocktail(session, pharmacist, cocktail_input(
        comp(shelf.biotin, "10", "mg"), comp(shelf.lidocaine, "0.5", "mL"), **kw))
    session.commit()
    return cocktail


def test_approve_makes_the_draft_active(session, shelf, pharmacist, make_user):
    cocktail = _draft(session, shelf, pharmacist)
    approver = make_user("pharmacist")
    version = services.approve_cocktail(session, approver, cocktail.id)
    session.commit()
    assert (version.status, version.approved_by_id) == ("active", approver.id)
    assert version.approved_at is not None
    assert cocktail.status == "active" and cocktail.active_version_id == version.id
    with pytest.raises(InvalidState):  # approving an active one
        services.approve_cocktail(session, approver, cocktail.id)
    session.rollback()
    assert audit_actions(session) == ["cocktail.create", "cocktail.approve"]


def test_editing_an_active_cocktail_makes_the_next_draft_and_keeps_the_active_one(
        session, shelf, pharmacist, colleague):
    cocktail = _draft(session, shelf, pharmacist)
    v1 = services.approve_cocktail(session, colleague, cocktail.id)
    session.commit()
    v1_before = services.snapshot(cocktail, v1)

    v2 = services.update_cocktail(session, pharmacist, cocktail.id, cocktail_input(
        comp(shelf.biotin, "5", "mg"), comp(shelf.b12, "500", "mcg"), indication="thinning hair"))
    session.commit()
    assert (v2.number, v2.status) == (2, "draft")
    assert cocktail.active_version_id == v1.id and v1.status == "active"
    assert cocktail.status == "active"

    # editing again changes the same draft in place
    again = services.update_cocktail(session, pharmacist, cocktail.id, cocktail_input(
        comp(shelf.b12, "1", "mg"), indication="thinning hair"))
    session.commit()
    assert again.id == v2.id and len(cocktail.versions) == 2
    assert [(c.ingredient_id, c.stock_quantity) for c in again.components] == [(shelf.b12.id, Decimal("1"))]

    services.approve_cocktail(session, colleague, cocktail.id, version_number=2)
    session.commit()
    session.expire_all()
    v1 = session.get(CocktailVersion, v1.id)
    assert v1.status == "superseded" and cocktail.active_version_id == v2.id
    after = services.snapshot(cocktail, v1)
    for key in ("version", "area", "indication", "storage", "components"):
        assert after[key] == v1_before[key]  # v1 never changed
    assert audit_actions(session) == ["cocktail.create", "cocktail.approve", "cocktail.new_version",
                                      "cocktail.edit_draft", "cocktail.approve"]


def test_approving_a_version_other_than_the_draft_is_refused(session, shelf, pharmacist, colleague):
    cocktail = _draft(session, shelf, pharmacist)
    with pytest.raises(InvalidState) as caught:
        services.approve_cocktail(session, colleague, cocktail.id, version_number=2)
    assert "version" in caught.value.fields


def test_approval_checks_the_ingredients_again(session, shelf, pharmacist, colleague):
    cocktail = _draft(session, shelf, pharmacist)
    shelf.lidocaine.active = False
    session.commit()
    with pytest.raises(ValidationError) as caught:
        services.approve_cocktail(session, colleague, cocktail.id)
    assert "components.1.ingredient_id" in caught.value.fields
    session.rollback()
    assert session.get(Cocktail, cocktail.id).status == "draft"


def test_retire(session, shelf, pharmacist, colleague):
    cocktail = _draft(session, shelf, pharmacist)
    services.approve_cocktail(session, colleague, cocktail.id)
    services.update_cocktail(session, pharmacist, cocktail.id, cocktail_input(comp(shelf.b12, "1", "mg")))
    services.retire_cocktail(session, pharmacist, cocktail.id, reason="replaced by a new formula")
    session.commit()
    assert cocktail.status == "retired"
    assert [v.status for v in cocktail.versions] == ["retired", "retired"]
    for refused in (lambda: services.retire_cocktail(session, pharmacist, cocktail.id),
                    lambda: services.approve_cocktail(session, colleague, cocktail.id),
                    lambda: services.update_cocktail(session, pharmacist, cocktail.id,
                                                     cocktail_input(comp(shelf.b12, "1", "mg")))):
        with pytest.raises(InvalidState):
            refused()
        session.rollback()
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "cocktail.retire")).scalar_one()
    assert entry.reason == "replaced by a new formula"


def test_a_draft_can_be_retired_and_then_never_approved(session, shelf, pharmacist, colleague):
    cocktail = _draft(session, shelf, pharmacist)
    services.retire_cocktail(session, pharmacist, cocktail.id)
    session.commit()
    with pytest.raises(InvalidState):
        services.approve_cocktail(session, colleague, cocktail.id)


def test_renaming_checks_the_name(session, shelf, pharmacist):
    _draft(session, shelf, pharmacist, name="Alpha")
    beta = _draft(session, shelf, pharmacist, name="Beta")
    with pytest.raises(Duplicate):
        services.update_cocktail(session, pharmacist, beta.id, cocktail_input(
            comp(shelf.biotin, "1", "mL"), name="ALPHA"))
    session.rollback()
    services.update_cocktail(session, pharmacist, beta.id, cocktail_input(
        comp(shelf.biotin, "1", "mL"), name="beta"))  # its own name, in another case
    session.commit()
    assert session.get(Cocktail, beta.id).name == "beta"


def test_the_list_filters_by_area_status_and_search(session, shelf, pharmacist, colleague):
    scalp = _draft(session, shelf, pharmacist, name="Scalp A", area="scalp", indication="hair loss")
    _draft(session, shelf, pharmacist, name="Face B", area="face", indication="rejuvenation")
    services.approve_cocktail(session, colleague, scalp.id)
    session.commit()

    def names(**kw):
        return [c.name for c in session.execute(services.list_statement(**kw)).scalars()]

    assert names() == ["Face B", "Scalp A"]
    assert names(area="scalp") == ["Scalp A"]
    assert names(status="active") == ["Scalp A"]
    assert names(status="draft") == ["Face B"]
    assert names(q="REJUV") == ["Face B"]
    assert names(q="scalp") == ["Scalp A"]
    assert names(indication="hair") == ["Scalp A"]

"""The safety screen of a patient against cocktails, over the database (SPEC §6).

Loads the rows the pure screen (:mod:`formulary.domain.safety`) needs and calls it. Every
loader runs a fixed number of SQL statements, whatever the number of cocktails,
components, allergies or groups: ids are selected through subqueries, or sent as one
``IN (...)`` list while it is short (a page's versions; up to :data:`MAX_LISTED_IDS`
ingredients), never split in chunks as SQLAlchemy's ``selectinload`` does.

- :func:`screen_patient`: one patient against one cocktail version.
- :func:`formulation_page`: one patient against every active cocktail of an area (the
  formulation picker), ranked safe, caution, blocked, then by name; the findings built
  only for the page shown. :func:`formulations`: the same, every cocktail in full.

Neither reads ``current_user``; neither writes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import String, bindparam, cast, exists, func, or_, select, union
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from formulary.cocktails.models import AREAS, Cocktail, CocktailVersion, Component
from formulary.domain import safety
from formulary.domain.errors import ValidationError
from formulary.inventory.models import (AllergenGroup, CrossReactivity, Ingredient,
                                        IngredientContraindication, ingredient_allergen_group)
from formulary.patients.models import Allergy, Patient, PatientCondition

__all__ = ["FormulationPage", "FormulationResult", "PickerCocktail", "PickerVersion",
           "cross_reactivity", "formulation_page", "formulations", "screen_patient",
           "screen_values"]


class PickerCocktail(NamedTuple):
    """An active cocktail as the picker shows it (a plain value, not the ORM object)."""

    id: int
    name: str


class PickerVersion(NamedTuple):
    """The cocktail's active version as the picker shows it."""

    id: int
    number: int
    area: str
    indication: str


@dataclass(frozen=True)
class FormulationResult:
    """One active cocktail of the picker with its screen for the patient."""

    cocktail: PickerCocktail
    version: PickerVersion
    result: safety.ScreenResult
    #: the version's ingredients as screened (id, name, groups), in component order
    ingredients: tuple[safety.ScreenIngredient, ...] = ()

    @property
    def verdict(self) -> str:
        return self.result.verdict

    @property
    def findings(self) -> tuple[safety.Finding, ...]:
        return self.result.findings


@dataclass(frozen=True)
class FormulationPage:
    """One page of the picker: its cocktails with every finding, how many cocktails of
    each verdict there are in all, and the patient as screened (allergies by id,
    conditions), read in the same transaction."""

    items: list[FormulationResult]
    total: int
    counts: dict[str, int]
    patient: safety.ScreenPatient


# --------------------------------------------------------------------------- loaders

# Statements that do not depend on the request are built once, here (over the tables:
# the ORM's classes are not all mapped yet when this module is imported): building them
# is a good part of what a short statement costs.
_allergy_t, _condition_t = Allergy.__table__, PatientCondition.__table__
_group_t, _cross_t = AllergenGroup.__table__, CrossReactivity.__table__
_ga, _gb = _group_t.alias("group_a"), _group_t.alias("group_b")
_CROSS_REACTIVITY = select(_ga.c.name, _gb.c.name).select_from(
    _cross_t.join(_ga, _ga.c.id == _cross_t.c.group_a_id)
    .join(_gb, _gb.c.id == _cross_t.c.group_b_id))
_ALLERGIES = (select(_allergy_t.c.id, _allergy_t.c.status, _allergy_t.c.severity,
                     _allergy_t.c.reaction, _allergy_t.c.ingredient_id,
                     _allergy_t.c.allergen_group_id, _allergy_t.c.substance,
                     Ingredient.__table__.c.name, _group_t.c.name)
              .select_from(_allergy_t
                           .outerjoin(Ingredient.__table__,
                                      Ingredient.__table__.c.id == _allergy_t.c.ingredient_id)
                           .outerjoin(_group_t, _group_t.c.id == _allergy_t.c.allergen_group_id))
              .where(_allergy_t.c.patient_id == bindparam("patient_id"))
              .order_by(_allergy_t.c.id))
_CONDITIONS = (select(_condition_t.c.condition)
               .where(_condition_t.c.patient_id == bindparam("patient_id")))


def cross_reactivity(session: Session) -> safety.CrossReactivity:
    """The table of groups that cross-react, by name (one statement)."""
    rows = session.execute(_CROSS_REACTIVITY).all()
    return safety.CrossReactivity((a, b) for a, b in rows if a and b)


def _allergy_ingredient_ids(patient_id: int):
    return (select(Allergy.ingredient_id)
            .where(Allergy.patient_id == patient_id, Allergy.ingredient_id.is_not(None)))


def _group_names(session: Session, ingredient_ids) -> dict[int, list[str]]:
    """Allergen group names per ingredient, for the ingredients of a subquery."""
    iag = ingredient_allergen_group
    rows = session.execute(
        select(iag.c.ingredient_id, AllergenGroup.name)
        .join(AllergenGroup, AllergenGroup.id == iag.c.allergen_group_id)
        .where(iag.c.ingredient_id.in_(ingredient_ids))
    ).all()
    out: dict[int, list[str]] = defaultdict(list)
    for ingredient_id, name in rows:
        out[ingredient_id].append(name)
    return out


def _contraindications(session: Session, ingredient_ids) -> dict[int, list[str]]:
    rows = session.execute(
        select(IngredientContraindication.ingredient_id, IngredientContraindication.condition)
        .where(IngredientContraindication.ingredient_id.in_(ingredient_ids))
    ).all()
    out: dict[int, list[str]] = defaultdict(list)
    for ingredient_id, condition in rows:
        if condition in safety.CONDITIONS:
            out[ingredient_id].append(condition)
    return out


def _screen_patient_value(session: Session, patient: Patient,
                          groups: dict[int, list[str]]) -> safety.ScreenPatient:
    """The patient as the pure screen sees it (two statements). ``groups`` must hold
    the groups of every ingredient the patient is allergic to."""
    allergies = []
    for (allergy_id, status, severity, reaction, ingredient_id, group_id, substance,
         ingredient_name, group_name) in session.execute(_ALLERGIES, {"patient_id": patient.id}).all():
        allergies.append(safety.ScreenAllergy(
            id=allergy_id, status=status, severity=severity, reaction=reaction or None,
            ingredient_id=ingredient_id,
            ingredient_name=ingredient_name if ingredient_id is not None else None,
            ingredient_groups=frozenset(groups.get(ingredient_id, ()))
            if ingredient_id is not None else frozenset(),
            group=group_name if group_id is not None else None,
            substance=substance if substance else None,
        ))
    conditions = session.execute(_CONDITIONS, {"patient_id": patient.id}).scalars().all()
    return safety.ScreenPatient(
        allergy_status=patient.allergy_status, allergies=tuple(allergies),
        conditions=frozenset(c for c in conditions if c in safety.CONDITIONS))


def _screen_ingredient(ing: Ingredient, groups, contra) -> safety.ScreenIngredient:
    return safety.ScreenIngredient(id=ing.id, name=ing.name,
                                   groups=frozenset(groups.get(ing.id, ())),
                                   contraindications=frozenset(contra.get(ing.id, ())))


def _attach_components(versions: dict[int, CocktailVersion], rows) -> dict[int, list[Ingredient]]:
    """Put the loaded components on their versions (so reading ``version.components``
    or ``component.ingredient`` later sends no query); answer the ingredients per version."""
    per_version: dict[int, list[Component]] = defaultdict(list)
    ingredients: dict[int, list[Ingredient]] = defaultdict(list)
    for component, ingredient in rows:
        set_committed_value(component, "ingredient", ingredient)
        per_version[component.version_id].append(component)
        ingredients[component.version_id].append(ingredient)
    for version_id, version in versions.items():
        comps = sorted(per_version.get(version_id, []), key=lambda c: (c.position, c.id))
        set_committed_value(version, "components", comps)
    return ingredients


# --------------------------------------------------------------------------- screens

def screen_values(session: Session, patient: Patient) -> tuple[safety.ScreenPatient,
                                                                safety.CrossReactivity]:
    """The patient and the cross-reactivity table as the pure screen takes them."""
    groups = _group_names(session, _allergy_ingredient_ids(patient.id))
    return _screen_patient_value(session, patient, groups), cross_reactivity(session)


def screen_patient(session: Session, patient: Patient,
                   version: CocktailVersion) -> safety.ScreenResult:
    """Screen ``patient`` against one cocktail version (seven statements)."""
    component_ids = select(Component.ingredient_id).where(Component.version_id == version.id)
    rows = session.execute(
        select(Component, Ingredient)
        .join(Ingredient, Ingredient.id == Component.ingredient_id)
        .where(Component.version_id == version.id)
    ).all()
    ingredients = _attach_components({version.id: version}, rows)[version.id]
    all_ids = union(component_ids, _allergy_ingredient_ids(patient.id)).subquery()
    groups = _group_names(session, select(all_ids.c[0]))
    contra = _contraindications(session, component_ids)
    screen_patient_value = _screen_patient_value(session, patient, groups)
    cross = cross_reactivity(session)
    return safety.screen(screen_patient_value,
                         [_screen_ingredient(i, groups, contra) for i in ingredients], cross)


def check_area(area: str | None) -> str | None:
    if area is None or area == "":
        return None
    if area not in AREAS:
        raise ValidationError(f"Unknown area '{area}'; use one of: {', '.join(AREAS)}.",
                              field="area")
    return area


#: The longest list of ids sent in one ``IN (...)``; beyond, a subquery selects them.
MAX_LISTED_IDS = 900

_cocktail, _version = Cocktail.__table__, CocktailVersion.__table__
_component, _ingredient, _group = Component.__table__, Ingredient.__table__, _group_t
_contra = IngredientContraindication.__table__
_ACTIVE_VERSIONS = _cocktail.join(_version, _version.c.id == _cocktail.c.active_version_id)
_IN_USE = _ACTIVE_VERSIONS.join(_component, _component.c.version_id == _version.c.id)


def _active(by_area: bool, stmt):
    """``stmt`` (over cocktails joined to their active version) for the active cocktails,
    of the area given as the parameter ``area`` when ``by_area``."""
    stmt = stmt.where(_cocktail.c.status == "active")
    return stmt.where(_version.c.area == bindparam("area")) if by_area else stmt


# The picker's statements, built once (by whether they filter by area; for the ids of the
# ingredients, by whether they are listed or selected): building and coercing them took
# as long as SQLite took to run them.
_ID_LIST = (select(func.aggregate_strings(cast(_component.c.ingredient_id, String), ","))
            .where(_component.c.version_id == _version.c.id).scalar_subquery())
_COCKTAILS = {by_area: _active(by_area, select(
    _cocktail.c.id, _cocktail.c.name, _version.c.id, _version.c.number, _version.c.area,
    _version.c.indication, _ID_LIST).select_from(_ACTIVE_VERSIONS).order_by(_cocktail.c.id))
    for by_area in (False, True)}
_ALLERGY_INGREDIENTS = select(_allergy_t.c.ingredient_id).where(
    _allergy_t.c.patient_id == bindparam("patient_id"), _allergy_t.c.ingredient_id.is_not(None))


def _ingredients_statement(in_use):
    iag = ingredient_allergen_group
    return (select(_ingredient.c.id, _ingredient.c.name, _group.c.name, _contra.c.condition)
            .select_from(_ingredient
                         .outerjoin(iag, iag.c.ingredient_id == _ingredient.c.id)
                         .outerjoin(_group, _group.c.id == iag.c.allergen_group_id)
                         .outerjoin(_contra, _contra.c.ingredient_id == _ingredient.c.id))
            .where(or_(in_use, _ingredient.c.id.in_(_ALLERGY_INGREDIENTS))))


#: Keyed "listed" for the ids sent as the list ``ids``; ("selected", by_area) for those
#: selected again by the database.
_INGREDIENTS = {
    "listed": _ingredients_statement(
        _ingredient.c.id.in_(bindparam("ids", expanding=True))),
    **{("selected", by_area): _ingredients_statement(exists(_active(
        by_area, select(_component.c.id).select_from(_IN_USE)
        .where(_component.c.ingredient_id == _ingredient.c.id))))
       for by_area in (False, True)},
}
_COMPONENT_ORDER = (_component.c.version_id, _component.c.position, _component.c.id)
#: Keyed "listed" for the versions sent as the list ``versions``; else by_area.
_ORDERED_COMPONENTS = {
    "listed": select(_component.c.version_id, _component.c.ingredient_id)
    .where(_component.c.version_id.in_(bindparam("versions", expanding=True)))
    .order_by(*_COMPONENT_ORDER),
    **{by_area: _active(by_area, select(_component.c.version_id, _component.c.ingredient_id)
                        .select_from(_IN_USE)).order_by(*_COMPONENT_ORDER)
       for by_area in (False, True)},
}


def _active_formulations(session: Session, patient: Patient, area: str | None):
    """Every active cocktail (its active version) of ``area``, by id, as rows ``(cocktail
    id, name, version id, number, area, indication, ingredient ids)`` with the ids spelt
    as one string ("3,17,42", in no particular order; None for no component); the value
    of every ingredient they hold, by its id as spelt there; and the patient's prepared
    screen. Five statements, whatever the number of cocktails and allergies. Core
    statements over the tables: the picker reads every active cocktail, too many to build
    ORM objects (or even to fetch one row per component) for."""
    by_area = area is not None
    cocktails = session.execute(_COCKTAILS[by_area], {"area": area} if by_area else {}).all()
    # The ingredients of those cocktails and those the patient is allergic to, each with
    # its groups and contraindications (a row per pair: few per ingredient). Their ids
    # are those the aggregate spelt: sent as a list while it is short, else selected
    # again by the database.
    spelt = ",".join([row[6] for row in cocktails if row[6]])
    in_use = set(spelt.split(",")) if spelt else set()
    params: dict = {"patient_id": patient.id}
    if len(in_use) <= MAX_LISTED_IDS:
        stmt = _INGREDIENTS["listed"]
        params["ids"] = sorted(int(i) for i in in_use)
    else:
        stmt = _INGREDIENTS["selected", by_area]
        if by_area:
            params["area"] = area
    names: dict[int, str] = {}
    groups: dict[int, set[str]] = defaultdict(set)
    contra: dict[int, set[str]] = defaultdict(set)
    for ingredient_id, name, group, condition in session.execute(stmt, params).all():
        names[ingredient_id] = name
        if group is not None:
            groups[ingredient_id].add(group)
        if condition in safety.CONDITIONS:
            contra[ingredient_id].add(condition)
    patient_value = _screen_patient_value(session, patient, groups)
    screen = safety.PatientScreen(patient_value, cross_reactivity(session))

    # One value per ingredient in use, shared by every cocktail holding it (the screen
    # works each out once), by its id as the aggregate spells it.
    values = {str(ingredient_id): safety.ScreenIngredient(
        id=ingredient_id, name=name, groups=frozenset(groups.get(ingredient_id, ())),
        contraindications=frozenset(contra.get(ingredient_id, ())))
        for ingredient_id, name in names.items() if str(ingredient_id) in in_use}
    return cocktails, values, screen


def _component_order(session: Session, area: str | None,
                     versions: list[int] | None) -> dict[int, list[int]]:
    """The ingredient ids of the given versions (every active one of ``area`` when None)
    in component order (position, then id): one statement."""
    if versions is not None:
        rows = session.execute(_ORDERED_COMPONENTS["listed"], {"versions": versions})
    elif area is not None:
        rows = session.execute(_ORDERED_COMPONENTS[True], {"area": area})
    else:
        rows = session.execute(_ORDERED_COMPONENTS[False])
    order: dict[int, list[int]] = defaultdict(list)
    for version_id, ingredient_id in rows.all():
        order[version_id].append(ingredient_id)
    return order


def formulation_page(session: Session, patient: Patient, area: str | None, *,
                     offset: int = 0, limit: int | None = None) -> FormulationPage:
    """Every active cocktail (its active version) of ``area`` (every area when None)
    screened for ``patient``: safe first, then caution, then blocked; by name within a
    verdict. Every cocktail is ranked and counted by its verdict; the findings are built
    only for the ``limit`` cocktails from ``offset`` (every one when ``limit`` is None).
    Six statements, whatever the number of cocktails and allergies."""
    area = check_area(area)
    offset = max(0, offset)
    cocktails, values, screen = _active_formulations(session, patient, area)
    # Every cocktail's verdict from its ingredients' flags, each worked out once: a tight
    # loop over the spelt ids, no value or list built per cocktail.
    flags = {spelt: screen.flags(value) for spelt, value in values.items()}
    verdict_of_flags, key = screen.verdict_of_flags, safety.formulation_key
    counts = dict.fromkeys(safety.VERDICTS, 0)
    ranked = []
    for n, row in enumerate(cocktails):
        bits = 0
        if row[6]:
            for spelt in row[6].split(","):
                bits |= flags[spelt]
        verdict = verdict_of_flags(bits)
        counts[verdict] += 1
        ranked.append((key(verdict, row[1]), n, verdict))
    ranked.sort()  # n (the order of the ids) breaks ties: the verdict is never compared
    chosen = ranked[offset:] if limit is None else ranked[offset:offset + max(0, limit)]
    order = _component_order(session, area, None if limit is None else
                             [cocktails[n][2] for _, n, _ in chosen])
    items = []
    for _, n, verdict in chosen:
        c_id, c_name, v_id, number, v_area, indication, ingredient_ids = cocktails[n]
        # The components read twice (the ranking's and the order's) must be the same
        # (an active version does not change): none screened may be left out.
        by_id = {value.id: value for value in
                 (values[spelt] for spelt in (ingredient_ids.split(",") if ingredient_ids else ()))}
        in_order = order.get(v_id, ())
        ordered = [by_id.pop(i) for i in in_order if i in by_id]
        if by_id or len(ordered) != len(in_order):
            raise RuntimeError(f"the components of {c_name} changed while screened")
        ingredients = tuple(ordered)
        result = screen(ingredients)
        if result.verdict != verdict:  # never: the verdict follows from the findings
            raise RuntimeError(f"{c_name} was ranked {verdict} but screened {result.verdict}")
        items.append(FormulationResult(PickerCocktail(c_id, c_name),
                                       PickerVersion(v_id, number, v_area, indication or ""),
                                       result, ingredients))
    return FormulationPage(items, len(cocktails), counts, screen.patient)


def formulations(session: Session, patient: Patient,
                 area: str | None) -> list[FormulationResult]:
    """Every active cocktail of ``area`` with every finding, ranked (see
    :func:`formulation_page`)."""
    return formulation_page(session, patient, area).items

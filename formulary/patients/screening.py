"""The safety screen of a patient against cocktails, over the database (SPEC §6).

Loads the rows the pure screen (:mod:`formulary.domain.safety`) needs and calls it. Every
loader runs a fixed number of SQL statements, whatever the number of cocktails,
components, allergies or groups: ids are selected through subqueries, never sent as
long ``IN (...)`` lists (which SQLAlchemy's ``selectinload`` splits in chunks of 500).

- :func:`screen_patient`: one patient against one cocktail version.
- :func:`formulation_page`: one patient against every active cocktail of an area (the
  formulation picker), ranked safe, caution, blocked, then by name; the findings built
  only for the page shown. :func:`formulations`: the same, every cocktail in full.

Neither reads ``current_user``; neither writes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select, union
from sqlalchemy.orm import Session, aliased
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


@dataclass(frozen=True, slots=True)
class PickerCocktail:
    """An active cocktail as the picker shows it (a plain value, not the ORM object)."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class PickerVersion:
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
    """One page of the picker: its cocktails with every finding, and how many cocktails
    of each verdict there are in all."""

    items: list[FormulationResult]
    total: int
    counts: dict[str, int]


# --------------------------------------------------------------------------- loaders

def cross_reactivity(session: Session) -> safety.CrossReactivity:
    """The table of groups that cross-react, by name (one statement)."""
    ga, gb = aliased(AllergenGroup), aliased(AllergenGroup)
    rows = session.execute(
        select(ga.name, gb.name)
        .select_from(CrossReactivity)
        .join(ga, ga.id == CrossReactivity.group_a_id)
        .join(gb, gb.id == CrossReactivity.group_b_id)
    ).all()
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
    rows = session.execute(
        select(Allergy, Ingredient.name, AllergenGroup.name)
        .outerjoin(Ingredient, Ingredient.id == Allergy.ingredient_id)
        .outerjoin(AllergenGroup, AllergenGroup.id == Allergy.allergen_group_id)
        .where(Allergy.patient_id == patient.id)
        .order_by(Allergy.id)
    ).all()
    allergies = []
    for allergy, ingredient_name, group_name in rows:
        allergies.append(safety.ScreenAllergy(
            id=allergy.id, status=allergy.status, severity=allergy.severity,
            reaction=allergy.reaction or None,
            ingredient_id=allergy.ingredient_id,
            ingredient_name=ingredient_name if allergy.ingredient_id is not None else None,
            ingredient_groups=frozenset(groups.get(allergy.ingredient_id, ()))
            if allergy.ingredient_id is not None else frozenset(),
            group=group_name if allergy.allergen_group_id is not None else None,
            substance=allergy.substance if allergy.substance else None,
        ))
    conditions = session.execute(
        select(PatientCondition.condition).where(PatientCondition.patient_id == patient.id)
    ).scalars().all()
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


def _active_formulations(session: Session, patient: Patient, area: str | None):
    """Every active cocktail (its active version) of ``area``, by id, with its version
    and the components of that version as ``(position, component id, ingredient)``,
    unordered; and the patient's prepared screen. Seven statements, whatever the number
    of cocktails and allergies. Core statements over the tables, giving plain rows: the
    picker reads thousands of them, too many to build ORM objects for."""
    cocktail, version = Cocktail.__table__, CocktailVersion.__table__
    component, ingredient = Component.__table__, Ingredient.__table__
    iag = ingredient_allergen_group

    def active(stmt):
        stmt = stmt.where(cocktail.c.status == "active")
        return stmt if area is None else stmt.where(version.c.area == area)

    active_versions = cocktail.join(version, version.c.id == cocktail.c.active_version_id)
    cocktails = session.execute(active(
        select(cocktail.c.id, cocktail.c.name, version.c.id, version.c.number,
               version.c.area, version.c.indication)
        .select_from(active_versions).order_by(cocktail.c.id))).all()
    in_use = active_versions.join(component, component.c.version_id == version.c.id)
    rows = session.execute(active(
        select(component.c.version_id, component.c.ingredient_id, component.c.position,
               component.c.id).select_from(in_use))).all()
    component_ids = active(select(component.c.ingredient_id).select_from(in_use))
    all_ids = union(component_ids, _allergy_ingredient_ids(patient.id)).subquery()
    names: dict[int, str] = {}
    groups: dict[int, list[str]] = defaultdict(list)
    for ingredient_id, name, group in session.execute(
            select(ingredient.c.id, ingredient.c.name, AllergenGroup.__table__.c.name)
            .select_from(ingredient.outerjoin(iag, iag.c.ingredient_id == ingredient.c.id)
                         .outerjoin(AllergenGroup.__table__,
                                    AllergenGroup.__table__.c.id == iag.c.allergen_group_id))
            .where(ingredient.c.id.in_(select(all_ids.c[0])))):
        names[ingredient_id] = name
        if group is not None:
            groups[ingredient_id].append(group)
    contra = _contraindications(session, component_ids)
    patient_value = _screen_patient_value(session, patient, groups)
    screen = safety.PatientScreen(patient_value, cross_reactivity(session))

    # One value per ingredient, shared by every version holding it: the screen works
    # each out once.
    values: dict[int, safety.ScreenIngredient] = {}
    per_version: dict[int, list] = defaultdict(list)
    for version_id, ingredient_id, position, component_id in rows:
        value = values.get(ingredient_id)
        if value is None:
            value = values[ingredient_id] = safety.ScreenIngredient(
                id=ingredient_id, name=names[ingredient_id],
                groups=frozenset(groups.get(ingredient_id, ())),
                contraindications=frozenset(contra.get(ingredient_id, ())))
        per_version[version_id].append((position, component_id, value))
    return [(PickerCocktail(c_id, c_name), PickerVersion(v_id, number, v_area, indication or ""),
             per_version.get(v_id, []))
            for c_id, c_name, v_id, number, v_area, indication in cocktails], screen


def _in_order(component: tuple) -> tuple:
    return component[:2]  # position, then id


def formulation_page(session: Session, patient: Patient, area: str | None, *,
                     offset: int = 0, limit: int | None = None) -> FormulationPage:
    """Every active cocktail (its active version) of ``area`` (every area when None)
    screened for ``patient``: safe first, then caution, then blocked; by name within a
    verdict. Every cocktail is ranked and counted by its verdict; the findings are built
    only for the ``limit`` cocktails from ``offset`` (every one when ``limit`` is None).
    Seven statements, whatever the number of cocktails and allergies."""
    area = check_area(area)
    offset = max(0, offset)
    cocktails, screen = _active_formulations(session, patient, area)
    counts = dict.fromkeys(safety.VERDICTS, 0)
    ranked = []
    for n, (cocktail, _, components) in enumerate(cocktails):
        verdict = screen.verdict([value for _, _, value in components])
        counts[verdict] += 1
        ranked.append((safety.formulation_key(verdict, cocktail.name), n, verdict))
    ranked.sort()  # n (the order of the ids) breaks ties: the verdict is never compared
    chosen = ranked[offset:] if limit is None else ranked[offset:offset + max(0, limit)]
    items = []
    for _, n, verdict in chosen:
        cocktail, version, components = cocktails[n]
        ingredients = tuple(value for _, _, value in sorted(components, key=_in_order))
        result = screen(ingredients)
        if result.verdict != verdict:  # never: the verdict follows from the findings
            raise RuntimeError(f"{cocktail.name} was ranked {verdict} but screened "
                               f"{result.verdict}")
        items.append(FormulationResult(cocktail, version, result, ingredients))
    return FormulationPage(items, len(cocktails), counts)


def formulations(session: Session, patient: Patient,
                 area: str | None) -> list[FormulationResult]:
    """Every active cocktail of ``area`` with every finding, ranked (see
    :func:`formulation_page`)."""
    return formulation_page(session, patient, area).items

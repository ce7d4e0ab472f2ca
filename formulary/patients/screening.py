"""The safety screen of a patient against cocktails, over the database (SPEC §6).

Loads the rows the pure screen (:mod:`formulary.domain.safety`) needs and calls it. Every
loader runs a fixed number of SQL statements, whatever the number of cocktails,
components, allergies or groups: ids are selected through subqueries, never sent in
chunks as SQLAlchemy's ``selectinload`` does. The picker reads the formulary side from
the snapshot kept under the formulary revision (:mod:`formulary.patients.screen_snapshot`).

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

from sqlalchemy import bindparam, select, union
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from formulary.cocktails.models import AREAS, CocktailVersion, Component
from formulary.domain import safety
from formulary.domain.errors import ValidationError
from formulary.inventory.models import (AllergenGroup, Ingredient, IngredientContraindication,
                                        ingredient_allergen_group)
from formulary.patients import screen_snapshot
from formulary.patients.models import Allergy, Patient, PatientCondition
from formulary.patients.screen_snapshot import cross_reactivity

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
_group_t = AllergenGroup.__table__
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


class _GroupsOf:
    """The groups of the snapshot's ingredients, by ingredient id, as ``dict.get``."""

    __slots__ = ("_ingredients",)

    def __init__(self, ingredients):
        self._ingredients = ingredients

    def get(self, ingredient_id: int, default=()):
        ing = self._ingredients.get(ingredient_id)
        return default if ing is None else ing.groups


def _screen_patient_value(session: Session, patient: Patient, groups) -> safety.ScreenPatient:
    """The patient as the pure screen sees it (two statements). ``groups.get(id, ())``
    must give the groups of every ingredient the patient is allergic to."""
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


def formulation_page(session: Session, patient: Patient, area: str | None, *,
                     offset: int = 0, limit: int | None = None) -> FormulationPage:
    """Every active cocktail (its active version) of ``area`` (every area when None)
    screened for ``patient``: safe first, then caution, then blocked; by name within a
    verdict. Every cocktail is ranked and counted by its verdict; the findings are built
    only for the ``limit`` cocktails from ``offset`` (every one when ``limit`` is None).

    The formulary side is the snapshot at the current formulary revision
    (``screen_snapshot``: one statement when kept, four more when read); the patient's
    allergies and conditions are read every time (two statements)."""
    area = check_area(area)
    offset = max(0, offset)
    snapshot = screen_snapshot.current(session)
    patient_value = _screen_patient_value(session, patient, _GroupsOf(snapshot.ingredients))
    if any(a.ingredient_id is not None and a.ingredient_id not in snapshot.ingredients
           for a in patient_value.allergies):
        # An allergy to an ingredient committed after the revision was read (PostgreSQL
        # reads each statement's latest commits): read again, the ingredient is there now.
        snapshot = screen_snapshot.current(session)
        patient_value = _screen_patient_value(session, patient, _GroupsOf(snapshot.ingredients))
    ingredients = snapshot.ingredients
    screen = safety.PatientScreen(patient_value, snapshot.cross)
    # Every cocktail's verdict from its ingredients' flags, each worked out once: a tight
    # loop over the ids, no value or list built per cocktail.
    flags = {i: screen.flags(ingredients[i]) for i in snapshot.in_use.get(area, ())}
    verdict_of_flags, rank_of = screen.verdict_of_flags, safety.formulation_key
    counts = dict.fromkeys(safety.VERDICTS, 0)
    listed = snapshot.of_area(area)
    ranked = []
    for n, cocktail in enumerate(listed):
        bits = 0
        for i in cocktail.ingredient_ids:
            bits |= flags[i]
        verdict = verdict_of_flags(bits)
        counts[verdict] += 1
        # formulation_key(verdict, name), its name part worked out once per revision
        ranked.append((rank_of(verdict), cocktail.name_order, n, verdict))
    ranked.sort()  # n (the order of the ids) breaks ties: the verdict is never compared
    chosen = ranked[offset:] if limit is None else ranked[offset:offset + max(0, limit)]
    items = []
    for _, _, n, verdict in chosen:
        cocktail = listed[n]
        shown = tuple(ingredients[i] for i in cocktail.ingredient_ids)
        result = screen(shown)
        if result.verdict != verdict:  # never: the verdict follows from the findings
            raise RuntimeError(f"{cocktail.name} was ranked {verdict} but screened {result.verdict}")
        items.append(FormulationResult(
            PickerCocktail(cocktail.id, cocktail.name),
            PickerVersion(cocktail.version_id, cocktail.number, cocktail.area, cocktail.indication),
            result, shown))
    return FormulationPage(items, len(listed), counts, screen.patient)


def formulations(session: Session, patient: Patient,
                 area: str | None) -> list[FormulationResult]:
    """Every active cocktail of ``area`` with every finding, ranked (see
    :func:`formulation_page`)."""
    return formulation_page(session, patient, area).items

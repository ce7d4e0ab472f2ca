"""The safety screen of a patient against cocktails, over the database (SPEC §6).

Loads the rows the pure screen (:mod:`formulary.domain.safety`) needs and calls it. Every
loader runs a fixed number of SQL statements, whatever the number of cocktails,
components, allergies or groups, never in chunks as SQLAlchemy's ``selectinload`` does.
Both screens take the formulary side (ingredients with their groups and
contraindications, the cross-reactivity table, the picker's active cocktails) from the
snapshot kept under the formulary revision (:mod:`formulary.patients.screen_snapshot`);
the patient is read every time.

- :func:`screen_patient`: one patient against one cocktail version.
- :func:`formulation_page`: one patient against every active cocktail of an area (the
  formulation picker), ranked safe, caution, blocked, then by name; the findings built
  only for the page shown. :func:`formulations`: the same, every cocktail in full.

Neither reads ``current_user``; neither writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from formulary.cocktails.models import AREAS, CocktailVersion, Component
from formulary.domain import safety
from formulary.domain.allergen_text import _words as words_of
from formulary.domain.errors import ValidationError
from formulary.domain.messages import msg
from formulary.inventory.models import AllergenGroup, Ingredient
from formulary.patients import screen_snapshot
from formulary.patients.models import Allergy, Patient, PatientCondition
from formulary.patients.screen_snapshot import cross_reactivity

__all__ = ["FormulationPage", "FormulationResult", "PickerCocktail", "PickerVersion",
           "cross_reactivity", "formulation_page", "formulations", "screen_patient"]


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


_names_index: list = [None, None]  # [the snapshot's ingredients mapping, its word index]


def formulary_names(ingredients: Mapping[int, safety.ScreenIngredient]) -> dict[str, tuple[str, ...]]:
    """Every ingredient's name and every allergen group an ingredient belongs to (a group
    with no ingredient is in no cocktail), indexed by their words: what a free-text
    allergy may name. Built once per formulary snapshot (kept with the last one)."""
    if _names_index[0] is ingredients:
        return _names_index[1]
    names = {ing.name for ing in ingredients.values()}
    names.update(g for ing in ingredients.values() for g in ing.groups)
    index: dict[str, list[str]] = {}
    for name in sorted(names):
        for word in set(words_of(name)):
            index.setdefault(word, []).append(name)
    frozen = {word: tuple(found) for word, found in index.items()}
    _names_index[:] = [ingredients, frozen]
    return frozen


def named_by(text: str, index: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The names of ``index`` (``formulary_names``) that the free text ``text`` names (the
    screen's rule, ``free_text_names``: a name it names shares a word with it)."""
    candidates = sorted({name for word in set(words_of(text)) for name in index.get(word, ())})
    return tuple(name for name in candidates if safety.free_text_names(text, name))


def _screen_patient_value(session: Session, patient: Patient,
                          ingredients: Mapping[int, safety.ScreenIngredient]) -> safety.ScreenPatient:
    """The patient as the pure screen sees it (two statements), an allergy to an
    ingredient with that ingredient's groups as ``ingredients`` (the snapshot's) has them
    (none when it is missing there: see ``_screen_inputs``)."""
    allergies = []
    known_names = None
    for (allergy_id, status, severity, reaction, ingredient_id, group_id, substance,
         ingredient_name, group_name) in session.execute(_ALLERGIES, {"patient_id": patient.id}).all():
        names_known: tuple[str, ...] = ()
        if substance and status == "active":
            if known_names is None:
                known_names = formulary_names(ingredients)
            names_known = named_by(substance, known_names)
        allergies.append(safety.ScreenAllergy(
            id=allergy_id, status=status, severity=severity, reaction=reaction or None,
            ingredient_id=ingredient_id,
            ingredient_name=ingredient_name if ingredient_id is not None else None,
            ingredient_groups=ingredients[ingredient_id].groups
            if ingredient_id in ingredients else frozenset(),
            group=group_name if group_id is not None else None,
            substance=substance if substance else None, names_known=names_known,
        ))
    conditions = session.execute(_CONDITIONS, {"patient_id": patient.id}).scalars().all()
    return safety.ScreenPatient(
        allergy_status=patient.allergy_status, allergies=tuple(allergies),
        conditions=frozenset(c for c in conditions if c in safety.CONDITIONS))


def _screen_inputs(session: Session, patient: Patient, ingredient_ids=()):
    """The formulary snapshot and the patient as the pure screen takes it (two statements
    beside the snapshot's), the snapshot holding every ingredient of ``ingredient_ids``
    (read before this call) and of the patient's allergies."""
    snapshot = screen_snapshot.current(session)
    patient_value = _screen_patient_value(session, patient, snapshot.ingredients)
    needed = {a.ingredient_id for a in patient_value.allergies if a.ingredient_id is not None}
    if not needed.union(ingredient_ids) <= snapshot.ingredients.keys():
        # An ingredient committed after the revision was read, which an allergy read after
        # it names (PostgreSQL reads each statement's latest commits): read again, the
        # ingredient is there now.
        snapshot = screen_snapshot.current(session)
        patient_value = _screen_patient_value(session, patient, snapshot.ingredients)
    return snapshot, patient_value


def _attach_components(version: CocktailVersion, rows) -> None:
    """Put the loaded components on the version, in component order (so reading
    ``version.components`` or ``component.ingredient`` later sends no query)."""
    components = []
    for component, ingredient in rows:
        set_committed_value(component, "ingredient", ingredient)
        components.append(component)
    components.sort(key=lambda c: (c.position, c.id))
    set_committed_value(version, "components", components)


# --------------------------------------------------------------------------- screens

def screen_patient(session: Session, patient: Patient,
                   version: CocktailVersion) -> safety.ScreenResult:
    """Screen ``patient`` against one cocktail version: its components (one statement,
    put on the version), the formulary side from the snapshot kept under the formulary
    revision, the patient's allergies and conditions (two statements)."""
    rows = session.execute(
        select(Component, Ingredient)
        .join(Ingredient, Ingredient.id == Component.ingredient_id)
        .where(Component.version_id == version.id)
    ).all()
    _attach_components(version, rows)
    ids = [component.ingredient_id for component in version.components]
    snapshot, patient_value = _screen_inputs(session, patient, ids)
    return safety.screen(patient_value, [snapshot.ingredients[i] for i in ids], snapshot.cross)


def check_area(area: str | None) -> str | None:
    if area is None or area == "":
        return None
    if area not in AREAS:
        raise ValidationError(msg("Unknown area '%(area)s'; use one of: %(choices)s.",
                                  area=area, choices=', '.join(AREAS)),
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
    snapshot, patient_value = _screen_inputs(session, patient)
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

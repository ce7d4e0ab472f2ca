"""What is in one dose of a cocktail: stock quantities, volume, concentrations, and how
many doses the usable stock allows; and the difference between two versions.

The arithmetic is the domain's (``formulary.domain.doses``); this module loads the rows it
needs and shapes the results for the pages, the API and the editor's live totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from formulary import clock
from formulary.cocktails.models import Component
from formulary.cocktails.revision import TOKEN_COLUMN
from formulary.db import MAX_ID
from formulary.domain.doses import (ComponentDose, ComponentInput, IngredientFacts,
                                    check_components, doses_possible, summarize)
from formulary.domain.errors import ValidationError
from formulary.inventory.ingredients import ingredient_facts
from formulary.inventory.models import Ingredient
from formulary.inventory.queries import usable_quantities


def facts_of(ingredient: Ingredient) -> IngredientFacts:
    """What the dose rules need to know about an ingredient row (the inventory's view)."""
    return ingredient_facts(ingredient)


def usable_stock(session: Session, ingredient_ids: Iterable[int]) -> dict[int, Decimal]:
    """Usable stock per ingredient (stock unit), now, in the clinic's time zone."""
    ids = sorted(set(ingredient_ids))
    if not ids:
        return {}
    return usable_quantities(session, ids, clock.now(), clock.clinic_tz())


def load_ingredients(session: Session, raw_ids: Iterable[object], *,
                     lock: bool = False) -> dict[int, Ingredient]:
    """The ingredient rows a list of submitted ids names (any state), by id. One query.

    ``lock``: share-lock the rows (PostgreSQL), read fresh, so that no change of their
    stock unit or strength (which locks the row for update) can commit in between."""
    ids = set()
    for raw in raw_ids:
        if isinstance(raw, int) and not isinstance(raw, bool):
            ids.add(raw)
        elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdecimal():
            ids.add(int(raw.strip()))
    # An id past the column's range names no row (and SQLite cannot even be asked).
    ids = {i for i in ids if 0 < i <= MAX_ID}
    if not ids:
        return {}
    stmt = select(Ingredient).where(Ingredient.id.in_(ids))
    if lock:
        stmt = (stmt.order_by(Ingredient.id).with_for_update(read=True)
                .execution_options(populate_existing=True))
    rows = session.execute(stmt).scalars()
    return {i.id: i for i in rows}


def check_new_components(components: Sequence[ComponentInput],
                         ingredients: Mapping[int, Ingredient]) -> tuple[ComponentDose, ...]:
    """``check_components`` over the ACTIVE ingredients only (a new or edited version may
    not name a retired product); an inactive one is named as such in the message."""
    facts = {i: facts_of(ing) for i, ing in ingredients.items() if ing.active}
    try:
        return check_components(components, facts)
    except ValidationError as error:
        fields = dict(error.fields)
        for index, component in enumerate(components):
            key = f"components.{index}.ingredient_id"
            ing = _named(component.ingredient_id, ingredients)
            if key in fields and ing is not None and not ing.active:
                fields[key] = [f"{ing.name} is no longer active: it cannot be put in a new "
                               "version of a cocktail."]
        raise ValidationError(error.message, fields=fields) from None


def _named(raw: object, ingredients: Mapping[int, Ingredient]) -> Ingredient | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return ingredients.get(raw)
    if isinstance(raw, str) and raw.strip().isdecimal():
        return ingredients.get(int(raw.strip()))
    return None


# --- a composition: what one dose holds ----------------------------------------------

@dataclass(frozen=True)
class Line:
    """One component of one dose, as shown to people and programs."""

    index: int
    ingredient_id: int
    ingredient_name: str
    amount: Decimal
    unit: str
    stock_quantity: Decimal
    stock_unit: str
    concentration: Decimal | None       # active amount per mL of the mix
    concentration_unit: str | None      # "mg", "IU" or "U" (per mL)
    usable: Decimal | None = None        # usable stock of the ingredient, stock unit


@dataclass(frozen=True)
class Composition:
    lines: tuple[Line, ...]
    total_volume_ml: Decimal | None
    doses_possible: int | None            # None when the usable stock was not asked for
    errors: dict[str, list[str]] = field(default_factory=dict)


def compose(doses: Sequence[ComponentDose], ingredients: Mapping[int, Ingredient],
            usable: Mapping[int, Decimal] | None = None,
            indexes: Sequence[int] | None = None) -> Composition:
    """Describe checked doses (pure once the rows are loaded)."""
    facts = {i: facts_of(ing) for i, ing in ingredients.items()}
    mix = summarize(doses, facts)
    lines = []
    for position, dose in enumerate(doses):
        conc = mix.concentrations.get(dose.ingredient_id)
        ing = ingredients.get(dose.ingredient_id)
        lines.append(Line(
            index=indexes[position] if indexes is not None else position,
            ingredient_id=dose.ingredient_id, ingredient_name=ing.name if ing else "?",
            amount=dose.amount, unit=dose.unit, stock_quantity=dose.stock_quantity,
            stock_unit=dose.stock_unit,
            concentration=conc[0] if conc else None, concentration_unit=conc[1] if conc else None,
            usable=None if usable is None else usable.get(dose.ingredient_id, Decimal(0))))
    possible = None if usable is None else doses_possible(doses, usable)
    return Composition(lines=tuple(lines), total_volume_ml=mix.total_volume_ml,
                       doses_possible=possible)


def version_doses(version) -> tuple[ComponentDose, ...]:
    """A stored version's components as checked doses (their frozen stock quantities)."""
    return tuple(ComponentDose(ingredient_id=c.ingredient_id, amount=c.amount, unit=c.unit,
                               stock_quantity=c.stock_quantity, stock_unit=c.stock_unit)
                 for c in version.components)


def version_composition(version, usable: Mapping[int, Decimal] | None = None) -> Composition:
    """The composition of a stored version (``version.components[*].ingredient`` loaded)."""
    ingredients = {c.ingredient_id: c.ingredient for c in version.components}
    return compose(version_doses(version), ingredients, usable)


class IngredientRow(NamedTuple):
    """An ingredient as a composition reads it (its name and dose facts), from a plain
    row: what ``facts_of`` and ``compose`` read of an ``Ingredient``."""

    id: int
    name: str
    unit: str
    strength_amount: Decimal | None
    strength_unit: str | None
    max_dose_amount: Decimal | None
    max_dose_unit: str | None
    active: bool


# Over the tables: the ORM's classes are not all mapped when this module is imported.
_component, _ingredient = Component.__table__.c, Ingredient.__table__.c
_COMPONENT_ROWS = (
    select(_component.version_id, _component.ingredient_id, _component.amount, _component.unit,
           _component.stock_quantity, _component.stock_unit, _ingredient.id, _ingredient.name,
           _ingredient.unit, _ingredient.strength_amount, _ingredient.strength_unit,
           _ingredient.max_dose_amount, _ingredient.max_dose_unit, _ingredient.active,
           TOKEN_COLUMN)
    .join_from(Component.__table__, Ingredient.__table__, _ingredient.id == _component.ingredient_id)
    .where(_component.version_id.in_(bindparam("version_ids", expanding=True)))
    .order_by(_component.version_id, _component.position, _component.id))


def version_component_rows(session: Session, version_ids: Iterable[int]
                           ) -> tuple[dict[int, tuple[tuple, ...]], str | None]:
    """Each stored version of ``version_ids`` as the values its composition is worked out
    from (:func:`compose_rows`): its components in order (position, then id), each a
    plain tuple ``(ingredient_id, amount, unit, stock_quantity, stock_unit, *ingredient)``
    where ``ingredient`` are an :class:`IngredientRow`'s fields; and the formulary
    revision's token read in the same statement (``None`` when no row was read or the
    revision's row is missing). One statement, no object per component or ingredient; a
    version without components has ``()``."""
    ids = sorted(set(version_ids))
    rows: dict[int, list[tuple]] = {i: [] for i in ids}
    token = None
    if ids:
        for row in session.execute(_COMPONENT_ROWS, {"version_ids": ids}):
            rows[row[0]].append(tuple(row[1:-1]))
            token = row[-1]
    return {i: tuple(r) for i, r in rows.items()}, token


def compose_rows(rows: Sequence[tuple]) -> Composition:
    """The composition of a stored version from its :func:`version_component_rows`
    (as :func:`version_composition` gives it from the loaded version): a pure function
    of those values."""
    doses, ingredients = [], {}
    for ingredient_id, amount, unit, stock_quantity, stock_unit, *ingredient in rows:
        doses.append(ComponentDose(ingredient_id=ingredient_id, amount=amount, unit=unit,
                                   stock_quantity=stock_quantity, stock_unit=stock_unit))
        ingredients[ingredient_id] = IngredientRow(*ingredient)
    return compose(tuple(doses), ingredients)


def preview(session: Session, rows: Sequence[tuple[int, ComponentInput]]) -> Composition:
    """Live totals for the editor: ``rows`` are ``(row index, component)`` as typed.

    Every problem is reported under ``components.{row index}...``; the rows that are
    correct on their own still get their stock quantity and concentration, so the totals
    follow the pharmacist's typing even while one row is unfinished.
    """
    components = [c for _, c in rows]
    indexes = [i for i, _ in rows]
    ingredients = load_ingredients(session, [c.ingredient_id for c in components])
    errors: dict[str, list[str]] = {}
    try:
        doses = list(check_new_components(components, ingredients))
        good = list(range(len(components)))
    except ValidationError as error:
        for key, messages in error.fields.items():
            parts = key.split(".")
            if len(parts) == 3:
                key = f"components.{indexes[int(parts[1])]}.{parts[2]}"
            errors[key] = messages
        bad = {int(k.split(".")[1]) for k in error.fields if k.count(".") == 2}
        good = [p for p in range(len(components)) if p not in bad]
        doses = []
        for p in good:
            doses.extend(check_new_components([components[p]], ingredients))
    usable = usable_stock(session, [d.ingredient_id for d in doses])
    result = compose(doses, ingredients, usable, [indexes[p] for p in good])
    return Composition(lines=result.lines, total_volume_ml=result.total_volume_ml,
                       doses_possible=result.doses_possible if doses else None, errors=errors)


# --- the difference between two versions ---------------------------------------------

@dataclass(frozen=True)
class DiffRow:
    label: str
    left: str
    right: str
    kind: str  # "same", "changed", "added", "removed"


def _amount(component) -> str:
    from formulary.domain.units import format_quantity

    return (f"{format_quantity(component.amount)} {component.unit} "
            f"({format_quantity(component.stock_quantity)} {component.stock_unit} from stock)")


def diff_versions(left, right) -> tuple[tuple[DiffRow, ...], tuple[DiffRow, ...]]:
    """Side by side: the version's fields, then its components matched by ingredient
    (in the left version's order, then what the right one adds)."""
    fields = []
    for label, attr in (("Area", "area"), ("Indication", "indication"),
                        ("Storage", "storage"), ("Notes", "notes")):
        a, b = getattr(left, attr) or "", getattr(right, attr) or ""
        fields.append(DiffRow(label, a, b, "same" if a == b else "changed"))
    by_left = {c.ingredient_id: c for c in left.components}
    by_right = {c.ingredient_id: c for c in right.components}
    rows = []
    for c in left.components:
        other = by_right.get(c.ingredient_id)
        if other is None:
            rows.append(DiffRow(c.ingredient.name, _amount(c), "", "removed"))
        else:
            same = (c.amount, c.unit, c.stock_quantity) == (other.amount, other.unit,
                                                            other.stock_quantity)
            rows.append(DiffRow(c.ingredient.name, _amount(c), _amount(other),
                                "same" if same else "changed"))
    for c in right.components:
        if c.ingredient_id not in by_left:
            rows.append(DiffRow(c.ingredient.name, "", _amount(c), "added"))
    return tuple(fields), tuple(rows)

"""What the safety screen reads of the formulary, read once per formulary revision.

The formulation picker screens one patient against every active cocktail of an area.
Everything on the formulary side of that screen is the same for every patient: the
active cocktails (their active version and its ingredients in component order), every
ingredient with its allergen groups and contraindications, and the cross-reactivity
table (the single screen of one cocktail takes the last two from here too).
:func:`current` reads them into one immutable :class:`FormularySnapshot` and each
worker process keeps the newest, for as long as the formulary revision
(``cocktails.revision``: a random token the database's triggers renew at every write to
those tables, in the writing transaction) is the one it was read at:

- the token is read on every request (one statement), so a change committed by any
  worker, process or tool is seen by the next request;
- a snapshot is kept only when the token read after reading it is the one read before
  (no change committed in between: under PostgreSQL's READ COMMITTED each statement sees
  the latest commits, so the statements of one reading could otherwise see different
  formularies); if a change lands meanwhile the reading is done again (three times at
  most, then used for this request only, as an uncached reader would have used it);
- a transaction that has itself written the formulary reads a token its own triggers
  drew: what it reads is its own view, kept under a token no other transaction can see
  unless this one commits it.

A reading after a change lends the values of the snapshot kept before it that come out
the same (a cocktail read from the same row, an ingredient with the same name, groups and
contraindications): what is read decides, the kept snapshot only spares building equal
values again.

The patient side (allergies, conditions) is never kept: it is read on every request.
Nothing kept is mutable: tuples, frozen values and read-only mappings. A worker checks
once, before it first keeps a snapshot, that every trigger is in place
(``revision.missing_triggers``); if one is missing (a hand-made schema, a table rebuilt
without them) it logs an error and keeps nothing: every view reads the formulary.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, NamedTuple

from flask import current_app
from sqlalchemy import String, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from formulary.cocktails import revision
from formulary.cocktails.models import Cocktail, CocktailVersion, Component
from formulary.domain import safety
from formulary.inventory.models import (AllergenGroup, CrossReactivity, Ingredient,
                                        IngredientContraindication, ingredient_allergen_group)

__all__ = ["FormularySnapshot", "SnapshotCocktail", "cross_reactivity", "current", "read"]


_STORE = "formulary.screen_snapshot"
_ATTEMPTS = 3


class SnapshotCocktail(NamedTuple):
    """An active cocktail with its active version, as the picker ranks and shows it."""

    id: int
    name: str
    version_id: int
    number: int
    area: str
    indication: str
    #: the ingredient ids of its components, in component order (position, then id)
    ingredient_ids: tuple[int, ...]
    #: its place among cocktails of one verdict (``safety.name_order``)
    name_order: tuple[str, str]


@dataclass(frozen=True)
class FormularySnapshot:
    """The formulary as the safety screen reads it, at one revision."""

    token: str | None
    #: every active cocktail, by id
    cocktails: tuple[SnapshotCocktail, ...]
    #: the same, per area (an area with none is missing)
    by_area: Mapping[str, tuple[SnapshotCocktail, ...]]
    #: the ids of the ingredients the cocktails of an area hold (None: every area)
    in_use: Mapping[str | None, frozenset[int]]
    #: every ingredient, as the screen takes it
    ingredients: Mapping[int, safety.ScreenIngredient]
    cross: safety.CrossReactivity
    #: each cocktail by the row it was read from (what the next reading reuses)
    by_row: Mapping[tuple, SnapshotCocktail] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False)

    def of_area(self, area: str | None) -> tuple[SnapshotCocktail, ...]:
        return self.cocktails if area is None else self.by_area.get(area, ())


# Statements built once (over the tables: the ORM's classes are not all mapped yet when
# this module is imported).
_cocktail, _version = Cocktail.__table__, CocktailVersion.__table__
_component, _ingredient = Component.__table__, Ingredient.__table__
_group, _contra, _iag = AllergenGroup.__table__, IngredientContraindication.__table__, ingredient_allergen_group
_cross = CrossReactivity.__table__
_ga, _gb = _group.alias("group_a"), _group.alias("group_b")

# One statement for the cocktails and their components: a consistent view of both (read
# apart, a version made active between the two reads would be listed without components).
# Each version's ingredient ids come spelt by the database in component order ("3,17,42"),
# one row per cocktail, read from the index ``ix_component_version_order`` alone: the
# first view after a formulary change reads 1,000 rows instead of 8,000.
def _ids_in_order(dialect: str):
    ordered = (select(_component.c.ingredient_id)
               .where(_component.c.version_id == _version.c.id)
               .order_by(_component.c.position, _component.c.id).correlate(_version))
    if dialect == "sqlite":
        # SQLite's group_concat takes the rows in the order the subquery gives them
        inner = ordered.subquery()
        return (select(func.group_concat(inner.c.ingredient_id, ","))
                .scalar_subquery())
    return (select(func.string_agg(cast(_component.c.ingredient_id, String), aggregate_order_by(
        literal_column("','"), _component.c.position, _component.c.id)))
            .where(_component.c.version_id == _version.c.id).scalar_subquery())


def _cocktails_statement(dialect: str):
    return (select(_cocktail.c.id, _cocktail.c.name, _version.c.id, _version.c.number,
                   _version.c.area, _version.c.indication, _ids_in_order(dialect))
            .select_from(_cocktail.join(_version, _version.c.id == _cocktail.c.active_version_id))
            .where(_cocktail.c.status == "active")
            .order_by(_cocktail.c.id))


_COCKTAILS = {dialect: _cocktails_statement(dialect) for dialect in ("sqlite", "postgresql")}
_INGREDIENTS = (select(_ingredient.c.id, _ingredient.c.name, _group.c.name, _contra.c.condition)
                .select_from(_ingredient
                             .outerjoin(_iag, _iag.c.ingredient_id == _ingredient.c.id)
                             .outerjoin(_group, _group.c.id == _iag.c.allergen_group_id)
                             .outerjoin(_contra, _contra.c.ingredient_id == _ingredient.c.id)))
_CROSS_REACTIVITY = select(_ga.c.name, _gb.c.name).select_from(
    _cross.join(_ga, _ga.c.id == _cross.c.group_a_id)
    .join(_gb, _gb.c.id == _cross.c.group_b_id))


def cross_reactivity(session: Session) -> safety.CrossReactivity:
    """The table of groups that cross-react, by name (one statement)."""
    return safety.CrossReactivity(
        (a, b) for a, b in session.execute(_CROSS_REACTIVITY) if a and b)


def read(session: Session, token: str | None = None,
         previous: FormularySnapshot | None = None) -> FormularySnapshot:
    """Read the snapshot from the database (three statements), labelled ``token``. The
    ingredients are read after the cocktails: every ingredient a component names is
    there (an ingredient a component names cannot be deleted).

    ``previous`` (the snapshot kept before this reading, of any revision) lends the
    values that come out the same: a cocktail read from the same row, an ingredient of
    the same id, name, groups and contraindications, and the lists and indexes built of
    them when all are the same. What is read decides; ``previous`` only spares building
    equal values again (a formulary change usually touches one cocktail or ingredient),
    so the result equals a reading without it."""
    statement = _COCKTAILS["sqlite" if session.get_bind().dialect.name == "sqlite"
                           else "postgresql"]
    known = previous.by_row if previous is not None else {}
    by_row: dict[tuple, SnapshotCocktail] = {}
    for row in session.execute(statement):
        row = tuple(row)
        cocktail = known.get(row)
        if cocktail is None:
            c_id, name, v_id, number, area, indication, ids = row
            cocktail = SnapshotCocktail(
                c_id, name, v_id, number, area, indication or "",
                tuple(map(int, ids.split(","))) if ids else (), safety.name_order(name))
        by_row[row] = cocktail
    cocktails = tuple(by_row.values())
    if previous is not None and _same_items(cocktails, previous.cocktails):
        cocktails, by_area, in_use = previous.cocktails, previous.by_area, previous.in_use
    else:
        by_area, in_use = _indexes(cocktails)

    names: dict[int, str] = {}
    groups: dict[int, set[str]] = defaultdict(set)
    contra: dict[int, set[str]] = defaultdict(set)
    for ingredient_id, name, group, condition in session.execute(_INGREDIENTS):
        names[ingredient_id] = name
        if group is not None:
            groups[ingredient_id].add(group)
        if condition in safety.CONDITIONS:
            contra[ingredient_id].add(condition)
    kept = previous.ingredients if previous is not None else {}
    ingredients = {}
    for i, name in names.items():
        ingredient = kept.get(i)
        ingredient_groups = frozenset(groups.get(i, ()))
        ingredient_contra = frozenset(contra.get(i, ()))
        if (ingredient is None or ingredient.name != name or ingredient.groups != ingredient_groups
                or ingredient.contraindications != ingredient_contra):
            ingredient = safety.ScreenIngredient(id=i, name=name, groups=ingredient_groups,
                                                 contraindications=ingredient_contra)
        ingredients[i] = ingredient
    if (previous is not None and ingredients.keys() == kept.keys()
            and all(ingredients[i] is kept[i] for i in ingredients)):
        ingredients_map = previous.ingredients  # the same values: the names index goes on
    else:
        ingredients_map = MappingProxyType(ingredients)
    cross = cross_reactivity(session)
    if previous is not None and cross == previous.cross:
        cross = previous.cross
    return FormularySnapshot(
        token=token, cocktails=cocktails, by_area=by_area, in_use=in_use,
        ingredients=ingredients_map, cross=cross, by_row=MappingProxyType(by_row))


def _same_items(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def _indexes(cocktails: tuple[SnapshotCocktail, ...]):
    """The cocktails per area, and the ids of the ingredients those of each area hold
    (None: every area)."""
    by_area: dict[str, list[SnapshotCocktail]] = defaultdict(list)
    for cocktail in cocktails:
        by_area[cocktail.area].append(cocktail)
    in_use: dict[str | None, frozenset[int]] = {
        area: frozenset(i for c in listed for i in c.ingredient_ids)
        for area, listed in by_area.items()}
    in_use[None] = frozenset(i for c in cocktails for i in c.ingredient_ids)
    return (MappingProxyType({area: tuple(listed) for area, listed in by_area.items()}),
            MappingProxyType(in_use))


def current(session: Session) -> FormularySnapshot:
    """The snapshot at the current formulary revision: the one kept when its token is
    current, else read (and kept, see the module docstring)."""
    store = current_app.extensions.setdefault(_STORE, {})
    if not revision.may_keep(session, store, "the formulation picker will read the "
                             "formulary on every view"):
        return read(session, None)
    token = revision.token(session)
    kept = store.get("snapshot")
    if token is not None and kept is not None and kept.token == token:
        return kept
    for _ in range(_ATTEMPTS):
        snapshot = read(session, token, kept)
        after = revision.token(session)
        if after == token:
            if token is not None:
                store["snapshot"] = snapshot
            return snapshot
        token = after  # a change committed while it was read: read again
    return snapshot

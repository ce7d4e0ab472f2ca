"""The cocktail lists' versions as plain rows: the page's, and the API's (``api_listed``).

The page shows, for each of its 25 cocktails, the shown version's number, area and
indication, a pending draft's number, and the shown version's ingredients by name. Read
as ORM objects (every version, its components, their ingredients: some 300 objects a
page), loading them was half of the request. Here two statements read the page's
versions and the shown versions' ingredient names into frozen rows that carry the ORM's
attribute names (``v.number``, ``v.components[i].ingredient.name``), so the template
reads them unchanged; the shown version and the pending draft are chosen by the rules of
``services.shown_version`` and ``services.pending_draft``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Integer, any_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from formulary.auth.models import User
from formulary.cocktails.models import Cocktail, Component, CocktailVersion
from formulary.cocktails.revision import TOKEN_COLUMN
from formulary.inventory.models import Ingredient


@dataclass(frozen=True, slots=True)
class IngredientName:
    name: str


@dataclass(frozen=True, slots=True)
class ComponentRow:
    ingredient: IngredientName


@dataclass(frozen=True, slots=True)
class VersionRow:
    id: int
    number: int
    status: str
    area: str
    indication: str
    #: the shown version's components in order (position, then id); empty for the others
    components: tuple[ComponentRow, ...] = ()


def listed_versions(session: Session, cocktails) -> list[tuple]:
    """``(cocktail, shown version, pending draft or None)`` for each of ``cocktails`` (in
    their order): two statements whatever their number (none for no cocktail)."""
    ids = [c.id for c in cocktails]
    if not ids:
        return []
    versions: dict[int, list] = {}
    for row in session.execute(
            select(CocktailVersion.id, CocktailVersion.cocktail_id, CocktailVersion.number,
                   CocktailVersion.status, CocktailVersion.area, CocktailVersion.indication)
            .where(CocktailVersion.cocktail_id.in_(ids))
            .order_by(CocktailVersion.cocktail_id, CocktailVersion.number)):
        versions.setdefault(row.cocktail_id, []).append(row)
    shown = {}
    for c in cocktails:  # services.shown_version: the one in force, else the latest
        listed = versions[c.id]
        shown[c.id] = next((v for v in listed if v.id == c.active_version_id), listed[-1])
    names: dict[int, list[ComponentRow]] = {}
    for version_id, name in session.execute(
            select(Component.version_id, Ingredient.name)
            .join(Ingredient, Ingredient.id == Component.ingredient_id)
            .where(Component.version_id.in_([v.id for v in shown.values()]))
            .order_by(Component.version_id, Component.position, Component.id)):
        names.setdefault(version_id, []).append(ComponentRow(IngredientName(name)))

    def row(v, components=()) -> VersionRow:
        return VersionRow(v.id, v.number, v.status, v.area, v.indication, tuple(components))

    out = []
    for c in cocktails:
        v = shown[c.id]
        latest = versions[c.id][-1]  # services.pending_draft: the latest, if a draft
        draft = latest if latest.status == "draft" else None
        out.append((c, row(v, names.get(v.id, ())),
                    None if draft is None else row(draft, names.get(draft.id, ()))))
    return out


# --- the API's list ------------------------------------------------------------------

#: What the API's list reads of each of its cocktails (a plain row each).
LISTED_COLUMNS = (Cocktail.id, Cocktail.name, Cocktail.status, Cocktail.active_version_id)


class ListedCocktail(NamedTuple):
    """One cocktail of the API's list: ``cocktail``, its row of ``LISTED_COLUMNS``;
    ``shown``, its shown version's row, in this order (its readers unpack it by
    position): id, cocktail_id, number, status, area, indication, storage, notes,
    created_at, approved_at, approved_by (the approver's username or None), revision
    (the formulary revision's token read with it, ``revision.TOKEN_COLUMN``);
    ``active`` and ``draft``, the numbers of the version in force and of the pending
    draft (None when none, and ``draft`` None when the draft is the version shown), as
    ``routes_cocktails.cocktail_json`` gives them over the loaded cocktail."""

    cocktail: Any
    shown: Any
    active: int | None
    draft: int | None


def api_listed(session: Session, cocktails) -> list[ListedCocktail]:
    """The API list's versions of ``cocktails`` (rows of ``LISTED_COLUMNS``, in their
    order), chosen by the rules of ``services.shown_version`` and
    ``services.pending_draft``: one statement whatever their number (none for none)."""
    if not cocktails:
        return []
    versions: dict[int, list] = {}
    stmt = _API_VERSIONS_PG if session.get_bind().dialect.name == "postgresql" else _API_VERSIONS
    for row in session.execute(stmt, {"ids": [c[0] for c in cocktails]}):
        versions.setdefault(row[1], []).append(row)  # by cocktail id
    out = []
    # by position: a cocktail (id, name, status, active_version_id), a version (id,
    # cocktail_id, number, status, ...); a row's attributes are looked up by name, slower
    for c in cocktails:
        listed = versions[c[0]]
        active = next((v for v in listed if v[0] == c[3]), None)
        latest = shown = listed[-1]
        if active is not None:
            shown = active
        draft = latest[2] if latest[3] == "draft" and latest is not shown else None
        out.append(ListedCocktail(c, shown, None if active is None else active[2], draft))
    return out


# Over the tables (as ``composition._COMPONENT_ROWS``): the ORM's classes are not all
# mapped when this module is imported.
_version, _user = CocktailVersion.__table__.c, User.__table__.c
_API_VERSIONS_ALL = (
    select(_version.id, _version.cocktail_id, _version.number, _version.status, _version.area,
           _version.indication, _version.storage, _version.notes, _version.created_at,
           _version.approved_at, _user.username.label("approved_by"), TOKEN_COLUMN)
    .select_from(CocktailVersion.__table__)
    .outerjoin(User.__table__, _user.id == _version.approved_by_id)
    .order_by(_version.cocktail_id, _version.number))
_API_VERSIONS = _API_VERSIONS_ALL.where(_version.cocktail_id.in_(bindparam("ids", expanding=True)))
# On PostgreSQL the ids as one array (``= ANY``): an IN list of up to 500 parameters was
# a third of the request's CPU (each rendered with its cast, then parsed by the driver).
_API_VERSIONS_PG = _API_VERSIONS_ALL.where(
    _version.cocktail_id == any_(bindparam("ids", type_=postgresql.ARRAY(Integer))))

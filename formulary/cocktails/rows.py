"""The cocktail list page's versions as plain rows.

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

from sqlalchemy import select
from sqlalchemy.orm import Session

from formulary.cocktails.models import Component, CocktailVersion
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

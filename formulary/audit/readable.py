"""The names behind the ids of audit entries, looked up for a page or an export at a
time (one statement per kind of thing), and the readable changes of each entry
(``domain.audit_changes``), in the reader's words (``formulary.audit.words``)."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from formulary.audit.words import reader_words
from formulary.domain.audit_changes import Change, Words, changes, parse, references
from formulary.i18n import _
from formulary.inventory.sums import chunked


def _lookups():
    # The audit area reads the names of every area's things: imported here, when needed.
    from formulary.auth.models import User
    from formulary.cocktails.models import Cocktail, CocktailVersion
    from formulary.compounding.models import Batch
    from formulary.inventory.models import AllergenGroup, Ingredient, Lot
    from formulary.patients.models import Patient

    return {
        "lot": (select(Lot.id, Lot.lot_number, Ingredient.name).join(Lot.ingredient), Lot.id,
                lambda r: _("lot %(number)s (%(ingredient)s)", number=r[1], ingredient=r[2])),
        "ingredient": (select(Ingredient.id, Ingredient.name), Ingredient.id, lambda r: r[1]),
        "cocktail": (select(Cocktail.id, Cocktail.name), Cocktail.id, lambda r: r[1]),
        "cocktail_version": (select(CocktailVersion.id, Cocktail.name, CocktailVersion.number)
                             .join(Cocktail, Cocktail.id == CocktailVersion.cocktail_id),
                             CocktailVersion.id,
                             lambda r: _("%(cocktail)s v%(version)s", cocktail=r[1], version=r[2])),
        "patient": (select(Patient.id, Patient.mrn), Patient.id, lambda r: _("patient %(mrn)s", mrn=r[1])),
        "batch": (select(Batch.id, Batch.batch_number), Batch.id, lambda r: r[1]),
        "allergen_group": (select(AllergenGroup.id, AllergenGroup.name), AllergenGroup.id,
                           lambda r: r[1]),
        "user": (select(User.id, User.username), User.id, lambda r: r[1]),
    }


def name_lookup(session: Session, wanted: dict[str, set[int]]):
    """``names(kind, id)`` for every id in ``wanted``: one statement per kind (per 500 ids)."""
    lookups = _lookups()
    found: dict[tuple[str, int], str] = {}
    for kind, ids in wanted.items():
        if kind not in lookups or not ids:
            continue
        stmt, id_column, show = lookups[kind]
        for chunk in chunked(sorted(ids)):
            for row in session.execute(stmt.where(id_column.in_(chunk))):
                found[kind, row[0]] = show(row)
    return lambda kind, ident: found.get((kind, ident))


def readable_changes(session: Session, entries: Iterable,
                     words: Words | None = None) -> list[list[Change]]:
    """The readable changes of each entry (rows or objects with ``before`` and ``after``
    JSON), in the entries' order, in ``words`` (default: the reader's)."""
    words = words or reader_words()
    parsed = [(parse(e.before), parse(e.after)) for e in entries]
    names = name_lookup(session, references(v for pair in parsed for v in pair))
    return [changes(before, after, names, words) for before, after in parsed]

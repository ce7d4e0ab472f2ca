"""A readable before/after of an audit entry: the fields that changed, with names.

An audit entry keeps ``before`` and ``after`` as canonical JSON of the object's fields,
with internal ids (``"lot_id": 43``): exact, and hashed into the chain. What a person
reads is derived from them here: one ``Change`` per field whose value differs (every
field of a creation or a removal), the field's key and its name in words, and each id
replaced by what the clinic calls the thing (the lot's number, the ingredient's name...),
which the caller looks up (``names``), or ``#43`` when the thing is gone.

The words themselves (a field's name, yes/no, a code's word, a number's form) are the
caller's (:class:`Words`): English by default, the reader's language at the edge that
shows them (``formulary.audit.readable``), so this module stays pure and the keys stay
the stable codes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable

#: Keys whose value is the id (or a list of ids) of a thing, and the kind of thing.
REFERENCES = {
    "lot_id": "lot", "ingredient_id": "ingredient", "cocktail_id": "cocktail",
    "patient_id": "patient", "batch_id": "batch", "allergen_group_id": "allergen_group",
    "cocktail_version_id": "cocktail_version", "version_id": "cocktail_version",
    "user_id": "user", "prepared_by_id": "user", "verified_by_id": "user",
    "discarded_by_id": "user", "practitioner_id": "user", "created_by_id": "user",
    "ingredient_ids": "ingredient", "lot_ids": "lot", "batch_ids": "batch",
}

#: Names of fields said better than their key in words.
LABELS = {"lot_id": "Lot", "ingredient_id": "Ingredient", "cocktail_id": "Cocktail",
          "patient_id": "Patient", "batch_id": "Batch", "allergen_group_id": "Allergen group",
          "cocktail_version_id": "Cocktail version", "version_id": "Cocktail version",
          "user_id": "User", "prepared_by_id": "Prepared by", "verified_by_id": "Verified by",
          "discarded_by_id": "Discarded by", "practitioner_id": "Practitioner",
          "created_by_id": "Created by", "ingredient_ids": "Ingredients", "lot_ids": "Lots",
          "batch_ids": "Batches", "mrn": "MRN", "gtins": "GTINs", "beyond_use_at": "Beyond use",
          "max_dose_per_session": "Maximum dose per session"}

#: Keys of text a person typed (or an identifier): shown exactly as recorded, even when it
#: reads like a number or a date ("12.5" as a lot number stays "12.5").
TEXT_KEYS = frozenset({
    "lot_number", "batch_number", "mrn", "gtins", "username", "full_name", "first_name",
    "last_name", "email", "name", "title", "body", "note", "notes", "reason", "status_reason",
    "override_reason", "supplier", "substance", "description", "indication", "sites",
    "reaction", "conditions", "target", "outcome", "summary", "label",
})

# What the audit log writes for a Decimal, a date and an aware datetime (canonical JSON).
_DECIMAL_TEXT = re.compile(r"-?\d+\.\d+")
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
_MOMENT_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)")

Names = Callable[[str, int], "str | None"]


def english_label(key: str | None) -> str:
    """A field's name in English words: ``LABELS``, else the key with spaces; None (the
    value of an entry that is not an object) is "Value"."""
    if key is None:
        return "Value"
    return LABELS.get(key) or key.replace("_", " ").capitalize()


def plain_number(value: Decimal) -> str:
    """``Decimal("50")`` -> "50", ``Decimal("1.50")`` -> "1.50" (as recorded)."""
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


@dataclass(frozen=True)
class Words:
    """The words a readable change is written in. English by default; the edge passes the
    reader's (their catalog's field names, yes/no, the words of codes, numbers with a
    decimal comma)."""

    label: Callable[[str | None], str] = english_label
    yes: str = "yes"
    no: str = "no"
    none: str = "none"
    removed: str = "(removed)"
    #: between a field's name and its values in a line of text ("Status: a → b")
    colon: str = ": "
    number: Callable[[Decimal], str] = plain_number
    #: a value of ``key`` that may be a code (a status, a category): its word
    code: Callable[[str, str], str] = lambda key, value: value
    #: a date, and a moment (aware), as recorded in ISO: in English they stay ISO
    date: Callable[[date], str] = date.isoformat
    moment: Callable[[datetime], str] = datetime.isoformat


ENGLISH = Words()


@dataclass(frozen=True)
class Change:
    key: str | None  # the field's key as recorded (None: the entry's value is not an object)
    field: str    # the field's name in words
    before: str   # "" when the field did not exist before (a creation)
    after: str    # "" when it does not exist after (a removal)


def parse(raw: str | None) -> Any:
    """The value of a ``before``/``after`` column (None when empty or not JSON)."""
    if not raw:
        return None
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError:
        return None


def references(values: Iterable[Any]) -> dict[str, set[int]]:
    """Every id the values name, per kind of thing: what the caller must look up."""
    found: dict[str, set[int]] = {}

    def walk(value, key=None):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif key in REFERENCES and isinstance(value, int) and not isinstance(value, bool):
            found.setdefault(REFERENCES[key], set()).add(value)

    for value in values:
        walk(value)
    return found


def label(key: str | None, words: Words = ENGLISH) -> str:
    return words.label(key)


def render(value: Any, names: Names, key: str | None = None, words: Words = ENGLISH) -> str:
    """A value as a person reads it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return words.yes if value else words.no
    if key in REFERENCES and isinstance(value, int):
        return names(REFERENCES[key], value) or f"#{value}"
    if isinstance(value, list):
        return ", ".join(render(v, names, key, words) for v in value) if value else words.none
    if isinstance(value, dict):
        if set(value) == {"amount", "unit"}:
            return f"{render(value['amount'], names, 'amount', words)} {value['unit']}"
        return "; ".join(f"{words.label(k).lower()} {render(v, names, k, words)}"
                         for k, v in value.items())
    if isinstance(value, Decimal):
        return words.number(value)
    if isinstance(value, str) and key not in TEXT_KEYS:
        return _recorded_text(value, key, words)
    return str(value)


def _recorded_text(value: str, key: str | None, words: Words) -> str:
    """A text the app recorded (not typed): a number, a date or a moment written as
    canonical JSON writes them, shown in the words' form; a code as its word."""
    if _DECIMAL_TEXT.fullmatch(value):
        return words.number(Decimal(value))
    if _DATE_TEXT.fullmatch(value):
        try:
            return words.date(date.fromisoformat(value))
        except ValueError:
            return value
    if _MOMENT_TEXT.fullmatch(value):
        try:
            return words.moment(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return words.code(key, value) if key is not None else value


def changes(before: Any, after: Any, names: Names, words: Words = ENGLISH) -> list[Change]:
    """The fields that differ between ``before`` and ``after`` (parsed JSON), in the
    order they come (``after``'s first); for a value that is not an object, one change
    of key None, named "Value"."""
    if before is None and after is None:
        return []
    if not isinstance(before, (dict, type(None))) or not isinstance(after, (dict, type(None))):
        if before == after:
            return []
        return [Change(None, words.label(None),
                       "" if before is None else render(before, names, None, words),
                       "" if after is None else render(after, names, None, words))]
    before, after = before or {}, after or {}
    out = []
    for key in [*after, *(k for k in before if k not in after)]:
        if key in before and key in after and before[key] == after[key]:
            continue
        out.append(Change(key, words.label(key),
                          render(before[key], names, key, words) if key in before else "",
                          render(after[key], names, key, words) if key in after else ""))
    return out


def as_text(found: list[Change], words: Words = ENGLISH) -> str:
    """The changes on one line each, for an export cell: ``Field: before → after``."""
    lines = []
    for c in found:
        if c.before and c.after:
            lines.append(f"{c.field}{words.colon}{c.before} → {c.after}")
        else:
            lines.append(f"{c.field}{words.colon}{c.after or c.before}"
                         + ("" if c.after else f" {words.removed}"))
    return "\n".join(lines)

"""A readable before/after of an audit entry: the fields that changed, with names.

An audit entry keeps ``before`` and ``after`` as canonical JSON of the object's fields,
with internal ids (``"lot_id": 43``): exact, and hashed into the chain. What a person
reads is derived from them here: one ``Change`` per field whose value differs (every
field of a creation or a removal), the field's name in words, and each id replaced by
what the clinic calls the thing (the lot's number, the ingredient's name...), which the
caller looks up (``names``), or ``#43`` when the thing is gone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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

Names = Callable[[str, int], "str | None"]


@dataclass(frozen=True)
class Change:
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


def label(key: str) -> str:
    return LABELS.get(key) or key.replace("_", " ").capitalize()


def render(value: Any, names: Names, key: str | None = None) -> str:
    """A value as a person reads it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in REFERENCES and isinstance(value, int):
        return names(REFERENCES[key], value) or f"#{value}"
    if isinstance(value, list):
        return ", ".join(render(v, names, key) for v in value) if value else "none"
    if isinstance(value, dict):
        if set(value) == {"amount", "unit"}:
            return f"{render(value['amount'], names)} {value['unit']}"
        return "; ".join(f"{label(k).lower()} {render(v, names, k)}" for k, v in value.items())
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return str(value)


def changes(before: Any, after: Any, names: Names) -> list[Change]:
    """The fields that differ between ``before`` and ``after`` (parsed JSON), in the
    order they come (``after``'s first); for a value that is not an object, one change
    named "Value"."""
    if before is None and after is None:
        return []
    if not isinstance(before, (dict, type(None))) or not isinstance(after, (dict, type(None))):
        if before == after:
            return []
        return [Change("Value", "" if before is None else render(before, names),
                       "" if after is None else render(after, names))]
    before, after = before or {}, after or {}
    out = []
    for key in [*after, *(k for k in before if k not in after)]:
        if key in before and key in after and before[key] == after[key]:
            continue
        out.append(Change(label(key), render(before[key], names, key) if key in before else "",
                          render(after[key], names, key) if key in after else ""))
    return out


def as_text(found: list[Change]) -> str:
    """The changes on one line each, for an export cell: ``Field: before → after``."""
    lines = []
    for c in found:
        if c.before and c.after:
            lines.append(f"{c.field}: {c.before} → {c.after}")
        else:
            lines.append(f"{c.field}: {c.after or c.before}" + ("" if c.after else " (removed)"))
    return "\n".join(lines)

"""Creating and changing ingredients (SPEC §4): one validation path for the page, the API
and the demo data.

``data`` is the API's shape (SPEC §9)::

    {name, category, unit, strength: {amount, unit} | null, allergen_groups: [name],
     contraindications: [condition], reorder_level, max_dose_per_session: {amount, unit} | null,
     gtins: [..], storage, multi_dose, in_use_days, active, notes}

``create_ingredient`` needs name, category and unit; ``update_ingredient`` changes only
the keys present. Every problem is collected and raised at once as one
``ValidationError`` whose ``fields`` use those keys; a name or GTIN another ingredient
holds is a ``Duplicate`` (409).

Once an ingredient has a lot or is a component of an approved cocktail version (active,
superseded or retired: ``approved_at`` set), its stock unit and strength never change
(SPEC §4): the stock quantity per dose of every approved version was computed from them,
so a change would make batches silently deliver another dose (biotin 5 mg/mL at 10 mg a
dose draws 2 mL; at a strength of 10 mg/mL the same 2 mL would be 20 mg). Such a change,
removing the strength included, is refused with ``InvalidState`` (409): make a new
ingredient instead.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from formulary.audit.services import record
from formulary.cocktails.models import CocktailVersion, Component
from formulary.domain.doses import IngredientFacts
from formulary.domain.errors import Duplicate, InvalidState, ValidationError, refuse_unknown_fields
from formulary.domain.gs1 import normalize_gtin
from formulary.domain.messages import msg
from formulary.domain.safety import CONDITIONS, group_key
from formulary.domain.text import check_text, text_key
from formulary.domain.units import (ACTIVE_UNITS, Strength, UnitConversionError, convert_exact,
                                    parse_quantity, parse_unit)
from formulary.inventory.models import (CATEGORIES, INGREDIENT_NOTES_MAX, STORAGES, AllergenGroup, Ingredient,
                                        IngredientContraindication, IngredientGtin, Lot)

FIELDS = ("name", "category", "unit", "strength", "allergen_groups", "contraindications",
          "reorder_level", "max_dose_per_session", "gtins", "storage", "multi_dose",
          "in_use_days", "active", "notes")
NAME_MAX = 160
NOTES_MAX = INGREDIENT_NOTES_MAX
MAX_IN_USE_DAYS = 3650


def name_key(name: str) -> str:
    """The one comparison key of names (``formulary.domain.text.text_key``)."""
    return text_key(name)


def strength_of(ing: Ingredient) -> Strength | None:
    if ing.strength_amount is None or ing.strength_unit is None:
        return None
    return Strength(ing.strength_amount, ing.strength_unit)


def ingredient_facts(ingredient: Ingredient) -> IngredientFacts:
    """What the dose rules need to know about an ingredient."""
    max_dose = None
    if ingredient.max_dose_amount is not None and ingredient.max_dose_unit:
        max_dose = (ingredient.max_dose_amount, ingredient.max_dose_unit)
    return IngredientFacts(id=ingredient.id, name=ingredient.name, unit=ingredient.unit,
                           strength=strength_of(ingredient), max_dose_per_session=max_dose,
                           active=ingredient.active)


def snapshot(ing: Ingredient) -> dict:
    return {
        "name": ing.name, "category": ing.category, "unit": ing.unit,
        "strength": ({"amount": ing.strength_amount, "unit": ing.strength_unit}
                     if ing.strength_amount is not None else None),
        "allergen_groups": [g.name for g in ing.allergen_groups],
        "contraindications": [c.condition for c in ing.contraindications],
        "reorder_level": ing.reorder_level,
        "max_dose_per_session": ({"amount": ing.max_dose_amount, "unit": ing.max_dose_unit}
                                 if ing.max_dose_amount is not None else None),
        "gtins": [g.gtin for g in ing.gtins], "storage": ing.storage,
        "multi_dose": ing.multi_dose, "in_use_days": ing.in_use_days, "active": ing.active,
        "notes": ing.notes,
    }


class _Problems:
    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def absorb(self, exc: ValidationError, field: str | None = None) -> None:
        for key, messages in exc.fields.items():
            for m in messages:
                self.add(field or key, m)
        if not exc.fields:
            self.add(field or "name", exc.message)

    def raise_if_any(self) -> None:
        if self.fields:
            count = sum(len(v) for v in self.fields.values())
            first = next(iter(self.fields.values()))[0]
            raise ValidationError(
                first if count == 1 else msg("%(count)s fields need attention.", count=count),
                fields=self.fields)


def _amount_unit(value, field: str, p: _Problems) -> tuple[Decimal, str] | None:
    """A ``{amount, unit}`` object (or null)."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"amount", "unit"}:
        p.add(field, "Give an object {amount, unit}, or null.")
        return None
    amount = unit = None
    try:
        amount = parse_quantity(value.get("amount"), f"{field}.amount")
    except ValidationError as exc:
        p.absorb(exc, field)
    try:
        unit = parse_unit(value.get("unit"), f"{field}.unit")
    except ValidationError as exc:
        p.absorb(exc, field)
    if amount is None or unit is None:
        return None
    return amount, unit


def _string_list(value, field: str, p: _Problems) -> list[str] | None:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        p.add(field, "Give a list of names.")
        return None
    return [v for v in value if v.strip()]


def _validate(session: Session, data: dict, ing: Ingredient | None) -> dict:
    """Check ``data`` against the rules; return the clean values of the keys present
    (for a create: every key, with defaults)."""
    if not isinstance(data, dict):
        raise ValidationError("Give the ingredient as an object.")
    refuse_unknown_fields(data, FIELDS)
    creating = ing is None
    if creating:
        data = {"strength": None, "allergen_groups": [], "contraindications": [],
                "reorder_level": None, "max_dose_per_session": None, "gtins": [],
                "storage": "room", "multi_dose": False, "in_use_days": None, "active": True,
                "notes": "", **data}
        for required in ("name", "category", "unit"):
            data.setdefault(required, None)
    p = _Problems()
    out: dict = {}

    if "name" in data:
        try:
            out["name"] = check_text(data["name"], "name", msg("Name"), required=True,
                                     max_length=NAME_MAX)
        except ValidationError as exc:
            p.absorb(exc)
    if "category" in data:
        if data["category"] not in CATEGORIES or not isinstance(data["category"], str):
            p.add("category", "Choose a category: " + ", ".join(CATEGORIES) + ".")
        else:
            out["category"] = data["category"]
    if "unit" in data:
        try:
            out["unit"] = parse_unit(data["unit"], "unit")
        except ValidationError as exc:
            p.absorb(exc)
    if "storage" in data:
        if not isinstance(data["storage"], str) or data["storage"] not in STORAGES:
            p.add("storage", "Choose a storage: room or fridge.")
        else:
            out["storage"] = data["storage"]
    for flag in ("multi_dose", "active"):
        if flag in data:
            if not isinstance(data[flag], bool):
                p.add(flag, "Must be true or false.")
            else:
                out[flag] = data[flag]
    if "in_use_days" in data:
        days = data["in_use_days"]
        if days is None:
            out["in_use_days"] = None
        elif isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_IN_USE_DAYS:
            p.add("in_use_days", f"A whole number of days from 1 to {MAX_IN_USE_DAYS}, or empty (28).")
        else:
            out["in_use_days"] = days
    if "notes" in data:
        try:
            out["notes"] = check_text(data["notes"], "notes", msg("Notes"), max_length=NOTES_MAX,
                                      multiline=True)
        except ValidationError as exc:
            p.absorb(exc)
    if "reorder_level" in data:
        if data["reorder_level"] is None or data["reorder_level"] == "":
            out["reorder_level"] = None
        else:
            try:
                out["reorder_level"] = parse_quantity(data["reorder_level"], "reorder_level",
                                                      allow_zero=True)
            except ValidationError as exc:
                p.absorb(exc)
    if "strength" in data:
        pair = _amount_unit(data["strength"], "strength", p)
        if pair is not None:
            if pair[1] not in ACTIVE_UNITS:
                p.add("strength", "A strength is an amount per mL in "
                      + ", ".join(ACTIVE_UNITS) + ".")
            else:
                out["strength"] = Strength(*pair)
        elif data["strength"] is None:
            out["strength"] = None
    if "max_dose_per_session" in data:
        pair = _amount_unit(data["max_dose_per_session"], "max_dose_per_session", p)
        if pair is not None or data["max_dose_per_session"] is None:
            out["max_dose_per_session"] = pair
    if "contraindications" in data:
        items = _string_list(data["contraindications"], "contraindications", p)
        if items is not None:
            bad = [c for c in items if c not in CONDITIONS]
            if bad:
                p.add("contraindications", "Unknown condition(s): " + ", ".join(bad)
                      + ". Use: " + ", ".join(CONDITIONS) + ".")
            else:
                out["contraindications"] = sorted(set(items))
    if "allergen_groups" in data:
        items = _string_list(data["allergen_groups"], "allergen_groups", p)
        if items is not None:
            keys = {group_key(n): n for n in items}
            found = {g.name_key: g for g in session.execute(
                select(AllergenGroup).where(AllergenGroup.name_key.in_(list(keys)))).scalars()} \
                if keys else {}
            missing = [n for k, n in keys.items() if k not in found]
            if missing:
                p.add("allergen_groups", "Unknown allergen group(s): " + ", ".join(missing) + ".")
            else:
                out["allergen_groups"] = sorted(found.values(), key=lambda g: g.name)
    if "gtins" in data:
        items = _string_list(data["gtins"], "gtins", p)
        if items is not None:
            gtins = []
            for text in items:
                try:
                    gtins.append(normalize_gtin(text, "gtins"))
                except ValidationError as exc:
                    p.absorb(exc)
            out["gtins"] = sorted(set(gtins))
    p.raise_if_any()

    # Rules across fields, on the state the ingredient will have.
    def final(key, current):
        return out[key] if key in out else current

    unit = final("unit", ing.unit if ing else None)
    strength = final("strength", strength_of(ing) if ing else None)
    if strength is not None and unit != "mL":
        p.add("strength", "Only an ingredient stocked in mL carries a strength per mL.")
    max_dose = final("max_dose_per_session",
                     (ing.max_dose_amount, ing.max_dose_unit)
                     if ing and ing.max_dose_amount is not None else None)
    if max_dose is not None and unit is not None and not (strength is not None and unit != "mL"):
        try:
            convert_exact(max_dose[0], max_dose[1], unit, strength)
        except UnitConversionError as exc:
            p.add("max_dose_per_session",
                  f"The maximum dose must convert to the stock unit ({unit}): {exc.message}")
    if ing is not None:
        _refuse_stock_basis_change(session, ing, out)
    multi = final("multi_dose", ing.multi_dose if ing else False)
    if final("in_use_days", ing.in_use_days if ing else None) is not None and not multi:
        p.add("in_use_days", "An in-use period applies to multi-dose vials only.")
    p.raise_if_any()

    if "name" in out:
        clash = session.execute(select(Ingredient.id).where(
            Ingredient.name_key == name_key(out["name"]),
            Ingredient.id != (ing.id if ing else -1))).first()
        if clash:
            raise Duplicate(msg("An ingredient named %(name)s already exists.",
                                name=out['name']), field="name")
    if out.get("gtins"):
        clash = session.execute(select(IngredientGtin.gtin, Ingredient.name).join(Ingredient).where(
            IngredientGtin.gtin.in_(out["gtins"]),
            IngredientGtin.ingredient_id != (ing.id if ing else -1))).first()
        if clash:
            raise Duplicate(msg("GTIN %(gtin)s already belongs to %(ingredient)s.",
                                gtin=clash[0], ingredient=clash[1]), field="gtins")
    return out


def _refuse_stock_basis_change(session: Session, ing: Ingredient, out: dict) -> None:
    """Refuse a change of stock unit or strength (removing it too) once the ingredient
    has a lot or is in an approved cocktail version; see the module's docstring.

    The ingredient's row is locked first (PostgreSQL): a lot or a component inserted
    meanwhile by another transaction holds a key-share lock on it through its foreign key,
    and an approval holds a share lock (``approve_cocktail``), so either that transaction
    commits first and is seen here, or it waits until this change is committed."""
    changed = [key for key, now in (("unit", ing.unit), ("strength", strength_of(ing)))
               if key in out and out[key] != now]
    if not changed:
        return
    session.execute(select(Ingredient.id).where(Ingredient.id == ing.id).with_for_update())
    uses = []
    if session.execute(select(Lot.id).where(Lot.ingredient_id == ing.id).limit(1)).first():
        uses.append("has lots")
    if session.execute(
            select(Component.id).join(CocktailVersion, Component.version_id == CocktailVersion.id)
            .where(Component.ingredient_id == ing.id, CocktailVersion.approved_at.is_not(None))
            .limit(1)).first():
        uses.append("is in an approved cocktail version")
    if not uses:
        return
    what = " and ".join({"unit": "stock unit", "strength": "strength"}[k] for k in changed)
    message = (f"{ing.name} {' and '.join(uses)}: its stock unit and strength never change, "
               f"or batches would silently deliver another dose. To change its {what}, "
               "make a new ingredient.")
    raise InvalidState(message, fields={key: [message] for key in changed})


def _apply(ing: Ingredient, out: dict) -> None:
    for key in ("name", "category", "unit", "storage", "multi_dose", "in_use_days", "active",
                "notes", "reorder_level"):
        if key in out:
            setattr(ing, key, out[key])
    if "name" in out:
        ing.name_key = name_key(out["name"])
    if "strength" in out:
        s = out["strength"]
        ing.strength_amount, ing.strength_unit = (s.amount, s.unit) if s else (None, None)
    if "max_dose_per_session" in out:
        m = out["max_dose_per_session"]
        ing.max_dose_amount, ing.max_dose_unit = m if m else (None, None)
    if "allergen_groups" in out:
        ing.allergen_groups = out["allergen_groups"]
    if "contraindications" in out:
        current = {c.condition: c for c in ing.contraindications}
        ing.contraindications = [current.get(c) or IngredientContraindication(condition=c)
                                 for c in out["contraindications"]]
    if "gtins" in out:
        current = {g.gtin: g for g in ing.gtins}
        ing.gtins = [current.get(g) or IngredientGtin(gtin=g) for g in out["gtins"]]


def create_ingredient(session: Session, actor, data: dict) -> Ingredient:
    out = _validate(session, data, None)
    ing = Ingredient(allergen_groups=[], contraindications=[], gtins=[])
    _apply(ing, out)
    session.add(ing)
    session.flush()
    record(session, actor, "ingredient.create", "ingredient", ing.id,
           summary=f"Created ingredient {ing.name}", after=snapshot(ing))
    return ing


def update_ingredient(session: Session, actor, ingredient: Ingredient, data: dict) -> Ingredient:
    before = snapshot(ingredient)
    out = _validate(session, data, ingredient)
    _apply(ingredient, out)
    session.flush()
    after = snapshot(ingredient)
    if after != before:
        record(session, actor, "ingredient.update", "ingredient", ingredient.id,
               summary=f"Changed ingredient {ingredient.name}", before=before, after=after)
    return ingredient


__all__ = ["FIELDS", "create_ingredient", "ingredient_facts", "name_key", "snapshot",
           "strength_of", "update_ingredient"]

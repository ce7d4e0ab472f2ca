"""Cocktail dose arithmetic (SPEC §5): check a cocktail's components, describe the mix.

A component is an ingredient and an amount per dose, in any unit that converts
to the ingredient's stock unit (10 mg of biotin 5 mg/mL is 2 mL from stock).
Everything here takes plain values and returns plain values; the service loads
the ingredients, calls these rules and writes the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal
from fractions import Fraction

from formulary.domain.errors import InvalidState, ValidationError
from formulary.domain.messages import msg, quoted
from formulary.domain.units import (
    ACTIVE_UNITS,
    MASS,
    MAX_STORED,
    STORED_STEP,
    Strength,
    StoredScaleError,
    UnitConversionError,
    convert_exact,
    format_quantity,
    parse_quantity,
    parse_unit,
    round_half_up,
    to_stored,
)

#: Decimal places of a concentration in the final mix (mg/mL, IU/mL, U/mL).
CONCENTRATION_SCALE = 6


@dataclass(frozen=True)
class IngredientFacts:
    """What the dose rules need to know about one ingredient.

    ``unit`` is its stock unit; ``strength`` its active amount per mL (solutions
    stocked in mL only, else None); ``max_dose_per_session`` an (amount, unit)
    pair in any unit that converts to the stock unit, or None for no limit;
    ``active`` whether it may still be used (see :func:`check_preparable`).
    """

    id: int
    name: str
    unit: str
    strength: Strength | None = None
    max_dose_per_session: tuple[Decimal, str] | None = None
    active: bool = True


@dataclass(frozen=True)
class ComponentInput:
    """A component as a person or a client gave it: raw values, not yet checked."""

    ingredient_id: object
    amount: object
    unit: object


@dataclass(frozen=True)
class ComponentDose:
    """A checked component: ``amount`` in ``unit`` as given (canonical), and the same
    dose in the ingredient's stock unit (``stock_quantity`` in ``stock_unit``)."""

    ingredient_id: int
    amount: Decimal
    unit: str
    stock_quantity: Decimal
    stock_unit: str


@dataclass(frozen=True)
class MixSummary:
    """One dose of the mixed cocktail.

    ``total_volume_ml``: sum of the components stocked in mL, or None when none is.
    ``concentrations``: per ingredient id, ``(amount, unit)`` of active substance
    per 1 mL of the mix ("mg" for any mass, "IU", "U"), or None when there is no
    volume or no active amount to speak of (a diluent, an ``each`` item).
    """

    total_volume_ml: Decimal | None
    concentrations: dict[int, tuple[Decimal, str] | None]


def _ingredient_id(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    # form fields arrive as text; digits only, so "1e3" or " 7x" are not ids
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        return int(raw.strip())
    return None


def _describe(amount: Decimal, unit: str) -> str:
    """"2.5 mL" (rounded as every page shows it; a comma in French, at the edge)."""
    return msg("%(amount)s %(unit)s", amount=Decimal(format_quantity(amount)), unit=unit)


def _over_maximum(amount: Decimal, unit: str, exact: Fraction,
                  ingredient: IngredientFacts) -> str | None:
    """Why a dose (``amount`` ``unit``, exactly ``exact`` in the stock unit) breaks the
    ingredient's maximum dose per session, or None when it does not (or there is none).

    Compared exactly (as fractions, in the stock unit), so rounding can neither push a
    dose over the maximum nor let one slip under it. A maximum that cannot be converted
    to the stock unit is a refusal too: it is a safety limit, and the ingredient record
    needs fixing rather than the limit being ignored."""
    if ingredient.max_dose_per_session is None:
        return None
    max_amount, max_unit = ingredient.max_dose_per_session
    try:
        limit = convert_exact(max_amount, max_unit, ingredient.unit, ingredient.strength)
    except UnitConversionError as error:
        return msg("The maximum dose per session of %(ingredient)s (%(maximum)s) cannot be "
                   "checked: %(error)s", ingredient=ingredient.name,
                   maximum=_describe(max_amount, max_unit), error=error.message)
    if exact > limit:
        return msg("%(dose)s is over the maximum dose per session of %(ingredient)s "
                   "(%(maximum)s).", dose=_describe(amount, unit), ingredient=ingredient.name,
                   maximum=_describe(max_amount, max_unit))
    return None


def _stock_quantity(amount: Decimal, unit: str, exact: Fraction,
                    ingredient: IngredientFacts) -> Decimal:
    """The stock quantity per dose as stored (rounded up to 6 places), or a
    :class:`ValidationError` naming the ingredient when the dose converts to no stock
    at that scale or to more than 9 digits before the point (SPEC §3)."""
    try:
        return to_stored(exact)
    except StoredScaleError as error:
        dose = msg("%(amount)s of %(ingredient)s", amount=_describe(amount, unit),
                   ingredient=ingredient.name)
        if error.kind == "too_small":
            raise ValidationError(
                msg("%(dose)s is less than %(step)s %(unit)s, the smallest quantity of its "
                    "stock that is recorded: it would be drawn as nothing. Give a larger dose, "
                    "or use an ingredient stocked in a smaller unit.",
                    dose=dose, step=STORED_STEP, unit=ingredient.unit)) from None
        raise ValidationError(
            msg("%(dose)s converts to too much stock per dose: at most 9 digits before the "
                "decimal point in %(unit)s.",
                dose=dose, unit=ingredient.unit)) from None


def check_components(components: Sequence[ComponentInput] | None,
                     ingredients: Mapping[int, IngredientFacts]) -> tuple[ComponentDose, ...]:
    """Check a cocktail's components and return them with their stock quantity per dose.

    ``ingredients`` holds the ingredients a component may name (the caller
    decides which: e.g. only active ones). Every problem is collected, then one
    :class:`ValidationError` is raised whose ``fields`` use the keys:

    - ``components``: no component at all;
    - ``components.{i}.ingredient_id``: missing or unknown ingredient, or the
      same ingredient as an earlier component;
    - ``components.{i}.amount``: not a positive exact number (see
      ``parse_quantity``), 10^9 or more, over the ingredient's maximum dose per
      session, or a dose whose stock quantity cannot be stored exactly: below
      0.000001 of the stock unit (0.5 mcg of an ingredient stocked in g would be drawn
      as nothing) or of 10^9 or more;
    - ``components.{i}.unit``: unknown unit, or one that does not convert to the
      stock unit.

    The maximum dose is compared exactly (as fractions, in the stock unit), so
    rounding can neither push a dose over it nor let one slip under it. The stock
    quantity per dose is rounded UP to 6 places (``units.round_computed``), so a draw
    is never under-counted.
    """
    problems: dict[str, list[str]] = {}

    def problem(key: str, message: str) -> None:
        problems.setdefault(key, []).append(message)

    def absorb(error: ValidationError) -> None:
        for key, messages in error.fields.items():
            for message in messages:
                problem(key, message)

    components = list(components or ())
    if not components:
        problem("components", "Add at least one component.")

    doses: list[ComponentDose] = []
    seen: set[int] = set()
    for i, component in enumerate(components):
        prefix = f"components.{i}"

        ingredient: IngredientFacts | None = None
        ingredient_id = _ingredient_id(component.ingredient_id)
        if component.ingredient_id is None or component.ingredient_id == "":
            problem(f"{prefix}.ingredient_id", "Choose an ingredient.")
        elif ingredient_id is None or ingredient_id not in ingredients:
            problem(f"{prefix}.ingredient_id",
                    msg("Unknown ingredient: %(id)s.", id=quoted(component.ingredient_id)))
        elif ingredient_id in seen:
            # the rest of this row is still checked, so every mistake shows at once
            problem(f"{prefix}.ingredient_id",
                    msg("%(name)s is already in this cocktail.",
                        name=ingredients[ingredient_id].name))
        else:
            ingredient = ingredients[ingredient_id]
            seen.add(ingredient_id)

        amount = unit = None
        try:
            amount = parse_quantity(component.amount, f"{prefix}.amount")
        except ValidationError as error:
            absorb(error)
        if amount is not None and amount >= MAX_STORED:
            # stored with 6 places, more digits would not be exact on SQLite
            problem(f"{prefix}.amount", "Amount is too large: at most 9 digits before "
                                        "the decimal point.")
            amount = None
        try:
            unit = parse_unit(component.unit, f"{prefix}.unit")
        except ValidationError as error:
            absorb(error)
        if ingredient is None or amount is None or unit is None:
            continue

        try:
            exact = convert_exact(amount, unit, ingredient.unit, ingredient.strength)
        except UnitConversionError as error:
            problem(f"{prefix}.unit", error.message)
            continue

        over = _over_maximum(amount, unit, exact, ingredient)
        if over is not None:
            problem(f"{prefix}.amount", over)
            continue
        try:
            stock_quantity = _stock_quantity(amount, unit, exact, ingredient)
        except ValidationError as error:
            problem(f"{prefix}.amount", error.message)
            continue

        doses.append(ComponentDose(ingredient_id=ingredient.id, amount=amount, unit=unit,
                                   stock_quantity=stock_quantity,
                                   stock_unit=ingredient.unit))

    if problems:
        count = sum(len(messages) for messages in problems.values())
        first = next(iter(problems.values()))[0]
        message = first if count == 1 else msg("The components have %(count)s problems.", count=count)
        raise ValidationError(message, fields=problems)
    return tuple(doses)


def check_preparable(doses: Sequence[ComponentDose],
                     ingredients: Mapping[int, IngredientFacts]) -> None:
    """Refuse a batch of an approved version whose ingredients have changed since it
    was approved (SPEC §4): an ingredient that is no longer active, or whose maximum
    dose per session is now below the version's dose. ``ingredients`` are as they are
    now; the dose is compared exactly, as :func:`check_components` does.

    Raises :class:`InvalidState` (409: the request is sound, the formulary is not in a
    state that allows it) naming every ingredient concerned, on ``cocktail_id``.
    """
    problems: list[str] = []
    for dose in doses:
        ingredient = ingredients.get(dose.ingredient_id)
        if ingredient is None:  # a programming error: the caller loads every ingredient
            raise KeyError(dose.ingredient_id)
        if not ingredient.active:
            problems.append(f"{ingredient.name} is inactive: a batch cannot use it.")
            continue
        try:
            exact = convert_exact(dose.amount, dose.unit, ingredient.unit, ingredient.strength)
        except UnitConversionError as error:
            problems.append(f"{ingredient.name}: {_describe(dose.amount, dose.unit)} can no "
                            f"longer be converted to its stock unit: {error.message}")
            continue
        over = _over_maximum(dose.amount, dose.unit, exact, ingredient)
        if over is not None:
            problems.append(over)
    if problems:
        raise InvalidState(" ".join(problems) + " This version cannot be prepared: make a "
                           "new version of the cocktail.", field="cocktail_id")


def _active_amount(dose: ComponentDose,
                   ingredient: IngredientFacts | None) -> tuple[Fraction, str] | None:
    """The active substance in one dose of a component, in mg (any mass), IU or U."""
    if dose.unit in ACTIVE_UNITS:
        amount, unit = Fraction(dose.amount), dose.unit
    elif dose.unit == "mL" and ingredient is not None and ingredient.strength is not None:
        amount = Fraction(dose.amount) * Fraction(ingredient.strength.amount)
        unit = ingredient.strength.unit
    else:
        return None  # each, or a solution with no strength (a diluent)
    if unit in MASS:
        return Fraction(convert_exact(Decimal(1), unit, "mg")) * amount, "mg"
    return amount, unit


def summarize(doses: Sequence[ComponentDose],
              ingredients: Mapping[int, IngredientFacts]) -> MixSummary:
    """The volume of one dose and each component's concentration in it.

    Total volume: the sum of the stock quantities of components stocked in mL.
    Concentration: the component's active amount (the amount given when given in
    mass, IU or U; else its mL times its strength) over the total volume, per mL,
    rounded half-up to :data:`CONCENTRATION_SCALE` places; mass in mg/mL.

    Pure: the answer depends on the doses and the ingredients' strengths only, so it is
    remembered by those values (every cocktail of a list page is worked out again on
    every request otherwise, in exact fractions); a changed dose or strength is another
    key, never a stale answer.
    """
    key = []
    for dose in doses:
        strength = getattr(ingredients.get(dose.ingredient_id), "strength", None)
        # decimals by their text: 2.50 and 2.5 are equal but not written the same
        key.append((dose.ingredient_id, str(dose.amount), dose.unit, str(dose.stock_quantity),
                    dose.stock_unit,
                    None if strength is None else (str(strength.amount), strength.unit)))
    mix = _summarize(tuple(key))
    return MixSummary(total_volume_ml=mix.total_volume_ml,
                      concentrations=dict(mix.concentrations))


@dataclass(frozen=True)
class _Strength:
    strength: Strength


@lru_cache(maxsize=4096)
def _summarize(key: tuple) -> MixSummary:
    doses = [ComponentDose(ingredient_id=i, amount=Decimal(amount), unit=unit,
                           stock_quantity=Decimal(quantity), stock_unit=stock_unit)
             for i, amount, unit, quantity, stock_unit, _ in key]
    ingredients = {i: _Strength(Strength(Decimal(strength[0]), strength[1]))
                   for i, _, _, _, _, strength in key if strength is not None}
    volumes = [dose.stock_quantity for dose in doses if dose.stock_unit == "mL"]
    total = sum(volumes, Decimal(0)) if volumes else None

    concentrations: dict[int, tuple[Decimal, str] | None] = {}
    for dose in doses:
        active = _active_amount(dose, ingredients.get(dose.ingredient_id))
        if active is None or total is None or total <= 0:
            concentrations[dose.ingredient_id] = None
            continue
        amount, unit = active
        concentrations[dose.ingredient_id] = (
            round_half_up(amount / Fraction(total), CONCENTRATION_SCALE), unit)
    return MixSummary(total_volume_ml=total, concentrations=concentrations)


def doses_possible(doses: Sequence[ComponentDose], usable: Mapping[int, Decimal]) -> int:
    """How many whole doses the usable stock allows: the smallest, over the
    components, of usable stock // stock quantity per dose (exact, floored).

    ``usable`` maps an ingredient id to its usable stock in its stock unit; a
    missing id has none. No components: 0 (there is nothing to prepare).
    An ingredient named twice needs its quantities together.
    """
    needed: dict[int, Decimal] = {}
    for dose in doses:
        needed[dose.ingredient_id] = needed.get(dose.ingredient_id, Decimal(0)) \
            + dose.stock_quantity
    if not needed:
        return 0
    possible: list[int] = []
    for ingredient_id, per_dose in needed.items():
        if per_dose <= 0:
            raise ValueError("A component's stock quantity per dose must be positive.")
        stock = usable.get(ingredient_id, Decimal(0))
        if isinstance(stock, (bool, float)) or not isinstance(stock, (int, Decimal)):
            raise TypeError(f"Usable stock must be a Decimal, got {type(stock).__name__}.")
        # Fractions: an exact floor, whatever the decimal context's precision
        possible.append(max(0, Fraction(stock) // Fraction(per_dose)))
    return min(possible)


__all__ = [
    "CONCENTRATION_SCALE", "ComponentDose", "ComponentInput", "IngredientFacts",
    "MixSummary", "check_components", "check_preparable", "doses_possible", "summarize",
]

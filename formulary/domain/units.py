"""Quantities and units (SPEC §3): parsing what people type, exact conversions.

Every quantity is a ``Decimal``; a float is refused at the door because it cannot
hold 0.1 exactly, and a dose that drifts by a rounding error is a dose nobody
can account for.

Units, in their canonical spelling (the only spelling stored or returned):

- mass ``mcg``, ``mg``, ``g`` (convert among themselves, exactly);
- volume ``mL``;
- ``IU`` (international units) and ``U`` (biological units): only to themselves;
- ``each`` (a vial, an ampoule): only to itself.

A solution stocked in mL may carry a :class:`Strength` (active substance per
1 mL); a mass, IU or U amount then converts to mL through it, and back.

Two conversions: :func:`convert_exact` is the pure one (a ``Fraction``, never
rounded: 0.0001 mcg is exactly 1/10^10 g); :func:`convert` is the same value as the
database stores it (:func:`to_stored`: rounded up to 6 places, refused when it is
below that scale or has more than 9 digits before the point).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import (MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_CEILING, ROUND_HALF_UP, Context, Decimal,
                     localcontext)
from fractions import Fraction

from formulary.domain.errors import ValidationError
from formulary.domain.messages import msg

MASS: tuple[str, ...] = ("mcg", "mg", "g")
VOLUME: tuple[str, ...] = ("mL",)
IU = "IU"
U = "U"
EACH = "each"
UNITS: tuple[str, ...] = (*MASS, *VOLUME, IU, U, EACH)

#: Units a strength (amount per 1 mL) may be expressed in.
ACTIVE_UNITS: tuple[str, ...] = (*MASS, IU, U)

#: Decimal places stored for every entered quantity (the database's Numeric scale).
SCALE = 4
#: Decimal places kept for a computed quantity (a stock quantity per dose): the
#: database's scale, Numeric(20, 6). A computed value with more places is rounded UP
#: to it (see :func:`round_computed`), whether or not it terminates.
COMPUTED_SCALE = 6
#: The smallest computed quantity that is stored as something: one unit of the 6th place.
STORED_STEP = Decimal("0.000001")
#: Computed quantities are stored below this (at most 9 digits before the point): with 6
#: places that is 15 significant digits, which SQLite's 8-byte reals hold exactly.
MAX_STORED = Decimal(10) ** 9
#: Entered quantities stay below this magnitude (SPEC §3 "Range": at most 9 digits before
#: the decimal point), the same bound as computed ones, so both databases store the same.
MAX_MAGNITUDE = MAX_STORED
#: The largest quantity that can be entered, as shown in messages.
MAX_QUANTITY_TEXT = "999999999.9999"

# Working precision for computed quantities: far more digits than a product or
# quotient of stored quantities needs before it is rounded up to 6 places.
_PRECISION = 60

# Mass in micrograms per unit: integers, so mass conversion is exact.
_MCG_PER: dict[str, int] = {"mcg": 1, "mg": 1_000, "g": 1_000_000}

_SPELLINGS: dict[str, str] = {
    # mass
    "mcg": "mcg", "ug": "mcg", "\u00b5g": "mcg", "\u03bcg": "mcg",
    "microgram": "mcg", "micrograms": "mcg",
    "mg": "mg", "milligram": "mg", "milligrams": "mg",
    "g": "g", "gram": "g", "grams": "g",
    # volume; cc is how many syringes are still marked
    "ml": "mL", "cc": "mL", "milliliter": "mL", "milliliters": "mL",
    "millilitre": "mL", "millilitres": "mL",
    # international units; "UI" is the French spelling, common on mesotherapy vials
    "iu": "IU", "i.u.": "IU", "ui": "IU",
    # biological units
    "u": "U", "unit": "U", "units": "U",
    # count
    "each": "each", "ea": "each", "pc": "each", "pcs": "each",
}

_ALLOWED = ", ".join(UNITS)

# ASCII digits only: Decimal() would also take "1_000", "٣" and "Infinity".
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


class UnitConversionError(ValidationError):
    """An amount cannot be expressed in the unit asked for."""

    def __init__(self, message: str, *, field: str | None = "unit", **kw):
        super().__init__(message, field=field, **kw)


# --------------------------------------------------------------------------- parsing

def parse_unit(text: object, field: str = "unit") -> str:
    """Return the canonical spelling of a unit typed by a person or sent by a client.

    Case and surrounding spaces are ignored ("ML", " ml " -> "mL"; "ug", "µg" ->
    "mcg"; "iu" -> "IU"; "u" -> "U"; "ea" -> "each"). Anything else raises
    :class:`ValidationError` on ``field``, naming the allowed units.
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        raise ValidationError(msg("Choose a unit: one of %(units)s.",
                                  units=_ALLOWED), field=field)
    if not isinstance(text, str):
        raise ValidationError(msg("Unit must be one of %(units)s.",
                                  units=_ALLOWED), field=field)
    unit = _SPELLINGS.get(text.strip().lower())
    if unit is None:
        raise ValidationError(
            msg("Unknown unit '%(text)s': use one of %(units)s.",
                text=text.strip(), units=_ALLOWED), field=field)
    return unit


def _label(field: str) -> str:
    """The name a person sees on the form: "components.0.unit_cost" -> "Unit cost" (a
    Message for the fields the clinic's forms have, so a reader reads it in their
    language)."""
    name = field.rsplit(".", 1)[-1].strip()
    if name in _FIELD_LABELS:
        return _FIELD_LABELS[name]
    last = name.replace("_", " ").strip() or "quantity"
    return last[0].upper() + last[1:]


#: The quantities the services read, named as :func:`_label` always named them.
_FIELD_LABELS = {"quantity": msg("Quantity"), "unit_cost": msg("Unit cost"),
                 "reorder_level": msg("Reorder level"), "quantity_delta": msg("Quantity delta"),
                 "depth_mm": msg("Depth mm"), "amount": msg("Amount")}


#: A context that never rounds what ``_canonical`` does: its precision is the largest
#: the decimal module allows, far beyond any digit count a value here can have.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_ONE = Decimal(1)


def _canonical(d: Decimal) -> Decimal:
    """The same value with no trailing fractional zeros and no positive exponent
    (Decimal("2.50") -> 2.5, Decimal("1E+3") -> 1000, Decimal("-0") -> 0).

    ``normalize`` and ``quantize`` under ``_EXACT``, whose precision no value reaches,
    so nothing is rounded (done in C: this runs for every quantity on every page).
    """
    if not d:
        return Decimal(0)  # no "-0", no "0.000"
    d = d.normalize(_EXACT)
    if d.as_integer_ratio()[1] == 1:
        return d.quantize(_ONE, context=_EXACT)  # 1E+3 -> 1000
    return d


def _places(d: Decimal) -> int:
    """Decimal places the value really needs (2.50 needs 1, 1E+3 needs 0)."""
    _, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    if not any(digits):
        return 0
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing_zeros))


def parse_quantity(value: object, field: str = "quantity", *,
                   allow_zero: bool = False, allow_negative: bool = False) -> Decimal:
    """Read an entered quantity exactly, or raise :class:`ValidationError` on ``field``.

    Accepted: ``int``, ``Decimal``, or ``str`` ("2.5", " 10 ", "1e3"; a point is
    the only decimal separator, so "2,5" is refused rather than guessed).
    Refused: ``bool``, ``float`` (send a string or an exact number), NaN and
    infinities, empty input, anything that is not a number, more than
    :data:`SCALE` decimal places (never silently rounded), more than 9 digits
    before the decimal point (:data:`MAX_MAGNITUDE`), zero unless ``allow_zero``, a negative value unless
    ``allow_negative``.

    Returns the value with trailing fractional zeros stripped and no exponent:
    ``Decimal("2.5")``, ``Decimal("1000")``.
    """
    label = _label(field)

    def refuse(message: str) -> ValidationError:
        return ValidationError(message, field=field)

    if isinstance(value, bool):
        # bool is an int subclass: True would silently become 1
        raise refuse(msg("%(label)s must be a number.",
                         label=label))
    if isinstance(value, float):
        raise refuse(msg("%(label)s must be sent as a string (\"2.5\") or an exact number, not "
                         "a floating-point number.",
                         label=label))
    if value is None:
        raise refuse(msg("%(label)s is required.",
                         label=label))
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise refuse(msg("%(label)s is required.",
                             label=label))
        if not _NUMBER.fullmatch(text):
            if "," in text:
                # 2,5 may be two and a half or (as 1,000) a thousands separator:
                # guessing either way could be off by a factor of 1000
                raise refuse(msg("%(label)s: use a point for decimals and no thousands "
                                 "separator (2.5, not 2,5).",
                                 label=label))
            raise refuse(msg("%(label)s must be a number, like 2.5.",
                             label=label))
        number = Decimal(text)
    else:
        raise refuse(msg("%(label)s must be a number.",
                         label=label))

    if not number.is_finite():
        raise refuse(msg("%(label)s must be a finite number.",
                         label=label))
    # Magnitude first: it is cheap, and it keeps "1e999999" away from the digit walk.
    if number.copy_abs() >= MAX_MAGNITUDE:  # copy_abs: no context, no Overflow
        raise refuse(msg("%(label)s is too large: at most 9 digits before the decimal point "
                         "(%(maximum)s).",
                         label=label, maximum=MAX_QUANTITY_TEXT))
    if _places(number) > SCALE:
        raise refuse(msg("At most %(places)s decimal places.",
                         places=SCALE))
    number = _canonical(number)
    if number == 0 and not allow_zero:
        raise refuse(f"{label} must be positive." if not allow_negative
                     else f"{label} must not be zero.")
    if number < 0 and not allow_negative:
        raise refuse(f"{label} must be positive." if not allow_zero
                     else f"{label} must not be negative.")
    return number


# ---------------------------------------------------------------------- strength

@dataclass(frozen=True)
class Strength:
    """Amount of active substance in 1 mL of a solution: ``Strength(Decimal("5"), "mg")``
    is 5 mg/mL. ``unit`` is a mass unit, ``IU`` or ``U``; ``amount`` is positive."""

    amount: Decimal
    unit: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, (bool, float)) or not isinstance(self.amount, (int, Decimal)):
            raise TypeError("Strength.amount must be a Decimal.")
        if isinstance(self.amount, int):
            object.__setattr__(self, "amount", Decimal(self.amount))
        if not self.amount.is_finite() or self.amount <= 0:
            raise ValidationError("Strength must be a positive amount per mL.",
                                  field="strength")
        if self.unit not in ACTIVE_UNITS:
            raise ValidationError(
                msg("A strength is an amount per mL in %(choices)s; '%(unit)s' per mL is not "
                    "one.",
                    choices=', '.join(ACTIVE_UNITS), unit=self.unit), field="strength")

    def __str__(self) -> str:
        return f"{format_quantity(self.amount)} {self.unit}/mL"


# -------------------------------------------------------------------- conversion

def _kind(unit: str) -> str:
    if unit in MASS:
        return "mass"
    return unit  # "mL", "IU", "U", "each": each is its own kind


def _as_decimal(amount: object) -> Decimal:
    if isinstance(amount, (bool, float)) or not isinstance(amount, (int, Decimal)):
        raise TypeError(f"Expected a Decimal amount, got {type(amount).__name__}.")
    return Decimal(amount)


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise UnitConversionError(msg("Unknown unit '%(unit)s': use one of %(units)s.",
                                      unit=unit, units=_ALLOWED))


def _ratio(from_unit: str, to_unit: str) -> Fraction:
    """Exact factor turning an amount in ``from_unit`` into ``to_unit`` (same kind)."""
    if from_unit in MASS:
        return Fraction(_MCG_PER[from_unit], _MCG_PER[to_unit])
    return Fraction(1)


def convert_exact(amount: Decimal, from_unit: str, to_unit: str,
                  strength: Strength | None = None) -> Fraction:
    """The exact value of :func:`convert`, as a ``Fraction`` (never rounded).

    For comparisons that must not be disturbed by rounding (is a dose over a
    maximum?), and for conversions below the stored scale (0.0001 mcg is 1/10^10 g
    here). Raises :class:`UnitConversionError` exactly as :func:`convert`, never
    :class:`StoredScaleError`: the stored scale is :func:`to_stored`'s business.
    """
    value = Fraction(_as_decimal(amount))
    _check_unit(from_unit)
    _check_unit(to_unit)
    source, target = _kind(from_unit), _kind(to_unit)
    if source == target:
        return value * _ratio(from_unit, to_unit)

    if {source, target} <= {"mass", IU, U, "mL"} and "mL" in (source, target):
        active_unit = from_unit if target == "mL" else to_unit
        if strength is None:
            raise UnitConversionError(
                msg("%(from_unit)s cannot be converted to %(to_unit)s: this ingredient has "
                    "no strength per mL.",
                    from_unit=from_unit, to_unit=to_unit))
        if _kind(strength.unit) != _kind(active_unit):
            raise UnitConversionError(
                msg("%(from_unit)s cannot be converted to %(to_unit)s: this ingredient's "
                    "strength is in %(strength_unit)s per mL.",
                    from_unit=from_unit, to_unit=to_unit, strength_unit=strength.unit))
        per_ml = Fraction(strength.amount)
        if target == "mL":
            return value * _ratio(from_unit, strength.unit) / per_ml
        return value * per_ml * _ratio(strength.unit, to_unit)

    raise UnitConversionError(msg("%(from_unit)s cannot be converted to %(to_unit)s.",
                                  from_unit=from_unit, to_unit=to_unit))


def round_computed(value: Fraction) -> Decimal:
    """A computed quantity as it is stored: rounded UP (towards +infinity) to
    :data:`COMPUTED_SCALE` places, exact when it has no more places than that.

    Up, because a computed quantity is what a draw takes from stock: rounding
    down would take more from the vial than the ledger records, and the stock
    on the shelf would run out before the stock in the books. Every value with
    more places is rounded, not only one that does not terminate: 1.0001 mg of a
    16 mg/mL solution is exactly 0.06250625 mL, which the database would cut to
    0.062506 (1,000 doses would draw 62.50625 mL and record 62.506); it is
    0.062507 here. Total: a positive value below :data:`STORED_STEP` gives
    STORED_STEP; see :func:`to_stored` for the refusals.
    """
    value = Fraction(value)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        # Rounding toward +inf here too, so the 60-digit quotient is never below
        # the true value before it is rounded up to 6 places.
        ctx.rounding = ROUND_CEILING
        quotient = Decimal(value.numerator) / Decimal(value.denominator)
        return _canonical(quotient.quantize(STORED_STEP))


class StoredScaleError(ValidationError):
    """A computed quantity that the database cannot hold as it is: below the stored
    scale (``kind == "too_small"``) or with more than 9 digits before the point
    (``kind == "too_large"``)."""

    def __init__(self, message: str, *, kind: str, **kw):
        super().__init__(message, **kw)
        self.kind = kind


def to_stored(value: Fraction) -> Decimal:
    """A computed stock quantity as stored (:func:`round_computed`), or refused.

    SPEC §3: a quantity that converts to no stock at the stored scale (below
    :data:`STORED_STEP`: 0.5 mcg of an ingredient stocked in g is 0.0000005 g) is
    refused rather than drawn as nothing (or, rounded up, as twice the dose); so is one
    of :data:`MAX_STORED` or more, which SQLite would not store exactly. Raises
    :class:`StoredScaleError` with no field: the caller knows what the quantity is and
    names it (``domain.doses`` says which ingredient and which dose).
    """
    if value < Fraction(STORED_STEP):
        raise StoredScaleError(
            f"The result is below the smallest quantity of stock recorded "
            f"({to_api(STORED_STEP)}).", kind="too_small")
    stored = round_computed(value) if value < MAX_STORED else MAX_STORED
    if stored >= MAX_STORED:  # rounding up may reach it: 999999999.9999995 -> 10^9
        raise StoredScaleError(
            "The result is too large: at most 9 digits before the decimal point.",
            kind="too_large")
    return stored


_WIDE = Context(prec=_PRECISION)
_STEPS = {places: Decimal(1).scaleb(-places) for places in range(0, 9)}


def round_half_up(value: Fraction | Decimal, places: int) -> Decimal:
    """``value`` rounded half-up to ``places`` decimals, trailing zeros stripped.

    For values shown or stored for information (a concentration), not for
    quantities taken from stock (see :func:`round_computed`).
    """
    if isinstance(value, Decimal):
        # The common case (every quantity shown on a page): Decimal rounds half away from
        # zero exactly, and far faster than going through a Fraction.
        return _canonical(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP,
                                         context=_WIDE))
    value = Fraction(value)
    scaled = value * 10**places
    # half-up on the magnitude, as people round: 0.5 -> 1, -0.5 -> -1
    magnitude = (abs(scaled.numerator) * 2 + scaled.denominator) // (2 * scaled.denominator)
    digits = -magnitude if scaled < 0 else magnitude
    # from a string, so no context precision rounds the digits again
    return _canonical(Decimal(f"{digits}E-{places}"))


def convert(amount: Decimal, from_unit: str, to_unit: str,
            strength: Strength | None = None) -> Decimal:
    """Express ``amount`` of ``from_unit`` in ``to_unit``.

    - mass to mass exactly (1 g = 1000 mg = 1,000,000 mcg); mL to mL; IU, U and
      each only to themselves;
    - a mass, IU or U amount to mL through ``strength`` when the strength is in
      the same kind of unit (10 mg of 5 mg/mL = 2 mL; 1000 IU of 5000 IU/mL =
      0.2 mL), and mL back to mass, IU or U likewise.

    Anything else raises :class:`UnitConversionError` (field ``unit``) with a
    sentence saying why. Units must be canonical (see :func:`parse_unit`).

    The result is a quantity as stored (:func:`to_stored`): exact when it has at most
    :data:`COMPUTED_SCALE` places, else rounded UP to them (1 mg of a 3 mg/mL solution
    is 0.333334 mL); a positive result below the stored scale (0.0001 mcg in g) or of
    10^9 or more raises :class:`StoredScaleError`. The exact value, at any scale, is
    :func:`convert_exact`'s. The result has no trailing fractional zeros.
    """
    return to_stored(convert_exact(amount, from_unit, to_unit, strength))


# -------------------------------------------------------------------- formatting

def format_quantity(d: Decimal, places: int = 4) -> str:
    """A quantity for people: rounded half-up to at most ``places`` decimals,
    trailing zeros stripped, never an exponent ("2.5", "0.0001", "1200")."""
    d = _as_decimal(d)
    if not d.is_finite():
        raise ValueError(f"Cannot format {d}.")
    # round_half_up, then its canonical form written out, by string: this runs for every
    # quantity on every page (tests/domain/test_units.py holds the two to the same text)
    text = format(d.quantize(_STEPS.get(places) or Decimal(1).scaleb(-places),
                             rounding=ROUND_HALF_UP, context=_WIDE), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def to_api(d: Decimal) -> str:
    """The exact decimal string of a quantity for the API: no exponent, no
    trailing zeros, nothing rounded ("2.5", "100")."""
    d = _as_decimal(d)
    if not d.is_finite():
        raise ValueError(f"Cannot serialise {d}.")
    return format(_canonical(d), "f")


__all__ = [
    "ACTIVE_UNITS", "COMPUTED_SCALE", "EACH", "IU", "MASS", "MAX_MAGNITUDE", "MAX_STORED",
    "MAX_QUANTITY_TEXT", "SCALE", "STORED_STEP", "U", "UNITS", "VOLUME", "Strength",
    "StoredScaleError", "UnitConversionError", "convert", "convert_exact", "format_quantity",
    "parse_quantity", "parse_unit", "round_computed", "round_half_up", "to_api", "to_stored",
]

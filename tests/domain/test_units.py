"""Truth tables for units and quantities (SPEC §3)."""

from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formulary.domain.errors import ValidationError
from formulary.domain.units import (
    COMPUTED_SCALE,
    MAX_STORED,
    SCALE,
    STORED_STEP,
    UNITS,
    StoredScaleError,
    Strength,
    UnitConversionError,
    convert,
    convert_exact,
    format_quantity,
    parse_quantity,
    parse_unit,
    round_computed,
    to_api,
    to_stored,
)


def test_units_are_the_seven_canonical_spellings():
    # SPEC §3 names exactly these; everything stored uses these spellings
    assert UNITS == ("mcg", "mg", "g", "mL", "IU", "U", "each")
    assert SCALE == 4 and COMPUTED_SCALE == 6


# ----------------------------------------------------------------------- parse_unit

@pytest.mark.parametrize("text, expected", [
    ("mg", "mg"),          # canonical stays canonical
    ("MG", "mg"),          # case is ignored
    (" mg ", "mg"),        # so are surrounding spaces (form fields)
    ("mcg", "mcg"),
    ("ug", "mcg"),         # ASCII stand-in for micro
    ("\u00b5g", "mcg"),    # MICRO SIGN, what most keyboards type
    ("\u03bcg", "mcg"),    # GREEK SMALL MU, what some fonts and PDFs give
    ("g", "g"),
    ("gram", "g"),
    ("ml", "mL"),          # the common lower-case spelling
    ("ML", "mL"),
    ("cc", "mL"),          # syringes are still marked in cc; 1 cc = 1 mL
    ("iu", "IU"),
    ("UI", "IU"),          # French "unités internationales", common on meso vials
    ("u", "U"),
    ("units", "U"),
    ("ea", "each"),
    ("EACH", "each"),
])
def test_parse_unit_normalises(text, expected):
    assert parse_unit(text) == expected


@pytest.mark.parametrize("text", [
    "",         # nothing chosen
    "   ",      # only spaces
    None,       # field missing from a JSON body
    "kg",       # a real unit, but not one this clinic doses in
    "mg/mL",    # a strength, not a unit
    "l",        # litres are not stocked
    5,          # not text at all
])
def test_parse_unit_refuses_with_the_allowed_list(text):
    with pytest.raises(ValidationError) as exc:
        parse_unit(text, field="components.0.unit")
    # the message lands on the field given and tells what would be accepted
    assert list(exc.value.fields) == ["components.0.unit"]
    assert "mcg, mg, g, mL, IU, U, each" in exc.value.message


# ------------------------------------------------------------------- parse_quantity

@pytest.mark.parametrize("value, expected", [
    ("2.5", D("2.5")),            # the plain case
    (" 2.5 ", D("2.5")),          # surrounding spaces from a form
    ("2.50", D("2.5")),           # trailing zeros carry no precision: normalised
    ("10", D("10")),
    (10, D("10")),                # JSON integer
    (D("0.0001"), D("0.0001")),   # exactly the stored scale
    ("0.0001", D("0.0001")),
    ("1e3", D("1000")),           # exponent form is fine when exact...
    ("2.5E-1", D("0.25")),        # ...in either direction
    (D("1E+3"), D("1000")),       # returned without an exponent
    ("+7", D("7")),               # explicit plus sign
    (".5", D("0.5")),             # leading point: unambiguous
    ("2.12340000", D("2.1234")),  # many digits, but the value has only 4 places
    ("999999999.9999", D("999999999.9999")),  # 9 digits before the point: the largest (§3 Range)
])
def test_parse_quantity_accepts(value, expected):
    result = parse_quantity(value)
    assert result == expected
    # normalised: the string form is what the API and forms will show
    assert str(result) == str(expected)


@pytest.mark.parametrize("value, message", [
    ("0", "Quantity must be positive."),            # zero is not a quantity to receive
    ("-1", "Quantity must be positive."),           # nor is a negative one
    ("0.00000", "Quantity must be positive."),      # zero however written
    ("2.12345", "At most 4 decimal places."),       # never silently rounded
    ("0.00001", "At most 4 decimal places."),
    ("1e-5", "At most 4 decimal places."),          # exponent that hides 5 places
    (D("0.12345"), "At most 4 decimal places."),    # same rule for Decimals
    ("1000000000", "Quantity is too large: at most 9 digits before the decimal point (999999999.9999)."),       # 10 digits before the point
    ("9876543219.9876", "Quantity is too large: at most 9 digits before the decimal point (999999999.9999)."),  # was stored inexactly on SQLite
    ("-1000000000", "Quantity is too large: at most 9 digits before the decimal point (999999999.9999)."),      # negative too
    ("1e13", "Quantity is too large: at most 9 digits before the decimal point (999999999.9999)."),
    ("1e999999999", "Quantity is too large: at most 9 digits before the decimal point (999999999.9999)."),  # no huge work
    ("1e-999999999", "At most 4 decimal places."),  # nor for a tiny exponent
    (2.5, 'Quantity must be sent as a string ("2.5") or an exact number, '
          "not a floating-point number."),          # a float cannot hold 0.1 exactly
    (True, "Quantity must be a number."),           # bool is an int subclass in Python
    (None, "Quantity is required."),
    ("", "Quantity is required."),
    ("  ", "Quantity is required."),
    ("abc", "Quantity must be a number, like 2.5."),
    ("2,5", "Quantity: use a point for decimals and no thousands separator "
            "(2.5, not 2,5)."),                     # 2.5 or 25? refuse to guess
    ("1,000", "Quantity: use a point for decimals and no thousands separator "
              "(2.5, not 2,5)."),                   # 1 or 1000? refuse to guess
    ("1 000", "Quantity must be a number, like 2.5."),
    ("1_000", "Quantity must be a number, like 2.5."),  # Decimal() would take it
    ("NaN", "Quantity must be a number, like 2.5."),
    ("Infinity", "Quantity must be a number, like 2.5."),
    (D("NaN"), "Quantity must be a finite number."),
    (D("Infinity"), "Quantity must be a finite number."),
    ("\u0663", "Quantity must be a number, like 2.5."),  # Arabic-Indic 3: ASCII only
    ("2.5mg", "Quantity must be a number, like 2.5."),   # the unit has its own field
    ([1], "Quantity must be a number."),
])
def test_parse_quantity_refuses(value, message):
    with pytest.raises(ValidationError) as exc:
        parse_quantity(value)
    assert exc.value.message == message
    assert exc.value.fields == {"quantity": [message]}


@pytest.mark.parametrize("value, kwargs, expected", [
    ("0", {"allow_zero": True}, D("0")),              # e.g. a count of nothing left
    ("-0", {"allow_zero": True}, D("0")),             # no negative zero comes back
    ("-2.5", {"allow_negative": True}, D("-2.5")),    # an adjustment's delta
    ("-999999999.9999", {"allow_negative": True}, D("-999999999.9999")),  # the most negative
])
def test_parse_quantity_allowances(value, kwargs, expected):
    result = parse_quantity(value, **kwargs)
    assert result == expected and str(result) == str(expected)


@pytest.mark.parametrize("value, kwargs, message", [
    ("0", {"allow_negative": True}, "Quantity must not be zero."),   # a delta of 0 does nothing
    ("-1", {"allow_zero": True}, "Quantity must not be negative."),  # zero yes, below no
])
def test_parse_quantity_allowances_refuse(value, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        parse_quantity(value, **kwargs)


def test_parse_quantity_names_the_field_in_the_message():
    # a nested API field gets a readable label from its last part
    with pytest.raises(ValidationError) as exc:
        parse_quantity("-1", field="components.2.unit_cost")
    assert exc.value.fields == {"components.2.unit_cost": ["Unit cost must be positive."]}


# -------------------------------------------------------------------------- convert

B5 = Strength(D("5"), "mg")        # biotin 5 mg/mL
ONE_MG = Strength(D("1"), "mg")
THREE_MG = Strength(D("3"), "mg")
VIT_D = Strength(D("5000"), "IU")  # 5000 IU/mL
HYAL = Strength(D("150"), "U")     # hyaluronidase 150 U/mL
MCG = Strength(D("200"), "mcg")    # 200 mcg/mL


@pytest.mark.parametrize("amount, src, dst, strength, expected", [
    # same unit: unchanged (and normalised)
    ("2.50", "mg", "mg", None, "2.5"),
    ("3", "mL", "mL", None, "3"),
    ("3", "IU", "IU", None, "3"),        # IU converts to itself
    ("3", "U", "U", None, "3"),          # so does U
    ("2", "each", "each", None, "2"),    # and each
    # mass to mass, exact in both directions
    ("1", "g", "mg", None, "1000"),
    ("1", "g", "mcg", None, "1000000"),
    ("1", "mg", "mcg", None, "1000"),
    ("500", "mcg", "mg", None, "0.5"),
    ("1", "mcg", "g", None, "0.000001"),  # 6 places, and exact: kept exactly
    # (0.0001 mcg in g lands below the stored scale: refused, see test_convert_refuses_*)
    # a mass does not need a strength to convert to mass, even if one is given
    ("2", "mg", "mcg", B5, "2000"),
    # mass to mL through the strength (the brief's cases)
    ("10", "mg", "mL", B5, "2"),         # 10 mg / 5 mg/mL
    ("500", "mcg", "mL", ONE_MG, "0.5"),  # 0.5 mg / 1 mg/mL
    ("0.01", "g", "mL", B5, "2"),        # 10 mg / 5 mg/mL, strength in another mass unit
    ("100", "mcg", "mL", MCG, "0.5"),    # strength in mcg/mL
    ("1", "mg", "mL", MCG, "5"),         # 1000 mcg / 200 mcg/mL
    ("1000", "IU", "mL", VIT_D, "0.2"),  # 1000 IU / 5000 IU/mL
    ("75", "U", "mL", HYAL, "0.5"),      # 75 U / 150 U/mL
    # mL to mass / IU / U through the strength
    ("2", "mL", "mg", B5, "10"),
    ("2", "mL", "g", B5, "0.01"),
    ("0.5", "mL", "mcg", ONE_MG, "500"),
    ("0.2", "mL", "IU", VIT_D, "1000"),
    ("0.5", "mL", "U", HYAL, "75"),
    # results that do not terminate are rounded UP to 6 places
    ("1", "mg", "mL", THREE_MG, "0.333334"),  # 0.3333... -> never under-count a draw
    ("2", "mg", "mL", THREE_MG, "0.666667"),  # 0.6666... -> up, here like half-up
    ("1", "mL", "mg", Strength(D("0.0003"), "mg"), "0.0003"),  # exact product, kept
    # exact results with more than 6 places are rounded UP too, not cut by the database:
    # 1.0001 mg of 16 mg/mL is exactly 0.06250625 mL (once stored as 0.062506)
    ("1.0001", "mg", "mL", Strength(D("16"), "mg"), "0.062507"),
    ("1.5", "mcg", "g", None, "0.000002"),   # 0.0000015 g: up, never down to 0.000001
])
def test_convert(amount, src, dst, strength, expected):
    result = convert(D(amount), src, dst, strength)
    assert result == D(expected)
    assert to_api(result) == expected


@pytest.mark.parametrize("amount, src, dst, strength, message", [
    # no strength: a mass cannot become a volume
    ("1", "mg", "mL", None, "mg cannot be converted to mL: this ingredient has no strength per mL."),
    ("1", "mL", "mg", None, "mL cannot be converted to mg: this ingredient has no strength per mL."),
    ("1", "IU", "mL", None, "IU cannot be converted to mL: this ingredient has no strength per mL."),
    # a strength of another kind does not help
    ("1", "mg", "mL", VIT_D, "mg cannot be converted to mL: this ingredient's strength is in IU per mL."),
    ("1", "IU", "mL", B5, "IU cannot be converted to mL: this ingredient's strength is in mg per mL."),
    ("1", "U", "mL", VIT_D, "U cannot be converted to mL: this ingredient's strength is in IU per mL."),
    ("1", "mL", "U", B5, "mL cannot be converted to U: this ingredient's strength is in mg per mL."),
    # IU, U and each convert only to themselves
    ("1", "IU", "mg", None, "IU cannot be converted to mg."),
    ("1", "IU", "mg", VIT_D, "IU cannot be converted to mg."),  # not even through a strength
    ("1", "IU", "U", None, "IU cannot be converted to U."),     # two different unit systems
    ("1", "U", "IU", None, "U cannot be converted to IU."),
    ("1", "each", "mL", B5, "each cannot be converted to mL."),
    ("1", "mg", "each", None, "mg cannot be converted to each."),
    ("1", "each", "mg", None, "each cannot be converted to mg."),
    # unknown units are a conversion error too, not a crash
    ("1", "kg", "mg", None, "Unknown unit 'kg': use one of mcg, mg, g, mL, IU, U, each."),
])
def test_convert_refuses(amount, src, dst, strength, message):
    with pytest.raises(UnitConversionError) as exc:
        convert(D(amount), src, dst, strength)
    assert exc.value.message == message
    assert exc.value.fields == {"unit": [message]}
    # a conversion error is a validation error: the API answers 422
    assert isinstance(exc.value, ValidationError)


@pytest.mark.parametrize("amount, src, dst, strength, kind", [
    # SPEC §3: no stock at the stored scale (6 places) is refused, not drawn as nothing
    ("0.0001", "mcg", "g", None, "too_small"),   # 0.0000000001 g
    ("0.5", "mcg", "g", None, "too_small"),      # 0.0000005 g: the case
    ("0.9999", "mcg", "g", None, "too_small"),   # just under one step
    ("0.0001", "mcg", "mL", Strength(D("1000"), "mg"), "too_small"),  # through a strength
    # more than 9 digits before the point: SQLite's reals would not hold it exactly
    ("1000000", "g", "mcg", None, "too_large"),  # 10^12 mcg
    ("1000", "g", "mcg", None, "too_large"),     # exactly 10^9: the first refused
    ("1", "g", "mL", Strength(D("0.0001"), "mcg"), "too_large"),  # 10^10 mL
])
def test_convert_refuses_what_the_database_cannot_store(amount, src, dst, strength, kind):
    with pytest.raises(StoredScaleError) as exc:
        convert(D(amount), src, dst, strength)
    assert exc.value.kind == kind
    assert isinstance(exc.value, ValidationError)  # a 422 if it ever reached a client
    # the pure conversion stays exact at any scale
    convert_exact(D(amount), src, dst, strength)


def test_the_pure_conversion_is_exact_below_the_stored_scale():
    # convert_exact is the unit arithmetic; the stored scale is to_stored's business
    assert convert_exact(D("0.0001"), "mcg", "g") == Fraction(1, 10**10)
    assert convert_exact(D("0.5"), "mcg", "g") == Fraction(1, 2 * 10**6)


@pytest.mark.parametrize("value, expected", [
    (Fraction(5, 2), "2.5"),                     # terminating, few places: exact
    (Fraction(1, 10**6), "0.000001"),            # exactly one step: exact
    (Fraction(6_250_625, 10**8), "0.062507"),    # 0.06250625: 8 places, up (was cut)
    (Fraction(1, 3), "0.333334"),                # does not terminate: up
    (Fraction(2, 3), "0.666667"),                # up, here like half-up
    (Fraction(1_000_001, 10**7), "0.100001"),    # 0.1000001: up by almost a whole step
    (Fraction(1, 2 * 10**6), "0.000001"),        # below one step: up to one (to_stored refuses)
    (Fraction(0), "0"),
])
def test_round_computed_rounds_up_at_the_stored_scale(value, expected):
    result = round_computed(value)
    assert to_api(result) == expected
    assert result >= value  # never under-counted


@pytest.mark.parametrize("value, expected", [
    (Fraction(1, 10**6), "0.000001"),                      # the smallest stored
    (Fraction(15, 10**7), "0.000002"),                     # 0.0000015: up
    (Fraction(999_999_999_999_999, 10**6), "999999999.999999"),  # the largest stored
    (Fraction(123_456_789), "123456789"),
])
def test_to_stored_accepts(value, expected):
    assert to_api(to_stored(value)) == expected


@pytest.mark.parametrize("value, kind", [
    (Fraction(0), "too_small"),                                # no stock at all
    (Fraction(1, 2 * 10**6), "too_small"),                     # 0.0000005: nothing at 6 places
    (Fraction(999_999, 10**12), "too_small"),                  # 0.000000999999
    (Fraction(10**9), "too_large"),                            # 10 digits before the point
    (Fraction(9_999_999_999_999_991, 10**7), "too_large"),     # 999999999.9999991 rounds up to 10^9
    (Fraction(10**40), "too_large"),                           # far beyond: no decimal overflow
])
def test_to_stored_refuses(value, kind):
    with pytest.raises(StoredScaleError) as exc:
        to_stored(value)
    assert exc.value.kind == kind


def test_convert_exact_keeps_the_true_value():
    # the rounded value is above the true one; comparisons use the exact one
    assert convert_exact(D("1"), "mg", "mL", THREE_MG) == Fraction(1, 3)
    assert convert(D("1"), "mg", "mL", THREE_MG) > D(1) / D(3)


@pytest.mark.parametrize("amount", [2.5, "2.5", None])
def test_convert_takes_decimals_only(amount):
    # a programming error, not a user's: floats must never reach the arithmetic
    with pytest.raises(TypeError):
        convert(amount, "mg", "mg")


@pytest.mark.parametrize("amount, unit", [
    (D("0"), "mg"),       # a strength of nothing per mL is not a strength
    (D("-1"), "mg"),
    (D("5"), "mL"),       # mL per mL is not an active amount
    (D("5"), "each"),
    (D("NaN"), "mg"),
])
def test_strength_refuses(amount, unit):
    with pytest.raises(ValidationError):
        Strength(amount, unit)


def test_strength_reads_as_per_ml():
    assert str(Strength(D("5.0"), "mg")) == "5 mg/mL"
    assert Strength(5, "IU").amount == D(5)  # an int is taken exactly


# ----------------------------------------------------------------------- formatting

@pytest.mark.parametrize("value, places, expected", [
    ("2.5", 4, "2.5"),           # trailing zeros never shown
    ("2.5000", 4, "2.5"),
    ("0.0001", 4, "0.0001"),     # small values are not shown in exponent form
    ("1E-4", 4, "0.0001"),
    ("1200", 4, "1200"),
    ("1.2E+3", 4, "1200"),       # nor large ones
    ("0.333334", 4, "0.3333"),   # rounded for people...
    ("0.66665", 4, "0.6667"),    # ...half-up, as people round
    ("0.00005", 4, "0.0001"),
    ("0.00004", 4, "0"),         # rounds to nothing: shown as 0, not -0 or 0.0000
    ("-0.00004", 4, "0"),
    ("2.25", 1, "2.3"),          # fewer places on request, still half-up
    ("1000000000000.5", 0, "1000000000001"),  # big values keep all their digits
])
def test_format_quantity(value, places, expected):
    assert format_quantity(D(value), places) == expected


@pytest.mark.parametrize("value, expected", [
    ("2.5", "2.5"),
    ("2.500", "2.5"),        # trailing zeros stripped
    ("100", "100"),
    ("1E+2", "100"),         # never an exponent in the API
    ("0.000001", "0.000001"),
    ("1E-10", "0.0000000001"),
    ("0.333334", "0.333334"),  # exact: nothing rounded
    ("-2.50", "-2.5"),
    ("-0.0", "0"),
])
def test_to_api(value, expected):
    assert to_api(D(value)) == expected


# ------------------------------------------------------------------------ properties

# quantities as they can be entered: below 10^9 (9 digits before the point), at most 4 decimal places
entered = st.integers(min_value=1, max_value=10**13 - 1).map(lambda n: D(n).scaleb(-4))


@settings(database=None, max_examples=300)
@given(amount=entered, per_ml=entered)
def test_a_computed_draw_is_never_below_the_true_value(amount, per_ml):
    # rounded up, by less than one unit of the 6th place, to at most 6 places; refused
    # only when below one unit of the 6th place or at 10^9 and over
    true = Fraction(amount) / Fraction(per_ml)
    try:
        drawn = convert(amount, "mg", "mL", Strength(per_ml, "mg"))
    except StoredScaleError as exc:
        assert (exc.kind == "too_small" and true < Fraction(STORED_STEP)) or \
            (exc.kind == "too_large" and true > Fraction(MAX_STORED) - Fraction(STORED_STEP))
        return
    assert true <= Fraction(drawn) < true + Fraction(1, 10**6)
    assert -drawn.as_tuple().exponent <= COMPUTED_SCALE and drawn < MAX_STORED


@settings(database=None, max_examples=300)
@given(amount=entered, src=st.sampled_from(["mcg", "mg", "g"]),
       dst=st.sampled_from(["mcg", "mg", "g"]))
def test_mass_conversion_round_trips_exactly(amount, src, dst):
    # powers of ten only: nothing is ever rounded
    there = convert_exact(amount, src, dst)
    assert convert_exact(D(there.numerator) / D(there.denominator), dst, src) == amount


@settings(database=None, max_examples=300)
@given(amount=entered)
def test_parse_quantity_reads_back_what_to_api_writes(amount):
    assert parse_quantity(to_api(amount)) == amount


def _canonical_by_digits(d: D) -> D:
    """The reference: trailing zeros stripped from the digit tuple, by hand."""
    sign, digits, exponent = d.as_tuple()
    digits = list(digits)
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    if exponent > 0:
        digits.extend([0] * exponent)
        exponent = 0
    if not any(digits):
        return D(0)
    return D((sign, tuple(digits), exponent))


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None)
       .filter(lambda d: abs(d.adjusted()) < 400))
@settings(max_examples=500)
def test_canonical_form_is_exact_and_has_no_trailing_zeros(d):
    from formulary.domain.units import _canonical

    got = _canonical(d)
    assert got.as_tuple() == _canonical_by_digits(d).as_tuple()
    assert got == d


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None)
       .filter(lambda d: abs(d.adjusted()) < 30), st.integers(min_value=0, max_value=8))
@settings(max_examples=500)
def test_format_quantity_writes_the_rounded_canonical_value(d, places):
    from formulary.domain.units import format_quantity, round_half_up

    assert format_quantity(d, places) == format(round_half_up(d, places), "f")

"""Truth tables for reading vial barcodes (SPEC §4, receiving by scan).

The GTINs are GS1's own examples with valid check digits: 09506000134352 (a
GTIN-13 in 14 digits), 00000096385074 (a GTIN-8), 00614141000036 (a GTIN-12),
19506000134359 (a GTIN-14 with packaging indicator 1).
"""

from datetime import date

import pytest

from formulary.domain.errors import ValidationError
from formulary.domain.gs1 import (
    BarcodeError,
    ScannedVial,
    gtin_check_digit_ok,
    normalize_gtin,
    read_barcode,
)

GS = "\x1d"
GTIN = "09506000134352"


def vial(gtin=GTIN, lot=None, expiry=None, serial=None):
    return gtin, lot, expiry, serial


@pytest.mark.parametrize("text, expected", [
    # human-readable form, as printed beside the DataMatrix
    ("(01)09506000134352(17)250600(10)ABC123(21)XYZ",
     vial(lot="ABC123", expiry=date(2025, 6, 30), serial="XYZ")),  # day 00: end of June
    # raw form: fixed-length fields run together, GS ends the lot before the serial
    (f"01{GTIN}17250615" f"10ABC123{GS}21XYZ",
     vial(lot="ABC123", expiry=date(2025, 6, 15), serial="XYZ")),
    # lot last: no separator needed at the end
    (f"01{GTIN}1725061510ABC123", vial(lot="ABC123", expiry=date(2025, 6, 15))),
    # fields in another order: lot first, then GS, then the fixed-length fields
    (f"10ABC123{GS}01{GTIN}17250615", vial(lot="ABC123", expiry=date(2025, 6, 15))),
    # symbology identifiers some scanners prefix: GS1 DataMatrix, GS1-128, GS1 QR
    (f"]d201{GTIN}1725061510ABC123", vial(lot="ABC123", expiry=date(2025, 6, 15))),
    (f"]C101{GTIN}1725061510ABC123", vial(lot="ABC123", expiry=date(2025, 6, 15))),
    (f"]Q301{GTIN}1725061510ABC123", vial(lot="ABC123", expiry=date(2025, 6, 15))),
    # a leading FNC1 sent as GS carries nothing
    (f"]d2{GS}01{GTIN}1725061510ABC123", vial(lot="ABC123", expiry=date(2025, 6, 15))),
    # keyboard-wedge scanners in a browser spell GS out or use the GS symbol
    (f"01{GTIN}10ABC123<GS>21XYZ", vial(lot="ABC123", serial="XYZ")),
    (f"01{GTIN}10ABC123<gs>21XYZ", vial(lot="ABC123", serial="XYZ")),   # any case
    (f"01{GTIN}10ABC123{{GS}}21XYZ", vial(lot="ABC123", serial="XYZ")),
    (f"01{GTIN}10ABC123\u241d21XYZ", vial(lot="ABC123", serial="XYZ")),
    # the Enter a scanner sends after the code is not part of it
    (f"01{GTIN}10ABC123\r\n", vial(lot="ABC123")),
    # WITHOUT a separator the lot swallows the rest: "21XYZ" becomes part of the lot.
    # That is GS1's rule (AI 10 is variable length), not a guess: the caller shows
    # the lot read so a person can catch it.
    (f"01{GTIN}10ABC12321XYZ", vial(lot="ABC12321XYZ")),
    # ...and an expiry after the lot is swallowed too: no expiry read
    (f"01{GTIN}10ABC12317250600", vial(lot="ABC12317250600")),
    # day 00 is the last day of the month, leap years included
    (f"(01){GTIN}(17)250200", vial(expiry=date(2025, 2, 28))),
    (f"(01){GTIN}(17)240200", vial(expiry=date(2024, 2, 29))),   # 2024 is a leap year
    (f"(01){GTIN}(17)251200", vial(expiry=date(2025, 12, 31))),
    # best before (15) is the expiry when 17 is absent...
    (f"(01){GTIN}(15)260300(10)L1", vial(lot="L1", expiry=date(2026, 3, 31))),
    # ...but 17 wins when both are there, whatever the order
    (f"(01){GTIN}(15)240200(17)250200", vial(expiry=date(2025, 2, 28))),
    # lot and expiry absent are not errors here: the caller decides
    (f"(01){GTIN}", vial()),
    (f"01{GTIN}", vial()),
    # GTIN-8, GTIN-12 and GTIN-14 as AI 01 carries them (14 digits)
    ("(01)00000096385074(10)A", vial(gtin="00000096385074", lot="A")),
    ("(01)00614141000036(10)A", vial(gtin="00614141000036", lot="A")),
    ("(01)19506000134359(10)A", vial(gtin="19506000134359", lot="A")),
    # a bare GTIN from a linear barcode on a box: padded to 14 digits
    ("9506000134352", vial()),                          # GTIN-13 (EAN-13)
    ("]E09506000134352", vial()),                       # with the EAN-13 symbology id
    ("96385074", vial(gtin="00000096385074")),          # GTIN-8
    ("614141000036", vial(gtin="00614141000036")),      # GTIN-12 (UPC-A)
    # printed HRI often has spaces after ")": GS1 data never holds a space
    (f"(01) {GTIN} (17) 250600 (10) ABC", vial(lot="ABC", expiry=date(2025, 6, 30))),
    # other AIs (production date, internal data) are read and ignored
    (f"(01){GTIN}(11)240115(17)270115(10)B7(99)X", vial(lot="B7", expiry=date(2027, 1, 15))),
    # the same AI twice with the same value is harmless
    (f"(01){GTIN}(10)A(10)A", vial(lot="A")),
    # a lot may hold any of GS1's characters, parentheses excepted in the HRI form
    (f"01{GTIN}10Ab-1/2.3", vial(lot="Ab-1/2.3")),
    # GS1 Digital Link, what newer 2D codes may hold
    (f"https://id.gs1.org/01/{GTIN}/10/ABC?17=250600",
     vial(lot="ABC", expiry=date(2025, 6, 30))),
])
def test_read_barcode(text, expected):
    result = read_barcode(text)
    assert (result.gtin, result.lot, result.expiry, result.serial) == expected
    assert isinstance(result, ScannedVial)


def test_read_barcode_keeps_the_raw_text():
    # the record keeps what was scanned (minus the scanner's Enter)
    raw = f"]d201{GTIN}10ABC123{GS}21XYZ"
    assert read_barcode(raw + "\n").raw == raw


def test_two_digit_year_follows_the_gs1_sliding_window():
    # GS1 GenSpecs §7.12: up to 50 years ahead is this century; 51 or more ahead
    # is the previous one. Relative to today, so the test holds every year.
    this_year = date.today().year
    ahead_50 = (this_year + 50) % 100
    ahead_51 = (this_year + 51) % 100
    assert read_barcode(f"(01){GTIN}(17){ahead_50:02d}0115").expiry == \
        date(this_year + 50, 1, 15)
    assert read_barcode(f"(01){GTIN}(17){ahead_51:02d}0115").expiry == \
        date(this_year + 51 - 100, 1, 15)


@pytest.mark.parametrize("text, message", [
    # nothing scanned
    ("", "Scan or type a barcode."),
    ("   \r\n", "Scan or type a barcode."),
    (None, "Scan or type a barcode."),
    ("]d2", "This barcode holds nothing to read: ']d2'."),
    # not GS1 at all
    ("hello", "Could not read 'hello' as a GS1 barcode."),
    ("x(01)09506000134352", "Could not read 'x(01)09506000134352' as a GS1 barcode."),
    # a bad check digit: biip leaves the GTIN empty without raising; we refuse
    ("(01)09506000134353(17)250600(10)ABC123",
     "Bad check digit in GTIN 09506000134353 "
     "(read from '(01)09506000134353(17)250600(10)ABC123')."),
    (f"01095060001343531725060010ABC123{GS}21X",   # the GS is shown readably
     "Bad check digit in GTIN 09506000134353 "
     "(read from '01095060001343531725060010ABC123<GS>21X')."),
    ("9506000134353", "Bad check digit in GTIN 9506000134353 (read from '9506000134353')."),
    ("(01)00000000000000",                          # valid check digit, no product
     "A GTIN of zeros names no product (read from '(01)00000000000000')."),
    # no GTIN: say what was read, so the person knows the scan did work
    ("(17)250600(10)ABC123", "No GTIN (AI 01) in this barcode: read expiry 2025-06-30, "
                             "lot ABC123."),
    ("1725060010ABC123", "No GTIN (AI 01) in this barcode: read expiry 2025-06-30, "
                         "lot ABC123."),
    ("(10)ABC123(15)250600(21)S1", "No GTIN (AI 01) in this barcode: read lot ABC123, "
                                   "best before 2025-06-30, serial S1."),
    ("(00)106141411234567897",                      # a pallet's SSCC, not a vial
     "No GTIN (AI 01) in this barcode: read (00)106141411234567897."),
    # impossible dates
    (f"(01){GTIN}(17)250631", "Impossible expiry date '250631' in AI 17 (YYMMDD) "
                              f"(read from '(01){GTIN}(17)250631')."),   # 31 June
    (f"01{GTIN}1725023110A", "Impossible expiry date '250231' in AI 17 (YYMMDD) "
                             f"(read from '01{GTIN}1725023110A')."),     # 31 February
    (f"(01){GTIN}(17)251301", "Impossible expiry date '251301' in AI 17 (YYMMDD) "
                              f"(read from '(01){GTIN}(17)251301')."),   # month 13
    (f"(01){GTIN}(17)250001", "Impossible expiry date '250001' in AI 17 (YYMMDD) "
                              f"(read from '(01){GTIN}(17)250001')."),   # month 00
    (f"(01){GTIN}(15)250229", "Impossible best-before date '250229' in AI 15 (YYMMDD) "
                              f"(read from '(01){GTIN}(15)250229')."),   # 2025 not leap
    (f"(01){GTIN}(17)2506", "An expiry date (AI 17) has 6 digits, YYMMDD; read '2506' "
                            f"(read from '(01){GTIN}(17)2506')."),       # truncated
    # a GTIN of the wrong length
    ("(01)0950600013435", "A GTIN (AI 01) has 14 digits; read '0950600013435' "
                          "(read from '(01)0950600013435')."),
    # an unknown AI in the HRI form
    (f"(01){GTIN}(1)x", f"Unknown Application Identifier (1) in '(01){GTIN}(1)x'."),
    # leftovers that are no AI; after a lot the likely cause is a lost GS
    (f"01{GTIN}1ABC", f"Could not read '1ABC' after (01){GTIN} (read from '01{GTIN}1ABC')."),
    (f"01{GTIN}10{'A' * 25}",   # AI 10 holds at most 20 characters
     f"Could not read 'AAAAA' after (01){GTIN}(10){'A' * 20} "
     f"(read from '01{GTIN}10{'A' * 25}'). Is the separator (GS) missing after AI 10?"),
    # two different values for one AI: which lot is it?
    (f"(01){GTIN}(10)A(10)B", "AI 10 appears twice with different values, 'A' and 'B' "
                              f"(read from '(01){GTIN}(10)A(10)B')."),
    ("https://example.com/product/42",
     "Could not read the GS1 Digital Link 'https://example.com/product/42'."),
])
def test_read_barcode_refuses(text, message):
    with pytest.raises(BarcodeError) as exc:
        read_barcode(text)
    assert exc.value.message == message
    # lands on the barcode field of the form and the API, as a 422
    assert exc.value.fields == {"barcode": [message]}
    assert isinstance(exc.value, ValidationError)


def test_long_garbage_is_cut_short_in_the_message():
    with pytest.raises(BarcodeError) as exc:
        read_barcode("x" * 500)
    assert exc.value.message == f"Could not read '{'x' * 100}...' as a GS1 barcode."


# ---------------------------------------------------------------------------- GTINs

@pytest.mark.parametrize("gtin, ok", [
    ("09506000134352", True),    # GTIN-13 in 14 digits
    ("9506000134352", True),     # the same GTIN-13: leading zeros do not change the sum
    ("96385074", True),          # GTIN-8
    ("614141000036", True),      # GTIN-12
    ("19506000134359", True),    # GTIN-14
    ("09506000134353", False),   # last digit off by one
    ("9506000134325", False),    # two digits swapped: the mod-10 weights catch it
    ("950600013435", False),     # 12 digits that are a GTIN-13 missing its check digit
    ("123", False),              # no GTIN has 3 digits
    ("0950600013435X", False),   # not all digits
    ("\u0669" * 8, False),       # Arabic-Indic digits are not GTIN digits
    (None, False),               # never raises
])
def test_gtin_check_digit_ok(gtin, ok):
    assert gtin_check_digit_ok(gtin) is ok


@pytest.mark.parametrize("text, expected", [
    ("09506000134352", "09506000134352"),   # already 14 digits
    ("9506000134352", "09506000134352"),    # GTIN-13: one zero in front
    ("614141000036", "00614141000036"),     # GTIN-12: two zeros
    ("96385074", "00000096385074"),         # GTIN-8: six zeros
    (" 9 506000 134352 ", "09506000134352"),  # as printed under an EAN-13
])
def test_normalize_gtin(text, expected):
    assert normalize_gtin(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "GTIN is required."),
    ("123", "A GTIN has 8, 12, 13 or 14 digits; '123' has 3."),
    ("095060001343520", "A GTIN has 8, 12, 13 or 14 digits; '095060001343520' has 15."),
    ("9506-000134352", "A GTIN has digits only; '9506-000134352' does not."),
    ("09506000134353", "Bad check digit in GTIN 09506000134353: the last digit should be 2."),
    ("00000000", "A GTIN of zeros names no product."),
    (9506000134352, "Give the GTIN as text: its leading zeros matter."),  # a JSON number
])
def test_normalize_gtin_refuses(text, message):
    with pytest.raises(ValidationError) as exc:
        normalize_gtin(text)
    assert exc.value.fields == {"gtin": [message]}

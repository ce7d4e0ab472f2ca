"""Reading GS1 barcodes from vials (SPEC §4, receiving by scan), over ``biip``.

A vial's DataMatrix holds its GTIN (AI 01), expiry (AI 17; some products carry
best-before, AI 15, instead), lot (AI 10) and often a serial (AI 21). Lot and
serial have a variable length and end at the group separator (GS, ``\\x1d``,
what the scanner sends for FNC1); without it, a lot swallows whatever follows.

This module only reads: it says what the barcode holds or why it cannot be
read. Whether the GTIN is known, or the lot expired or recalled, is the
receiving service's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from biip import ParseConfig, ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString
from biip.symbology import SymbologyIdentifier

from formulary.domain.errors import ValidationError
from formulary.domain.messages import msg

GS = "\x1d"

# Keyboard-wedge scanners typing into a browser field lose the GS control
# character or spell it out; all of these mean "end of a variable-length field".
_GS_STAND_INS = re.compile(r"<GS>|\{GS\}|\u241d", re.IGNORECASE)

# Dates are checked here rather than by biip, so an impossible date can be named
# in the refusal instead of surfacing as a generic parse error. Day 00 (last day
# of the month) and the two-digit year are still biip's: it applies GS1 General
# Specifications §7.12 (a year up to 50 years ahead is this century, further
# ahead is the previous one).
_CONFIG = ParseConfig(gs1_element_strings_verify_date=False)
_DATE_AIS = {"11": msg("production date"), "12": msg("due date"),
             "13": msg("packaging date"), "15": msg("best-before date"),
             "16": msg("sell-by date"), "17": msg("expiry date")}

_GTIN_LENGTHS = (8, 12, 13, 14)
_SHOWN_MAX = 100


class BarcodeError(ValidationError):
    """A barcode that cannot be read; the message says what was read and why."""

    def __init__(self, message: str, *, field: str | None = "barcode", **kw):
        super().__init__(message, field=field, **kw)


@dataclass(frozen=True)
class ScannedVial:
    """What a vial's barcode says.

    ``gtin`` is always 14 digits, as printed in AI 01 (a GTIN-13 gets one leading
    zero, a GTIN-8 six). ``expiry`` is AI 17, or AI 15 (best before) when 17 is
    absent; ``lot`` is AI 10 and ``serial`` AI 21; each is None when the barcode
    does not hold it. ``raw`` is the text as scanned, surrounding whitespace
    removed (keep it for the record).
    """

    gtin: str
    lot: str | None
    expiry: date | None
    serial: str | None
    raw: str


# -------------------------------------------------------------------------- GTINs

def _check_digit(payload: str) -> int:
    # GS1 mod 10: weights 3, 1, 3, ... from the digit next to the check digit
    total = sum(int(digit) * (3 if i % 2 == 0 else 1)
                for i, digit in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


def gtin_check_digit_ok(gtin: str) -> bool:
    """True when ``gtin`` is 8, 12, 13 or 14 ASCII digits whose last digit is the
    GS1 check digit of the others; False for anything else (never raises)."""
    if not isinstance(gtin, str) or len(gtin) not in _GTIN_LENGTHS:
        return False
    if not (gtin.isascii() and gtin.isdigit()):
        return False
    return _check_digit(gtin[:-1]) == int(gtin[-1])


def normalize_gtin(text: object, field: str = "gtin") -> str:
    """A GTIN typed or imported for an ingredient, as the 14 digits AI 01 carries.

    Accepts 8, 12, 13 or 14 digits (spaces inside are ignored, as printed under a
    barcode: "9 506000 134352"); pads with leading zeros to 14. Raises
    :class:`ValidationError` on ``field`` for anything else, a bad check digit,
    or all zeros. Text only: a number would have lost its leading zeros.
    """
    if not isinstance(text, str):
        raise ValidationError("Give the GTIN as text: its leading zeros matter.",
                              field=field)
    digits = "".join(text.split())
    if not digits:
        raise ValidationError("GTIN is required.", field=field)
    if not (digits.isascii() and digits.isdigit()):
        raise ValidationError(msg("A GTIN has digits only; '%(text)s' does not.",
                                  text=text.strip()),
                              field=field)
    if len(digits) not in _GTIN_LENGTHS:
        raise ValidationError(
            msg("A GTIN has 8, 12, 13 or 14 digits; '%(digits)s' has %(count)s.",
                digits=digits, count=len(digits)),
            field=field)
    if not gtin_check_digit_ok(digits):
        raise ValidationError(
            msg("Bad check digit in GTIN %(digits)s: the last digit should be "
                "%(digit)s.",
                digits=digits, digit=_check_digit(digits[:-1])), field=field)
    if not digits.strip("0"):
        raise ValidationError("A GTIN of zeros names no product.", field=field)
    return digits.zfill(14)


# ------------------------------------------------------------------------ reading

def _shown(raw: str) -> str:
    """The scanned text as a person can read it in a message."""
    text = raw.replace(GS, "<GS>")
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "..."


def _field_error(ai: GS1ApplicationIdentifier, data: str, raw: str) -> BarcodeError:
    """Why the data after ``ai`` does not fit it."""
    if ai.ai in _DATE_AIS and not (len(data) >= 6 and data[:6].isdigit()):
        label = _DATE_AIS[ai.ai]
        if label[0] in "aeiou":
            return BarcodeError(
                msg("An %(label)s (AI %(ai)s) has 6 digits, YYMMDD; read '%(data)s' (read from "
                    "'%(raw)s').", label=label, ai=ai.ai, data=data, raw=_shown(raw)))
        return BarcodeError(
            msg("A %(label)s (AI %(ai)s) has 6 digits, YYMMDD; read '%(data)s' (read from "
                "'%(raw)s').", label=label, ai=ai.ai, data=data, raw=_shown(raw)))
    if ai.ai in _DATE_AIS:
        return BarcodeError(
            msg("Impossible %(what)s '%(data)s' in AI %(ai)s (YYMMDD) (read from "
                "'%(raw)s').",
                what=_DATE_AIS[ai.ai], data=data[:6], ai=ai.ai, raw=_shown(raw)))
    if ai.ai == "01":
        return BarcodeError(
            msg("A GTIN (AI 01) has 14 digits; read '%(data)s' (read from '%(raw)s').",
                data=data[:14], raw=_shown(raw)))
    return BarcodeError(
        msg("Could not read AI %(ai)s (%(description)s) from '%(data)s' (read from "
            "'%(raw)s').",
            ai=ai.ai, description=ai.description, data=data, raw=_shown(raw)))


def _elements_from_hri(body: str, raw: str) -> list[GS1ElementString]:
    """Elements of the human-readable form, "(01)0950...(17)250600(10)ABC".

    Each value runs to the next "(": a lot containing "(" cannot be typed this
    way (biip's own HRI parser has the same limit).
    """
    parts = re.split(r"\((\d+)\)", body)
    if parts[0].strip(" " + GS):
        raise BarcodeError(msg("Could not read '%(raw)s' as a GS1 barcode.",
                               raw=_shown(raw)))
    elements = []
    for number, data in zip(parts[1::2], parts[2::2]):
        # printed HRI often has spaces after ")"; GS1 data never contains spaces
        data = data.strip(" " + GS)
        try:
            ai = GS1ApplicationIdentifier.extract(number)
        except ParseError:
            ai = None
        if ai is None or ai.ai != number:
            raise BarcodeError(
                msg("Unknown Application Identifier (%(number)s) in '%(raw)s'.",
                    number=number, raw=_shown(raw)))
        try:
            elements.append(GS1ElementString.parse(number + data, config=_CONFIG))
        except ParseError:
            raise _field_error(ai, data, raw) from None
    return elements


def _elements_from_raw(body: str, raw: str) -> list[GS1ElementString]:
    """Elements of the form the scanner sends: AI and value run together, GS after
    a variable-length value that is not the last."""
    elements: list[GS1ElementString] = []
    rest = body
    while rest:
        try:
            ai = GS1ApplicationIdentifier.extract(rest)
        except ParseError:
            if not elements:
                raise BarcodeError(
                    msg("Could not read '%(raw)s' as a GS1 barcode.",
                        raw=_shown(raw))) from None
            read = "".join(e.as_hri() for e in elements)
            if elements[-1].ai.separator_required:
                # a lot longer than AI 10 allows: most likely the GS was lost
                raise BarcodeError(
                    msg("Could not read '%(rest)s' after %(read)s (read from '%(raw)s'). Is "
                        "the separator (GS) missing after AI %(ai)s?", rest=_shown(rest),
                        read=read, raw=_shown(raw), ai=elements[-1].ai.ai)) from None
            raise BarcodeError(
                msg("Could not read '%(rest)s' after %(read)s (read from '%(raw)s').",
                    rest=_shown(rest), read=read, raw=_shown(raw))) from None
        try:
            element = GS1ElementString.extract(rest, config=_CONFIG)
        except ParseError:
            raise _field_error(ai, rest[len(ai.ai):].split(GS, 1)[0], raw) from None
        elements.append(element)
        # a separator may follow any element, needed or not (GS1 GenSpecs §7.8.6)
        rest = rest[len(element):].lstrip(GS)
    return elements


def _elements_from_digital_link(body: str, raw: str) -> list[GS1ElementString]:
    try:
        return list(GS1DigitalLinkURI.parse(body, config=_CONFIG).element_strings)
    except ParseError:
        raise BarcodeError(
            msg("Could not read the GS1 Digital Link '%(raw)s'.",
                raw=_shown(raw))) from None


def _describe(elements: dict[str, GS1ElementString]) -> str:
    parts = []
    for ai, element in elements.items():
        if ai == "10":
            parts.append(f"lot {element.value}")
        elif ai in ("17", "15") and element.date is not None:
            label = "expiry" if ai == "17" else "best before"
            parts.append(f"{label} {element.date.isoformat()}")
        elif ai == "21":
            parts.append(f"serial {element.value}")
        else:
            parts.append(element.as_hri())
    return ", ".join(parts)


def read_barcode(text: str) -> ScannedVial:
    """Read a vial's GS1 barcode as scanned or typed.

    Accepted forms:

    - human-readable: "(01)09506000134352(17)250600(10)ABC123(21)XYZ";
    - raw, as a scanner sends it: AIs and values run together, GS (``\\x1d``)
      after a variable-length value; "<GS>", "{GS}" and "\u241d" (what
      keyboard-wedge scanners type into a browser) count as GS;
    - either one after a symbology identifier ("]d2", "]C1", "]Q3"...);
    - a bare GTIN of 8, 12, 13 or 14 digits (a linear barcode on a box);
    - a GS1 Digital Link URI ("https://id.gs1.org/01/.../10/...?17=...").

    Without a GS after the lot, everything up to the next GS (or the end) is
    read as the lot, as GS1 requires; the caller shows the lot read so a person
    can catch it.

    Raises :class:`BarcodeError` (field ``barcode``), saying what was read, for
    empty input, text that is not a GS1 barcode, no GTIN, a bad check digit, an
    impossible date, or one AI given twice with different values. A missing lot
    or expiry is not an error here: they come back as None.
    """
    if not isinstance(text, str) or not text.strip():
        raise BarcodeError("Scan or type a barcode.")
    raw = text.strip(" \t\r\n")
    body = _GS_STAND_INS.sub(GS, raw).strip()

    if body.startswith("]"):
        try:
            symbology = SymbologyIdentifier.extract(body)
        except ParseError:
            raise BarcodeError(msg("Could not read '%(raw)s' as a GS1 barcode.",
                                   raw=_shown(raw))) from None
        body = body[len(symbology):]
    # a leading FNC1 (sent as GS) marks GS1 data; it carries nothing
    body = body.strip(GS + " ")
    if not body:
        raise BarcodeError(msg("This barcode holds nothing to read: '%(raw)s'.",
                               raw=_shown(raw)))

    if body.isascii() and body.isdigit() and len(body) in _GTIN_LENGTHS:
        # No GS1 message of this length can hold a GTIN (AI 01 alone is 16
        # digits), so a bare run of 8-14 digits is a GTIN from a linear barcode.
        if not gtin_check_digit_ok(body):
            raise BarcodeError(msg("Bad check digit in GTIN %(body)s (read from "
                                   "'%(raw)s').",
                                   body=body, raw=_shown(raw)))
        if not body.strip("0"):
            raise BarcodeError(msg("A GTIN of zeros names no product (read from "
                                   "'%(raw)s').",
                                   raw=_shown(raw)))
        return ScannedVial(gtin=body.zfill(14), lot=None, expiry=None, serial=None, raw=raw)

    if body.startswith("("):
        elements = _elements_from_hri(body, raw)
    elif body.lower().startswith(("http://", "https://")):
        elements = _elements_from_digital_link(body, raw)
    else:
        elements = _elements_from_raw(body, raw)

    by_ai: dict[str, GS1ElementString] = {}
    for element in elements:
        ai = element.ai.ai
        if ai in _DATE_AIS and element.date is None:
            raise _field_error(element.ai, element.value, raw)
        if ai in by_ai and by_ai[ai].value != element.value:
            raise BarcodeError(
                msg("AI %(ai)s appears twice with different values, '%(value)s' and "
                    "'%(other)s' (read from '%(raw)s').",
                    ai=ai, value=by_ai[ai].value, other=element.value,
                    raw=_shown(raw)))
        by_ai.setdefault(ai, element)

    gtin_element = by_ai.get("01")
    if gtin_element is None:
        read = _describe(by_ai)
        raise BarcodeError("No GTIN (AI 01) in this barcode: "
                           + (f"read {read}." if read else f"read '{_shown(raw)}'."))
    # biip does not raise on a bad check digit: it leaves .gtin empty and sets
    # .gtin_error, so the check is here
    if gtin_element.gtin is None:
        raise BarcodeError(
            msg("Bad check digit in GTIN %(gtin)s (read from '%(raw)s').",
                gtin=gtin_element.value, raw=_shown(raw)))
    if not gtin_element.value.strip("0"):
        raise BarcodeError(msg("A GTIN of zeros names no product (read from '%(raw)s').",
                               raw=_shown(raw)))

    expiry_element = by_ai.get("17") or by_ai.get("15")
    lot = by_ai.get("10")
    serial = by_ai.get("21")
    return ScannedVial(
        gtin=gtin_element.value,
        lot=lot.value if lot is not None else None,
        expiry=expiry_element.date if expiry_element is not None else None,
        serial=serial.value if serial is not None else None,
        raw=raw,
    )


__all__ = ["BarcodeError", "ScannedVial", "gtin_check_digit_ok", "normalize_gtin",
           "read_barcode"]

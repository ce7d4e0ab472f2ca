"""Text as people type it and programs send it, made safe to store and to compare (SPEC §3,
"Text, everywhere").

- :func:`clean_text` is applied once, at the edge (every string of an API body and every
  query or form value of a request): it refuses what no database can hold (NUL, an unpaired
  surrogate) and removes what nobody can see (zero-width, bidirectional and other control
  characters), then normalises to Unicode NFC. Tab, newline and carriage return are kept:
  a multi-line note keeps its lines; single-line fields collapse their spaces when checked.
- :func:`check_text` is the one check of a free-text field (names, reasons, notes, lot
  numbers): required or not, its length, and that a non-empty value holds a visible letter
  or digit (a reason of one zero-width space is no reason).
- :func:`text_key` is the one comparison key for names: two names equal after it are
  duplicates, and free-text allergies match ingredients and groups through it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from formulary.domain.errors import ValidationError
from formulary.domain.messages import msg

#: Refused, never stored: PostgreSQL text cannot hold NUL, and an unpaired surrogate
#: cannot be encoded (driver, template, workbook).
_REFUSED = re.compile("[\x00\ud800-\udfff]")

#: Removed: C0 and C1 controls but tab, newline and carriage return; the zero-width
#: characters (U+200B-U+200D, U+2060, U+FEFF); the soft hyphen; the bidirectional marks,
#: embeddings, overrides and isolates (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069),
#: invisible characters that make look-alike names or reorder what a reader sees.
_INVISIBLE = re.compile(
    "[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")

REFUSED_MESSAGE = ("Contains a character that cannot be stored (a NUL or an unpaired "
                   "surrogate); remove it and send the text again.")
VISIBLE_MESSAGE = "must contain a letter or a digit"


class UnstorableText(ValidationError):
    """Text holding NUL or an unpaired surrogate (HTTP 422 on ``field``)."""


def refused_character(value: str) -> bool:
    """True when ``value`` holds a NUL or an unpaired surrogate."""
    return _REFUSED.search(value) is not None


def clean_text(value: str, field: str | None = None) -> str:
    """``value`` with invisible characters removed, in NFC; NUL or an unpaired surrogate
    raises :class:`UnstorableText` on ``field``. Idempotent; spaces are left as they are."""
    if _REFUSED.search(value):
        raise UnstorableText(REFUSED_MESSAGE, field=field)
    value = _INVISIBLE.sub("", value)
    if value.isascii() or unicodedata.is_normalized("NFC", value):
        return value
    return unicodedata.normalize("NFC", value)


def has_visible(value: str) -> bool:
    """True when ``value`` holds a letter or a digit (any script)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in value)


def check_text(value: object, field: str, label: str, *, required: bool = False,
               max_length: int, multiline: bool = False, visible: bool = True) -> str:
    """A free-text field, checked: ``""`` when absent and not ``required``.

    Single-line text has its runs of spaces collapsed; ``multiline`` text (notes) keeps its
    lines and loses only the spaces around it. A non-empty value must hold a visible letter
    or digit unless ``visible`` is false (an idempotency key). Cleaning again here is a
    no-op for a request's text and covers the CLI and files (delivery imports).
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(msg("%(label)s must be text.",
                                  label=label), field=field)
    value = clean_text(value, field)
    value = value.strip() if multiline else " ".join(value.split())
    if not value:
        if required:
            raise ValidationError(msg("%(label)s is required.",
                                      label=label), field=field)
        return ""
    if visible and not has_visible(value):
        # VISIBLE_MESSAGE in one sentence: the catalog holds it whole
        raise ValidationError(msg("%(label)s must contain a letter or a digit.", label=label),
                              field=field)
    if len(value) > max_length:
        raise ValidationError(msg("%(label)s is too long (at most %(max_length)s characters).",
                                  label=label, max_length=max_length),
                              field=field)
    return value


def strip_invisible(value: str) -> str:
    """``value`` without the characters :func:`clean_text` removes, nor NUL or an unpaired
    surrogate: for comparing text that did not come through a request (never raises)."""
    return _INVISIBLE.sub("", _REFUSED.sub("", value))


def text_key(value: str) -> str:
    """The key two names are compared by: invisible characters dropped (and NUL, so a
    search never fails), NFKC (which also folds compatibility look-alikes: fullwidth
    letters, the micro sign), spaces collapsed, case folded.

    "Caféine" typed decomposed (e + U+0301), "CAFÉINE" and "Caf\u200béine" share one key.
    """
    value = unicodedata.normalize("NFKC", strip_invisible(value))
    return unicodedata.normalize("NFKC", " ".join(value.split()).casefold())


def search_key(value: str) -> str:
    """:func:`text_key` with the accents dropped: the key a search compares by, so that
    "Hélène", "HELENE" and "he\u0301le\u0300ne" all read "helene" (combining marks
    removed after the canonical decomposition; letters that are not a base letter plus a
    mark, such as "ø" or "ß", keep their case-folded form: "ø", "ss")."""
    value = unicodedata.normalize("NFKD", text_key(value))
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in value if not unicodedata.combining(ch)))


_DAY_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


def search_words(q: str | None, limit: int = 4) -> list[str]:
    """The words of a search, each by :func:`search_key`, at most ``limit`` of them: a
    date typed day first ("14/03/1985", "14.3.1985", "14-03-1985") becomes the ISO date a
    record is searched by ("1985-03-14"); an impossible date stays as typed."""
    words = []
    for word in search_key(q or "").split()[:limit]:
        match = _DAY_FIRST.match(word)
        if match:
            day, month, year = (int(g) for g in match.groups())
            try:
                word = date(year, month, day).isoformat()
            except ValueError:
                pass
        words.append(word)
    return words


__all__ = ["REFUSED_MESSAGE", "UnstorableText", "check_text", "clean_text", "has_visible",
           "refused_character", "search_key", "search_words", "strip_invisible", "text_key"]

"""What a search box was given: a scanned code or words.

The one search box of the navigation bar takes what a person types or scans:

- a GS1 string of a vial (human-readable, raw with GS, a Digital Link) holding a GTIN and
  a lot number: that lot, opened directly when it is on file;
- a batch number ``B-YYYYMMDD-NNNN``, which is also exactly what a batch label's QR code
  holds: that batch, opened directly;
- anything else: words, matched against patients, lots, batches, cocktails, ingredients
  (a bare GTIN, which a GS1 reader also accepts, is searched as words too: 8 to 14 digits
  may as well be an MRN).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from formulary.domain.batch_numbers import format_batch_number, parse_batch_number
from formulary.domain.errors import ValidationError
from formulary.domain.gs1 import ScannedVial, read_barcode

#: What a search reads at most; longer text is cut (a GS1 string is well under it).
MAX_QUERY = 200

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_FRENCH = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)


def search_date(word: str) -> date | None:
    """The date a word of a search names: ``YYYY-MM-DD`` or ``DD/MM/YYYY`` (the clinic
    writes day first), or None (not a date, or no such day)."""
    word = word.strip()
    match = _ISO.fullmatch(word)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _FRENCH.fullmatch(word)
        if not match:
            return None
        day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


@dataclass(frozen=True)
class SearchQuery:
    """``kind``: ``"vial"`` (``vial`` holds the GTIN and lot read), ``"batch"``
    (``batch_number``, as printed) or ``"words"``; ``text`` is the query as searched."""

    text: str
    kind: str
    vial: ScannedVial | None = None
    batch_number: str | None = None


def read_query(raw: str) -> SearchQuery:
    """Classify what was typed or scanned (see the module's docstring)."""
    text = (raw or "").strip()[:MAX_QUERY]
    try:
        prepared_on, sequence = parse_batch_number(text)
    except ValueError:
        pass
    else:
        return SearchQuery(text, "batch", batch_number=format_batch_number(prepared_on, sequence))
    if text and not (text.isascii() and text.isdigit()):
        try:
            vial = read_barcode(text)
        except ValidationError:
            vial = None
        if vial is not None and vial.lot:
            return SearchQuery(text, "vial", vial=vial)
    return SearchQuery(text, "words")

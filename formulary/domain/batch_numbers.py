"""Readable batch numbers: ``B-YYYYMMDD-NNNN`` (SPEC §7).

The date is the day the batch was prepared, in the clinic's zone; the sequence counts the
batches of that day from 1. The service finds the next sequence for the day (the highest
one stored under ``batch_number_prefix(day)``, plus one) and the database's unique
constraint on the number settles a race.

The sequence is written with at least four digits and grows past 9999 rather than wrap
(``B-20261122-10000``). Formatting and parsing are exact inverses: a text that
``format_batch_number`` would not produce (``B-20261122-00007``, ``B-20261122-0000``) is
refused.
"""

from __future__ import annotations

import re
from datetime import date, datetime

PREFIX = "B"
_PATTERN = re.compile(r"B-(\d{8})-(\d{4,})", re.ASCII)


def _check_day(prepared_on: date) -> None:
    # A datetime is a date too; its date in UTC is not the clinic's day, so the caller
    # converts first (prepared_at.astimezone(tz).date()).
    if not isinstance(prepared_on, date) or isinstance(prepared_on, datetime):
        raise TypeError("prepared_on must be a date (the clinic's local day), not a datetime")


def batch_number_prefix(prepared_on: date) -> str:
    """The part every batch number of that day starts with, e.g. ``"B-20261122-"``."""
    _check_day(prepared_on)
    # Not strftime: "%Y" drops the leading zeros of early years on some platforms.
    return f"{PREFIX}-{prepared_on.year:04d}{prepared_on.month:02d}{prepared_on.day:02d}-"


def format_batch_number(prepared_on: date, sequence: int) -> str:
    """``format_batch_number(date(2026, 11, 22), 7) == "B-20261122-0007"``.

    ``sequence`` starts at 1; zero or less is a ValueError.
    """
    _check_day(prepared_on)
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise TypeError("sequence must be an int")
    if sequence < 1:
        raise ValueError(f"sequence starts at 1, not {sequence}")
    return f"{batch_number_prefix(prepared_on)}{sequence:04d}"


def parse_batch_number(text: str) -> tuple[date, int]:
    """The (prepared_on, sequence) a batch number stands for.

    Surrounding whitespace is ignored and a lower-case ``b`` is accepted (a number typed
    into a search box); anything else that ``format_batch_number`` would not have written
    is a ValueError.
    """
    if not isinstance(text, str):
        raise ValueError(f"not a batch number: {text!r}")
    cleaned = text.strip()
    if cleaned[:1] == "b":
        cleaned = PREFIX + cleaned[1:]
    match = _PATTERN.fullmatch(cleaned)
    if match is None:
        raise ValueError(f"not a batch number: {text!r} (expected B-YYYYMMDD-NNNN)")
    digits, sequence_text = match.groups()
    try:
        prepared_on = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise ValueError(f"not a batch number: {text!r} ({digits} is not a date)") from None
    sequence = int(sequence_text)
    if sequence < 1 or format_batch_number(prepared_on, sequence) != cleaned:
        raise ValueError(f"not a batch number: {text!r} (sequence {sequence_text!r} "
                         "is not written as it would be issued)")
    return prepared_on, sequence

"""Dates as people and programs write them: ``YYYY-MM-DD``, and only dates that exist."""

from __future__ import annotations

import re
from datetime import date, datetime

from formulary.domain.errors import ValidationError

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_iso_date(value, field: str, *, what: str = "a date") -> date:
    """A ``date`` from a ``date`` or ``'YYYY-MM-DD'`` text; anything else is refused on
    ``field`` ("2026-02-30 is not a date that exists.")."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO.fullmatch(value.strip()):
        raise ValidationError(f"Give {what} as YYYY-MM-DD.", field=field)
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(f"{value.strip()} is not a date that exists.", field=field) from None

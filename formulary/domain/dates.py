"""Dates as people and programs write them: ``YYYY-MM-DD``, only dates that exist, and only
dates of this world (1900-01-01 to 2999-12-31); and date ranges (``from`` to ``to``) as
every list, page and export reads them."""

from __future__ import annotations

import re
from datetime import date, datetime

from formulary.domain.errors import ValidationError
from formulary.domain.messages import msg

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")

#: Every date a person types lies between these (a birth, an expiry, a report's range).
#: The bound keeps the day after a date computable: 9999-12-31 + 1 day overflows, and a
#: typing slip (2226 for 2026) on an expiry is still caught by nothing else.
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2999, 12, 31)

#: What a refusal calls the value when its caller does not say (``what``: a Message).
A_DATE = msg("a date")


def check_date_bounds(value: date, field: str, *, what: str = A_DATE) -> date:
    """``value`` when it lies from :data:`FIRST_DATE` to :data:`LAST_DATE`; else refused on
    ``field`` (never an overflow further on)."""
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValidationError(msg("%(date)s is out of range: give %(what)s from %(first)s to "
                                  "%(last)s.", date=value, what=what, first=FIRST_DATE,
                                  last=LAST_DATE), field=field)
    return value


def parse_iso_date(value, field: str, *, what: str = A_DATE) -> date:
    """A ``date`` from a ``date`` or ``'YYYY-MM-DD'`` text, within the bounds; anything else
    is refused on ``field`` ("2026-02-30 is not a date that exists.")."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return check_date_bounds(value, field, what=what)
    if not isinstance(value, str) or not _ISO.fullmatch(value.strip()):
        raise ValidationError(msg("Give %(what)s as YYYY-MM-DD.", what=what), field=field)
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(msg("%(text)s is not a date that exists.", text=value.strip()),
                              field=field) from None
    return check_date_bounds(parsed, field, what=what)


def check_date_range(start: date | None, end: date | None, *, start_field: str = "from",
                     end_field: str = "to", required: bool = False,
                     max_days: int | None = None) -> tuple[date | None, date | None]:
    """A range of days, both included, as every list and export reads it: each end within
    the bounds, ``start`` not after ``end`` (refused on ``end_field``, never an empty
    answer), both ends given when ``required``, at most ``max_days`` days long."""
    problems: dict[str, list[str]] = {}
    if required and start is None:
        problems[start_field] = [msg("Give the first day (YYYY-MM-DD).")]
    if required and end is None:
        problems[end_field] = [msg("Give the last day (YYYY-MM-DD).")]
    if problems:
        raise ValidationError("Give both dates of the range.", fields=problems)
    if start is not None:
        check_date_bounds(start, start_field)
    if end is not None:
        check_date_bounds(end, end_field)
    if start is not None and end is not None:
        if start > end:
            raise ValidationError(msg("The range starts (%(start)s) after it ends (%(end)s).",
                                      start=start, end=end), field=end_field)
        if max_days is not None and (end - start).days >= max_days:
            raise ValidationError(msg("A range covers at most %(days)s days.", days=max_days),
                                  field=end_field)
    return start, end


__all__ = ["FIRST_DATE", "LAST_DATE", "check_date_bounds", "check_date_range", "parse_iso_date"]

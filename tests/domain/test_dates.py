from datetime import date

import pytest

from formulary.domain.dates import check_date_range, parse_iso_date
from formulary.domain.errors import ValidationError


@pytest.mark.parametrize("value, expected", [
    ("2026-11-22", date(2026, 11, 22)),      # the written form
    (" 2024-02-29 ", date(2024, 2, 29)),     # spaces around are forgiven; a leap day exists
    (date(2026, 1, 1), date(2026, 1, 1)),    # already a date
])
def test_dates_read(value, expected):
    assert parse_iso_date(value, "d") == expected


@pytest.mark.parametrize("value, message", [
    ("2026-02-30", "is not a date that exists"),   # no 30 February
    ("2025-02-29", "is not a date that exists"),   # not a leap year
    ("22/11/2026", "YYYY-MM-DD"),                  # another notation is refused, not guessed
    ("2026-1-5", "YYYY-MM-DD"),
    (20261122, "YYYY-MM-DD"),                      # a number is not a date
    ("", "YYYY-MM-DD"),
])
def test_refused_with_the_reason_on_the_field(value, message):
    with pytest.raises(ValidationError) as exc:
        parse_iso_date(value, "expiry_date")
    assert message in exc.value.message and "expiry_date" in exc.value.fields


# --- bounds: a typed date lies in 1900-01-01..2999-12-31 (the day after stays computable)

@pytest.mark.parametrize("value, ok", [
    ("1900-01-01", True),                  # the first day allowed
    ("2999-12-31", True),                  # the last: its next day still exists
    ("1899-12-31", False),
    ("3000-01-01", False),
    ("9999-12-31", False),                 # was an OverflowError computing the day after
    ("0001-01-01", False),
    (date(9999, 12, 31), False),           # a date object (a form's DateField) too
    (date.max, False),
])
def test_dates_within_bounds(value, ok):
    if ok:
        assert parse_iso_date(value, "expiry_date").isoformat() == str(value)
    else:
        with pytest.raises(ValidationError) as exc:
            parse_iso_date(value, "expiry_date", what="the expiry date")
        assert "out of range: give the expiry date from 1900-01-01 to 2999-12-31" in exc.value.message
        assert list(exc.value.fields) == ["expiry_date"]


# --- ranges: one rule for every list, page and export

D1, D2 = date(2026, 3, 1), date(2026, 3, 31)


@pytest.mark.parametrize("start, end, kw, expected", [
    (D1, D2, {}, (D1, D2)),
    (D1, D1, {}, (D1, D1)),                # one day
    (None, None, {}, (None, None)),        # a list without a range: everything
    (D1, None, {}, (D1, None)),            # open-ended
    (None, D2, {}, (None, D2)),
    (D1, D2, {"max_days": 31}, (D1, D2)),  # 31 days, both ends included
])
def test_ranges_read(start, end, kw, expected):
    assert check_date_range(start, end, **kw) == expected


@pytest.mark.parametrize("start, end, kw, field, message", [
    (D2, D1, {}, "to", "The range starts (2026-03-31) after it ends (2026-03-01)."),
    (D2, D1, {"start_field": "date_from", "end_field": "date_to"}, "date_to", "after it ends"),
    (None, D2, {"required": True}, "from", "Give both dates of the range."),
    (D1, None, {"required": True}, "to", "Give both dates of the range."),
    (D1, date(2026, 4, 1), {"max_days": 31}, "to", "A range covers at most 31 days."),
    (D1, date(9999, 12, 31), {}, "to", "out of range"),        # a form's date, bounded
    (date(1, 1, 1), D1, {}, "from", "out of range"),
])
def test_ranges_refused(start, end, kw, field, message):
    with pytest.raises(ValidationError) as exc:
        check_date_range(start, end, **kw)
    assert message in exc.value.message and field in exc.value.fields

from datetime import date

import pytest

from formulary.domain.dates import parse_iso_date
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

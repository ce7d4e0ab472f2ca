"""When a daily task is due: truth table (clinic zone Europe/Paris, DST days included)."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from formulary.domain.errors import ValidationError
from formulary.domain.schedule import due_day, parse_time_of_day

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize("local, at, expected", [
    (datetime(2026, 12, 7, 1, 59, tzinfo=PARIS), time(2), None),               # a minute early
    (datetime(2026, 12, 7, 2, 0, tzinfo=PARIS), time(2), date(2026, 12, 7)),   # on time
    (datetime(2026, 12, 7, 7, 59, tzinfo=PARIS), time(2), date(2026, 12, 7)),  # worker back late
    (datetime(2026, 12, 7, 8, 0, tzinfo=PARIS), time(2), None),                # too late: next night
    (datetime(2026, 3, 29, 3, 0, tzinfo=PARIS), time(2, 30), date(2026, 3, 29)),  # 02:30 never came
    (datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=PARIS), time(2), date(2026, 10, 25)),  # 2nd 02:30
    (datetime(2027, 1, 1, 0, 0, tzinfo=PARIS), time(0), date(2027, 1, 1)),     # midnight, new year
])
def test_due_day(local, at, expected):
    assert due_day(local, at) == expected


@pytest.mark.parametrize("text, expected", [("02:00", time(2)), ("23:59", time(23, 59)),
                                            (" 07:30 ", time(7, 30))])
def test_times_of_day(text, expected):
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["2:00", "24:00", "12:60", "noon", "", "12:00:00",
                                  "²²:00", "0①:00", "٠٢:٠٠"])
def test_bad_times_of_day(text):
    with pytest.raises(ValidationError):
        parse_time_of_day(text)

"""Truth tables for readable batch numbers (SPEC §7)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from formulary.domain.batch_numbers import (
    batch_number_prefix,
    format_batch_number,
    parse_batch_number,
)


@pytest.mark.parametrize("prepared_on, sequence, text", [
    # the seventh batch of the day
    (date(2026, 11, 22), 7, "B-20261122-0007"),
    # the first
    (date(2026, 1, 5), 1, "B-20260105-0001"),
    # the largest four-digit sequence
    (date(2026, 11, 22), 9999, "B-20261122-9999"),
    # past 9999 the sequence grows rather than wraps
    (date(2026, 11, 22), 10000, "B-20261122-10000"),
    # an early year keeps its eight-digit date
    (date(987, 6, 5), 3, "B-09870605-0003"),
])
def test_format_and_parse_are_inverses(prepared_on, sequence, text):
    assert format_batch_number(prepared_on, sequence) == text
    assert parse_batch_number(text) == (prepared_on, sequence)


@pytest.mark.parametrize("text, parsed", [
    # surrounding whitespace, as pasted
    ("  B-20261122-0007\n", (date(2026, 11, 22), 7)),
    # a lower-case b, as typed
    ("b-20261122-0007", (date(2026, 11, 22), 7)),
])
def test_parse_forgives_what_a_person_types(text, parsed):
    assert parse_batch_number(text) == parsed


@pytest.mark.parametrize("text", [
    "",                       # nothing
    "B-20261122",             # no sequence
    "B-20261122-007",         # sequence too short
    "B-20261122-00007",       # zero-padded beyond four digits: never issued
    "B-20261122-0000",        # sequence zero
    "B-2026112-0007",         # seven-digit date
    "B-20261322-0007",        # month 13
    "B-20260230-0007",        # 30 February
    "B-20261122-0007x",       # trailing text
    "X-20261122-0007",        # wrong prefix
    "B20261122-0007",         # missing dash
    "B-2026-11-22-0007",      # dashed date
    "B-20261122--007",        # sign-like dash
    "B-20261122-00٠7",        # a non-ASCII digit
    "B-20261122-0007 B-20261122-0008",  # two numbers
])
def test_parse_refuses_bad_text(text):
    with pytest.raises(ValueError):
        parse_batch_number(text)


def test_parse_refuses_what_is_not_text():
    with pytest.raises(ValueError):
        parse_batch_number(20261122)


@pytest.mark.parametrize("prepared_on, sequence, error", [
    # sequences start at 1
    (date(2026, 11, 22), 0, ValueError),
    (date(2026, 11, 22), -1, ValueError),
    # a sequence must be a whole number
    (date(2026, 11, 22), 1.0, TypeError),
    (date(2026, 11, 22), True, TypeError),
    # a datetime's date may not be the clinic's day: the caller converts first
    (datetime(2026, 11, 22, 23, 30, tzinfo=timezone.utc), 1, TypeError),
])
def test_format_refuses_bad_values(prepared_on, sequence, error):
    with pytest.raises(error):
        format_batch_number(prepared_on, sequence)


def test_prefix_is_what_every_number_of_the_day_starts_with():
    day = date(2026, 11, 22)
    assert batch_number_prefix(day) == "B-20261122-"
    assert format_batch_number(day, 12).startswith(batch_number_prefix(day))


def test_numbers_of_one_day_sort_in_sequence_order_up_to_9999():
    day = date(2026, 11, 22)
    numbers = [format_batch_number(day, n) for n in (1, 2, 10, 99, 100, 9999)]
    assert sorted(numbers) == numbers

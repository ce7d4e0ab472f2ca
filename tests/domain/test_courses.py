"""Truth tables of the course rules (SPEC §11): planning, statuses, the per-session maximum."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from formulary.domain import courses as rules
from formulary.domain.doses import IngredientFacts
from formulary.domain.errors import ValidationError
from formulary.domain.units import Strength

D = Decimal
START = date(2026, 12, 1)


@pytest.mark.parametrize("count, interval, expected", [
    (1, 7, [date(2026, 12, 1)]),                                     # a single session
    (3, 14, [date(2026, 12, 1), date(2026, 12, 15), date(2026, 12, 29)]),
    (2, 31, [date(2026, 12, 1), date(2027, 1, 1)]),                   # over the year's end
    (2, 365, [date(2026, 12, 1), date(2027, 12, 1)]),                 # the longest interval
    ("4", "1", [date(2026, 12, k) for k in (1, 2, 3, 4)]),           # digits from a form
])
def test_sessions_are_planned_at_start_plus_k_intervals(count, interval, expected):
    assert rules.plan_sessions(START, count, interval) == expected


def test_twenty_four_sessions_is_the_most():
    assert len(rules.plan_sessions(START, 24, 7)) == 24


@pytest.mark.parametrize("count, interval, field", [
    (0, 7, "planned_sessions"),       # none
    (25, 7, "planned_sessions"),      # more than 24
    (True, 7, "planned_sessions"),    # a boolean is not a number
    (2.0, 7, "planned_sessions"),     # nor a float
    ("three", 7, "planned_sessions"),
    (3, 0, "interval_days"),          # the same day
    (3, 366, "interval_days"),        # more than a year
    (3, -7, "interval_days"),
    (3, None, "interval_days"),
])
def test_a_plan_out_of_bounds_is_refused_on_its_field(count, interval, field):
    with pytest.raises(ValidationError) as exc:
        rules.plan_sessions(START, count, interval)
    assert field in exc.value.fields


TODAY = date(2026, 12, 10)


@pytest.mark.parametrize("mark, planned_on, expected", [
    ("planned", date(2026, 12, 11), "planned"),     # still to come
    ("planned", TODAY, "planned"),                  # due today: not yet overdue
    ("planned", date(2026, 12, 9), "overdue"),      # past its date, nothing given
    ("given", date(2026, 12, 9), "given"),          # given: never overdue
    ("missed", date(2026, 12, 1), "missed"),
    ("cancelled", date(2026, 12, 20), "cancelled"),
    ("cancelled", date(2026, 12, 1), "cancelled"),  # what was recorded wins over the date
])
def test_session_status_from_its_facts(mark, planned_on, expected):
    assert rules.session_status(mark, planned_on, TODAY) == expected


@pytest.mark.parametrize("marks, stopped, expected", [
    (["planned", "planned"], False, "planned"),             # nothing given yet
    (["missed", "planned"], False, "planned"),              # a miss is not a start
    (["given", "planned", "planned"], False, "active"),     # the first given
    (["given", "missed", "planned"], False, "active"),
    (["given", "given"], False, "completed"),               # every session given
    (["given", "cancelled", "missed"], False, "completed"), # none left to give
    (["missed", "cancelled"], False, "planned"),            # nothing ever given
    (["given", "planned"], True, "stopped"),                # stopped wins
    (["planned"], True, "stopped"),
    (["given"], True, "stopped"),
])
def test_course_status_from_its_sessions(marks, stopped, expected):
    assert rules.course_status(marks, stopped) == expected


def test_progress_counts_given_of_planned():
    assert rules.progress(["given", "given", "missed", "planned", "planned", "planned"]) == \
        {"given": 2, "planned": 6}


@pytest.mark.parametrize("text, visible", [
    ("patient ill", True), ("7", True), ("é", True),
    ("", False), ("   ", False), ("...", False), ("\u200b\u200b", False), ("\x00", False),
    (None, False), (12, False),
])
def test_a_reason_needs_a_visible_letter_or_digit(text, visible):
    assert rules.has_visible_text(text) is visible


LIDO = IngredientFacts(id=1, name="Lidocaine 2%", unit="mL", strength=Strength(D(20), "mg"),
                       max_dose_per_session=(D(100), "mg"))       # 5 mL of 20 mg/mL
BIOTIN = IngredientFacts(id=2, name="Biotin", unit="mL", max_dose_per_session=None)
ODD = IngredientFacts(id=3, name="Odd", unit="mL", max_dose_per_session=(D(10), "IU"))
FACTS = {f.id: f for f in (LIDO, BIOTIN, ODD)}
G = rules.GivenAmount


@pytest.mark.parametrize("given, refused", [
    ([G(1, D(1), "mL", 5)], False),                        # 5 mL = 100 mg: at the maximum
    ([G(1, D(1), "mL", 6)], True),                         # 6 mL = 120 mg: over
    ([G(1, D(1), "mL", 3), G(1, D(1), "mL", 2)], False),   # two batches, 100 mg in all
    ([G(1, D(1), "mL", 3), G(1, D(1), "mL", 3)], True),    # two batches, 120 mg in all
    ([G(1, D(20), "mg", 3), G(1, D("2.5"), "mL", 1)], True),  # 60 mg + 50 mg, mixed units
    ([G(1, D("33.333333"), "mg", 3)], False),              # 99.999999 mg: exact, not rounded up
    ([G(2, D(50), "mL", 10)], False),                      # no maximum: no limit
])
def test_the_session_maximum_is_checked_on_the_total(given, refused):
    if refused:
        with pytest.raises(rules.SessionMaximumExceeded) as exc:
            rules.check_session_maximum(given, FACTS)
        assert exc.value.ingredient_id == 1
        assert "Lidocaine 2%" in exc.value.message and exc.value.code == "session_maximum"
    else:
        rules.check_session_maximum(given, FACTS)


def test_a_maximum_that_cannot_be_converted_refuses():
    with pytest.raises(rules.SessionMaximumExceeded) as exc:
        rules.check_session_maximum([G(3, D(1), "mL", 1)], FACTS)
    assert "cannot be checked" in exc.value.message


@pytest.mark.parametrize("quantity, given, doses, expected", [
    (D(3), 1, 3, D(1)),                    # a third of 3 mL
    (D("1.5"), 2, 3, D(1)),
    (D(1), 3, 3, D(1)),                    # all of it
    (D(1), 1, 3, D("0.333334")),           # does not terminate: rounded up at 6 places
    (D("0.25"), 1, 2, D("0.125")),
])
def test_a_line_is_scaled_to_the_doses_given(quantity, given, doses, expected):
    assert rules.scaled_quantity(quantity, given, doses) == expected

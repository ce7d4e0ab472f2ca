"""Treatment courses (SPEC §11): session planning, the status of a session and of a
course from their facts, and the per-session maximum dose of each ingredient.

Plain values in, plain values out (standard library only). The services load the rows,
call these rules and write the rows.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from formulary.domain.doses import IngredientFacts
from formulary.domain.errors import Conflict, ValidationError
from formulary.domain.messages import msg
from formulary.domain.units import (UnitConversionError, convert_exact, format_quantity,
                                    round_computed)

MIN_SESSIONS, MAX_SESSIONS = 1, 24
MIN_INTERVAL, MAX_INTERVAL = 1, 365
#: How far from the clinic's today a course may start: planned up to a year ahead, or
#: recorded up to a year after it began (a course kept on paper, entered late).
START_AHEAD_DAYS = START_BEHIND_DAYS = 365
#: How far a planned session may be moved from the date it was planned on, either way.
MOVE_DAYS = 365

#: What is recorded on a session row; ``overdue`` is never stored, it is read from the date.
SESSION_MARKS = ("planned", "given", "missed", "cancelled")
SESSION_STATUSES = ("planned", "overdue", "given", "missed", "cancelled")
COURSE_STATUSES = ("planned", "active", "completed", "stopped")
TECHNIQUES = ("nappage", "papules", "point_by_point", "other")
EVENT_KINDS = ("bruising", "swelling", "erythema", "pain", "nodule", "infection",
               "allergic_reaction", "necrosis", "other")
EVENT_SEVERITIES = ("mild", "moderate", "severe")


class SessionMaximumExceeded(Conflict):
    """The total given to a patient in one session would pass an ingredient's maximum."""

    code = "session_maximum"

    def __init__(self, message: str, *, ingredient_id: int, **kw):
        super().__init__(message, **kw)
        self.ingredient_id = ingredient_id


def _whole(value, field: str, low: int, high: int, label: str) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(msg("%(label)s must be a whole number.",
                                  label=label), field=field)
    if not low <= value <= high:
        raise ValidationError(msg("%(label)s must be from %(low)s to %(high)s.",
                                  label=label, low=low, high=high), field=field)
    return value


def check_plan(planned_sessions, interval_days) -> tuple[int, int]:
    """Planned sessions 1-24 and an interval of 1-365 days, as whole numbers."""
    return (_whole(planned_sessions, "planned_sessions", MIN_SESSIONS, MAX_SESSIONS,
                   "Planned sessions"),
            _whole(interval_days, "interval_days", MIN_INTERVAL, MAX_INTERVAL,
                   "The interval in days"))


def plan_sessions(start: date, planned_sessions, interval_days) -> list[date]:
    """The planned dates of a course's sessions: ``start + k * interval`` for k = 0..n-1."""
    count, interval = check_plan(planned_sessions, interval_days)
    return [start + timedelta(days=k * interval) for k in range(count)]


def check_start_date(start: date, today: date, born: date | None) -> date:
    """A course's start date, as a practitioner would plan it: not before the patient's
    date of birth (when known), at most ``START_BEHIND_DAYS`` before ``today`` (the
    clinic's) and at most ``START_AHEAD_DAYS`` after it."""
    if born is not None and start < born:
        raise ValidationError(msg("A course cannot start before the patient's date of "
                                  "birth (%(born)s).", born=born), field="start_date")
    earliest = today - timedelta(days=START_BEHIND_DAYS)
    if start < earliest:
        raise ValidationError(msg("A course is recorded at most a year after it began: it "
                                  "starts on %(earliest)s or later.", earliest=earliest),
                              field="start_date")
    latest = today + timedelta(days=START_AHEAD_DAYS)
    if start > latest:
        raise ValidationError(msg("A course is planned at most a year ahead: it starts on "
                                  "%(latest)s or earlier.", latest=latest), field="start_date")
    return start


def check_session_move(new_date: date, planned_on: date, born: date | None) -> date:
    """The date a planned session is moved to: within ``MOVE_DAYS`` of the date it was
    planned on, either way (a session put off or brought forward, not a new course), and
    not before the patient's date of birth (when known)."""
    if born is not None and new_date < born:
        raise ValidationError(msg("A session cannot be before the patient's date of birth "
                                  "(%(born)s).", born=born), field="planned_on")
    if abs((new_date - planned_on).days) > MOVE_DAYS:
        raise ValidationError(msg("A session is moved at most a year from the date it was "
                                  "planned on (%(planned_on)s).", planned_on=planned_on),
                              field="planned_on")
    return new_date


def session_status(mark: str, planned_on: date, today: date) -> str:
    """A session's status from its facts: what was recorded (``given``, ``missed``,
    ``cancelled``) wins; a planned session past its date (``today`` is the clinic's)
    with nothing given is ``overdue``; else ``planned``."""
    if mark not in SESSION_MARKS:
        raise ValueError(f"unknown session mark {mark!r}")
    if mark == "planned" and planned_on < today:
        return "overdue"
    return mark


def course_status(marks: Iterable[str], stopped: bool) -> str:
    """A course's status from its sessions' marks.

    - ``stopped``: stopped with a reason (or consent withdrawn), whatever its sessions;
    - ``completed``: at least one session given and none left to give (every session is
      given, missed or cancelled);
    - ``active``: at least one session given, some still to give;
    - ``planned``: nothing given yet.
    """
    if stopped:
        return "stopped"
    marks = list(marks)
    given = marks.count("given")
    if given == 0:
        return "planned"
    return "active" if "planned" in marks else "completed"


def progress(marks: Iterable[str]) -> dict[str, int]:
    """``{given, planned}``: sessions given of sessions planned (3 of 6)."""
    marks = list(marks)
    return {"given": marks.count("given"), "planned": len(marks)}


def has_visible_text(value) -> bool:
    """True when the text holds a letter or a digit (not only spaces, punctuation,
    zero-width or control characters)."""
    if not isinstance(value, str):
        return False
    return any(unicodedata.category(ch)[0] in ("L", "N") for ch in value)


# --- the per-session maximum -------------------------------------------------------------

@dataclass(frozen=True)
class GivenAmount:
    """What one administration gave of one ingredient: ``amount`` ``unit`` a dose (the
    component as written in the cocktail version), times ``doses``."""

    ingredient_id: int
    amount: Decimal
    unit: str
    doses: int


def session_totals(given: Sequence[GivenAmount],
                   ingredients: Mapping[int, IngredientFacts]) -> dict[int, Fraction]:
    """The exact total of each ingredient given, in its stock unit."""
    totals: dict[int, Fraction] = {}
    for g in given:
        ing = ingredients[g.ingredient_id]
        exact = convert_exact(g.amount, g.unit, ing.unit, ing.strength) * g.doses
        totals[g.ingredient_id] = totals.get(g.ingredient_id, Fraction(0)) + exact
    return totals


def check_session_maximum(given: Sequence[GivenAmount],
                          ingredients: Mapping[int, IngredientFacts]) -> None:
    """Refuse when the total given to the patient in one session, summed over every
    administration (every batch), is over an ingredient's maximum dose per session.

    Compared exactly (fractions in the stock unit). A maximum that cannot be converted
    to the stock unit refuses too: it is a safety limit and cannot be ignored.
    """
    totals = session_totals(given, ingredients)
    for ingredient_id in sorted(totals):
        ing = ingredients[ingredient_id]
        if ing.max_dose_per_session is None:
            continue
        max_amount, max_unit = ing.max_dose_per_session
        try:
            limit = convert_exact(max_amount, max_unit, ing.unit, ing.strength)
        except UnitConversionError as exc:
            raise SessionMaximumExceeded(
                msg("The maximum dose per session of %(ingredient)s cannot be checked: "
                    "%(error)s", ingredient=ing.name, error=exc.message),
                ingredient_id=ingredient_id, field="doses") from None
        total = totals[ingredient_id]
        if total > limit:
            shown = Decimal(format_quantity(round_computed(total), 6))
            raise SessionMaximumExceeded(
                msg("%(ingredient)s: %(total)s %(unit)s in this session would be over its "
                    "maximum dose per session (%(maximum)s %(max_unit)s).",
                    ingredient=ing.name, total=shown, unit=ing.unit,
                    maximum=Decimal(format_quantity(max_amount)), max_unit=max_unit),
                ingredient_id=ingredient_id, field="doses")


def scaled_quantity(line_quantity: Decimal, doses_given: int, batch_doses: int) -> Decimal:
    """What of a batch line reached the patient: ``quantity * doses / batch doses``,
    exact when it terminates, else rounded up at 6 places (as every computed quantity)."""
    if batch_doses <= 0 or doses_given <= 0:
        raise ValueError("doses must be positive")
    return round_computed(Fraction(line_quantity) * doses_given / batch_doses)


__all__ = [
    "COURSE_STATUSES", "EVENT_KINDS", "EVENT_SEVERITIES", "GivenAmount", "MAX_INTERVAL",
    "MAX_SESSIONS", "SESSION_MARKS", "SESSION_STATUSES", "SessionMaximumExceeded",
    "TECHNIQUES", "check_plan", "check_session_maximum", "course_status",
    "has_visible_text", "plan_sessions", "progress", "scaled_quantity", "session_status",
    "session_totals",
]

"""The year-scale generator finishes, and its data hold together, at any date and hour.

On 2026-12-04 at 18:58 UTC the generator looped for ever: a batch drawn on the first day
of the year before the hour the year starts at fell outside every cocktail's period of
use, and the draw of a period was a ``while True``. The generator is now pure (no clock:
``generate`` takes the end of the year), so it is run here at frozen instants that have
caught date bugs elsewhere: month ends, a Sunday, 1 January, a leap day, both DST
changes of the clinic's zone (Europe/Paris), and the hours around opening and closing.
The load through the database runs at a frozen clock too (``time_machine``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine

from formulary.domain import courses as rules
from formulary.domain.doses import IngredientFacts
from formulary.domain.units import Strength
from formulary.scale import activity, generate, load_year
from formulary.compounding.models import Batch
from formulary.courses.models import Administration, Course
from formulary.extensions import db
from formulary.inventory.models import Lot, Movement

PARIS = ZoneInfo("Europe/Paris")
USERS = {"admin": 1, "manager": 2, "pharmacist": 3, "pharmacist2": 4, "practitioner": 5}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


INSTANTS = {
    "the reported hang (Friday evening)": utc(2026, 12, 4, 18, 58, 17),
    "just after midnight, 1 January in Paris": utc(2026, 12, 31, 23, 5),
    "1 January, noon": utc(2027, 1, 1, 12, 0),
    "31 January, a second before midnight in Paris": utc(2026, 1, 31, 22, 59, 59),
    "28 February, opening time": utc(2026, 2, 28, 7, 0),
    "leap day": utc(2028, 2, 29, 15, 30),
    "30 April, just before opening": utc(2026, 4, 30, 5, 59),
    "a Sunday": utc(2026, 11, 29, 10, 0),
    "a Monday, just after closing": utc(2026, 11, 30, 18, 1),
    "spring DST change in Paris (02:00 -> 03:00)": utc(2026, 3, 29, 1, 0),
    "an hour after the spring change": utc(2026, 3, 29, 2, 30),
    "autumn DST change in Paris (03:00 -> 02:00)": utc(2026, 10, 25, 1, 0),
    "the repeated hour of the autumn change": utc(2026, 10, 25, 0, 30),
}
FACTORS = (0.002, 0.01)


def check(rows: dict, end: datetime) -> None:
    """What every generated year must hold, whatever its date."""
    start = rows["start"]
    assert start == end - timedelta(days=365)
    versions_in_use = {}
    for cocktail, version, _storage, since, until in rows["periods"]:
        versions_in_use.setdefault(version, []).append((since, until))
    numbers = set()
    for b in rows["batches"]:
        at = b["prepared_at"]
        assert start <= at < end, (at, start, end)
        local = at.astimezone(PARIS)
        assert local.weekday() < 6, at  # Monday to Saturday
        assert activity.OPENING_HOURS[0] <= local.hour < activity.OPENING_HOURS[1], at
        assert any(since <= at < until for since, until in versions_in_use[b["cocktail_version_id"]])
        assert b["batch_number"] not in numbers
        numbers.add(b["batch_number"])
        assert b["batch_number"][2:10] == local.strftime("%Y%m%d")
    balance: dict[int, object] = {}
    for m in rows["movements"]:
        balance[m["lot_id"]] = balance.get(m["lot_id"], 0) + m["quantity_delta"]
        assert m["balance_after"] == balance[m["lot_id"]] >= 0
    for lot in rows["lots"]:
        assert lot["quantity_on_hand"] == balance[lot["id"]]
    received = {lot["id"]: lot["received_at"] for lot in rows["lots"]}
    for line in rows["lines"]:
        batch = rows["batches"][line["batch_id"] - 1]
        assert received[line["lot_id"]] < batch["prepared_at"]
    check_courses(rows, end)


def _facts(rows) -> dict:
    out = {}
    for r in rows["ingredients"]:
        strength = Strength(r["strength_amount"], r["strength_unit"]) if r["strength_amount"] else None
        max_dose = (r["max_dose_amount"], r["max_dose_unit"]) if r["max_dose_amount"] else None
        out[r["id"]] = IngredientFacts(id=r["id"], name=r["name"], unit=r["unit"],
                                       strength=strength, max_dose_per_session=max_dose)
    return out


def check_courses(rows: dict, end: datetime) -> None:
    """Courses at every stage, and administrations that obey SPEC §11: a verified batch of
    the course's patient and cocktail, after its verification and before its beyond-use
    time, from lots not held, within the per-session maximum, never more doses than the
    batch has, with a consent recorded before the first dose."""
    today = end.astimezone(PARIS).date()
    batches = {b["id"]: b for b in rows["batches"]}
    lots = {lot["id"]: lot for lot in rows["lots"]}
    courses = {c["id"]: c for c in rows["courses"]}
    texts = {t["id"]: t for t in rows["consent_texts"]}
    facts = _facts(rows)
    by_version: dict = {}
    for comp in rows["components"]:
        by_version.setdefault(comp["version_id"], []).append(comp)
    sessions = {s["id"]: s for s in rows["sessions"]}
    marks: dict = {}
    for s in rows["sessions"]:
        marks.setdefault(s["course_id"], []).append(s["status"])
        if s["status"] == "missed":
            assert s["planned_on"] <= today
        if s["status"] in ("missed", "cancelled"):
            assert s["reason"] and s["status_set_at"] <= end
    consent_of = {c["course_id"]: c for c in rows["consents"]}
    given_doses: dict = {}
    first_dose: dict = {}
    seen_sessions = set()
    for a in rows["administrations"]:
        b, course, row = batches[a["batch_id"]], courses[a["course_id"]], sessions[a["session_id"]]
        assert b["status"] == "verified" and b["patient_id"] == a["patient_id"] == course["patient_id"]
        assert b["cocktail_id"] == course["cocktail_id"] and row["course_id"] == course["id"]
        assert b["verified_at"] < a["given_at"] < b["beyond_use_at"] and a["given_at"] <= end
        assert row["status"] == "given" and row["id"] not in seen_sessions
        seen_sessions.add(row["id"])
        given_doses[b["id"]] = given_doses.get(b["id"], 0) + a["doses"]
        assert given_doses[b["id"]] <= b["doses"]
        rules.check_session_maximum(
            [rules.GivenAmount(c["ingredient_id"], c["amount"], c["unit"], a["doses"])
             for c in by_version[b["cocktail_version_id"]]], facts)
        first_dose[course["id"]] = min(first_dose.get(course["id"], a["given_at"]), a["given_at"])
    for line in rows["administration_lines"]:
        assert lots[line["lot_id"]]["status"] == "available"
    for course in rows["courses"]:
        assert course["status"] == rules.course_status(marks[course["id"]],
                                                       stopped=course["stopped_at"] is not None)
        assert len(marks[course["id"]]) == course["planned_sessions"]
        if course["id"] in first_dose:
            consent = consent_of[course["id"]]
            text = texts[consent["consent_text_id"]]
            assert text["area"] == course["area"] and text["created_at"] <= consent["recorded_at"]
            assert consent["recorded_at"] < first_dose[course["id"]]
            assert consent["consented_on"] <= first_dose[course["id"]].astimezone(PARIS).date()
    adms = {a["id"]: a for a in rows["administrations"]}
    for e in rows["adverse_events"]:
        given = adms[e["administration_id"]]["given_at"]
        assert given.astimezone(PARIS).date() <= e["onset"] <= today
        assert given <= e["recorded_at"] <= end
    # every stage of a course and of a session is there, at any size
    assert {c["status"] for c in rows["courses"]} == set(rules.COURSE_STATUSES)
    shown = {rules.session_status(s["status"], s["planned_on"], today) for s in rows["sessions"]}
    assert {"given", "overdue", "missed", "cancelled", "planned"} <= shown
    assert rows["adverse_events"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("factor", FACTORS)
@pytest.mark.parametrize("label", list(INSTANTS))
def test_generator_finishes_and_holds_together_at(label, factor):
    end = INSTANTS[label]
    rows = generate(factor, 20240601, end, PARIS, USERS, echo=lambda *_: None)
    assert rows["batches"]
    check(rows, end)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("label", ["the reported hang (Friday evening)"])
def test_full_year_generates_at(label):
    """``demo-data --scale year`` (factor 1) generates its 50,000 batches in a few seconds.
    At the reported instant only: the other instants (the changes of clock, the ends of
    months and years) are generated at the small factors above, which walk the same
    calendar and the same code; a whole year costs the suite some twenty seconds each."""
    end = INSTANTS[label]
    rows = generate(1.0, 20240601, end, PARIS, USERS, echo=lambda *_: None)
    assert len(rows["batches"]) == 50_000
    check(rows, end)


def test_batch_times_stay_inside_a_window_shorter_than_a_day():
    """A window that holds opening hours of one day only still gives every time inside it."""
    import random

    start = utc(2026, 12, 4, 14, 0)  # a Friday, 15:00 in Paris
    end = utc(2026, 12, 4, 17, 0)
    times = activity.batch_times(random.Random(1), 200, start, end, PARIS)
    assert all(start <= t <= end - timedelta(minutes=5) for t in times)


def test_batch_times_refuse_a_window_with_no_opening_hours():
    import random

    sunday = utc(2026, 11, 29, 9, 0)
    with pytest.raises(ValueError, match="no opening hours"):
        activity.batch_times(random.Random(1), 5, sunday, sunday + timedelta(hours=3), PARIS)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("label", ["the reported hang (Friday evening)",
                                   "spring DST change in Paris (02:00 -> 03:00)"])
def test_year_loads_into_the_database_at_a_frozen_date(app, label):
    with time_machine.travel(INSTANTS[label], tick=False):
        counts = load_year(db.session, echo=lambda *_: None, factor=0.002)
    assert counts["batches"] == db.session.scalar(db.select(db.func.count()).select_from(Batch))
    assert db.session.scalar(db.select(db.func.count()).select_from(Lot)) == counts["lots"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Movement)) == counts["movements"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Administration)) == counts["administrations"] > 0
    assert db.session.scalar(db.select(db.func.count()).select_from(Course)) == counts["courses"]


def _times_analysed(table: str) -> int:
    """How often ``table`` has been analysed by hand (PostgreSQL), or whether SQLite holds
    statistics for it (0 or 1, after the test empties sqlite_stat1)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return db.session.scalar(db.text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = :t"), {"t": table})
    db.session.commit()  # a new transaction: a new view of the statistics
    return db.session.scalar(db.text(
        "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = :t"), {"t": table})


@pytest.mark.timeout(120)
def test_a_loaded_year_is_analysed_for_the_planner(app):
    """Without statistics PostgreSQL's planner took 11 s over the dashboard of a year just
    loaded (bench/README.md); the loader analyses what it wrote, on both databases."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(db.text("ANALYZE"))  # makes sqlite_stat1, then empties it
        db.session.execute(db.text("DELETE FROM sqlite_stat1"))
        db.session.commit()
    before = {t: _times_analysed(t) for t in ("batch", "batch_line", "movement", "lot")}
    with time_machine.travel(INSTANTS["the reported hang (Friday evening)"], tick=False):
        load_year(db.session, echo=lambda *_: None, factor=0.002)
    after = {t: _times_analysed(t) for t in before}
    assert all(after[t] > before[t] for t in before), (before, after)

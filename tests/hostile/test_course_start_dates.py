"""A course's start date as a practitioner plans it (SPEC §11: sessions at start + k x
interval): not before the patient's birth, at most a year back (a course entered late) and
a year ahead; a session moved at most a year from the date it was planned on (2999-01-01
and 1900-01-01 were taken). The rule's truth table, then the same refusal, word for word, on the API and
on the page, nothing written; the limits themselves are accepted."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine

from formulary.domain.courses import (MOVE_DAYS, START_AHEAD_DAYS, START_BEHIND_DAYS,
                                     check_session_move, check_start_date)
from formulary.domain.errors import ValidationError
from tests.hostile.conftest import assert_refused, table_counts

TODAY = date(2026, 6, 15)
BORN = date(1985, 4, 12)

#: (start, born, refused because: None when accepted)
TABLE = [
    (TODAY, BORN, None),
    (TODAY + timedelta(days=365), BORN, None),                 # a year ahead: the last day
    (TODAY + timedelta(days=366), BORN, "ahead"),
    (date(2999, 12, 31), BORN, "ahead"),
    (TODAY - timedelta(days=365), BORN, None),                 # a year back: the first day
    (TODAY - timedelta(days=366), BORN, "behind"),
    (date(1, 1, 1), None, "behind"),
    (TODAY - timedelta(days=10), TODAY - timedelta(days=9), "birth"),   # an infant's record
    (TODAY - timedelta(days=9), TODAY - timedelta(days=9), None),       # on the day of birth
    (TODAY, None, None),                                        # no date of birth known
    (date(1900, 1, 1), BORN, "birth"),                          # before birth, long ago
    (TODAY + timedelta(days=30), TODAY + timedelta(days=60), "birth"),  # a birth date to come
]


@pytest.mark.parametrize("start,born,why", TABLE)
def test_the_start_date_rule(start, born, why):
    if why is None:
        assert check_start_date(start, TODAY, born) == start
        return
    with pytest.raises(ValidationError) as caught:
        check_start_date(start, TODAY, born)
    assert caught.value.fields == {"start_date": [caught.value.message]}
    words = {"ahead": "at most a year ahead", "behind": "at most a year after it began",
             "birth": "date of birth"}[why]
    assert words in caught.value.message


def test_a_year_each_way():
    assert START_AHEAD_DAYS == START_BEHIND_DAYS == 365


@pytest.fixture
def frozen():
    with time_machine.travel(date(2026, 6, 15).isoformat() + "T10:00:00+00:00", tick=False):
        yield


CASES = [("2999-12-31", "at most a year ahead"), ("2027-06-16", "at most a year ahead"),
         ("2025-06-14", "at most a year after it began"), ("1984-01-01", "date of birth")]


@pytest.mark.parametrize("start,words", CASES)
def test_the_api_refuses_the_start_and_writes_nothing(frozen, clinic, practitioner_api,
                                                      start, words):
    before = table_counts()
    r = practitioner_api.post("courses", json={
        "patient_id": clinic["patient"].id, "cocktail_id": clinic["cocktail"].id,
        "planned_sessions": 6, "interval_days": 14, "start_date": start})
    assert_refused(r, 422, "invalid", start)
    error = r.get_json()["error"]
    assert words in error["fields"]["start_date"][0], error
    assert table_counts() == before


@pytest.mark.parametrize("start,words", CASES)
def test_the_page_refuses_the_start_on_its_field(frozen, clinic, client, login_as, start, words):
    login_as("practitioner")
    url = f"/courses/new?patient_id={clinic['patient'].id}&cocktail_id={clinic['cocktail'].id}"
    token = client.csrf_token(url)  # a read: audited
    before = table_counts()
    r = client.post(url, data={"csrf_token": token, "planned_sessions": "6", "interval_days": "14",
                               "start_date": start, "area": "scalp", "indication": "",
                               "practitioner": ""})
    text = r.get_data(as_text=True)
    assert r.status_code == 422, r.status_code
    assert words in text and "is-invalid" in text, text[-3000:]
    assert table_counts() == before


@pytest.mark.parametrize("start", ["2027-06-15", "2025-06-15", "2026-06-15"])
def test_the_limits_are_accepted(frozen, clinic, practitioner_api, start):
    r = practitioner_api.post("courses", json={
        "patient_id": clinic["patient"].id, "cocktail_id": clinic["cocktail"].id,
        "planned_sessions": 6, "interval_days": 14, "start_date": start})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["start_date"] == start


PLANNED = date(2027, 3, 1)
MOVES = [
    (PLANNED + timedelta(days=7), BORN, None),
    (PLANNED - timedelta(days=7), BORN, None),                  # brought forward
    (PLANNED + timedelta(days=365), BORN, None),                # the last day either way
    (PLANNED - timedelta(days=365), BORN, None),
    (PLANNED + timedelta(days=366), BORN, "far"),
    (PLANNED - timedelta(days=366), None, "far"),
    (date(2999, 1, 1), BORN, "far"),
    (date(1900, 1, 1), BORN, "birth"),
    (PLANNED - timedelta(days=3), PLANNED - timedelta(days=2), "birth"),
]


@pytest.mark.parametrize("new,born,why", MOVES)
def test_the_session_move_rule(new, born, why):
    assert MOVE_DAYS == 365
    if why is None:
        assert check_session_move(new, PLANNED, born) == new
        return
    with pytest.raises(ValidationError) as caught:
        check_session_move(new, PLANNED, born)
    assert set(caught.value.fields) == {"planned_on"}
    assert {"far": "at most a year from the date it was planned on",
            "birth": "date of birth"}[why] in caught.value.message


@pytest.mark.parametrize("new,words", [("2999-01-01", "at most a year from"),
                                       ("1900-01-01", "date of birth")])
def test_a_session_moved_far_is_refused_on_the_api_and_the_page(frozen, clinic, client, login_as,
                                                                practitioner_api, new, words):
    r = practitioner_api.post("courses", json={
        "patient_id": clinic["patient"].id, "cocktail_id": clinic["cocktail"].id,
        "planned_sessions": 3, "interval_days": 14, "start_date": "2026-06-15"})
    course = r.get_json()
    session = course["sessions"][1]
    before = table_counts()
    r = practitioner_api.patch(f"sessions/{session['id']}", json={"planned_on": new})
    assert_refused(r, 422, "invalid", new)
    assert words in r.get_json()["error"]["fields"]["planned_on"][0]
    assert table_counts() == before
    login_as("practitioner")
    token = client.csrf_token(f"/courses/{course['id']}")  # a read: audited
    before = table_counts()
    r = client.post(f"/sessions/{session['id']}/move", data={"csrf_token": token, "planned_on": new})
    text = r.get_data(as_text=True)
    assert 400 <= r.status_code < 500 and words in text, r.status_code
    assert table_counts() == before
    r = practitioner_api.patch(f"sessions/{session['id']}", json={"planned_on": "2026-07-01"})
    assert r.status_code == 200, r.get_json()

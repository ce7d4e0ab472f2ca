"""A reading of the formulary after a change lends the values of the snapshot kept before
it that come out the same (``screen_snapshot.read(..., previous)``): what it gives must
equal a reading from nothing, whatever the change."""

from __future__ import annotations

import pytest

from formulary.cocktails import revision
from formulary.patients import screen_snapshot
from tests.patients.test_screen_snapshot import WRITES, _picker, _uncached


def _fields(snapshot):
    return (snapshot.token, snapshot.cocktails, dict(snapshot.by_area),
            dict(snapshot.in_use), dict(snapshot.ingredients), snapshot.cross)


@pytest.mark.parametrize("writes", [[w] for w in WRITES] + [WRITES],
                         ids=[w.__name__.strip("_") for w in WRITES] + ["all"])
def test_a_reading_lending_the_kept_values_equals_a_reading_from_nothing(session, clinic, writes):
    before = screen_snapshot.read(session, revision.token(session))
    for write in writes:
        write(clinic, session)
    session.commit()
    token = revision.token(session)
    lent = screen_snapshot.read(session, token, before)
    fresh = screen_snapshot.read(session, token)
    assert _fields(lent) == _fields(fresh)
    assert dict(lent.by_row) == dict(fresh.by_row)
    assert _fields(lent) != _fields(before)
    # What did not change is the kept value itself
    unchanged = [i for i, ing in fresh.ingredients.items() if before.ingredients.get(i) == ing]
    assert unchanged and all(lent.ingredients[i] is before.ingredients[i] for i in unchanged)
    same_rows = [row for row in fresh.by_row if row in before.by_row]
    assert same_rows and all(lent.by_row[row] is before.by_row[row] for row in same_rows)


def test_a_reading_with_nothing_changed_is_the_kept_snapshot_under_the_new_token(session, clinic):
    before = screen_snapshot.read(session, "before")
    again = screen_snapshot.read(session, "after", before)
    assert again.token == "after"
    assert again.cocktails is before.cocktails and again.ingredients is before.ingredients
    assert again.by_area is before.by_area and again.in_use is before.in_use
    assert again.cross is before.cross
    assert _fields(again)[1:] == _fields(screen_snapshot.read(session, "after"))[1:]


def test_a_picker_after_every_change_in_turn_equals_one_reading_the_formulary(
        session, clinic, make_patient):
    # The worker keeps each snapshot and lends it to the next reading, change after change.
    patient = make_patient(allergies=[{"group": "paraben", "severity": "severe"},
                                      {"group": "para-aminobenzoic acid"},
                                      {"substance": "biotin"}],
                           conditions=["diabetes"])
    _picker(session, patient)
    for write in WRITES:
        write(clinic, session)
        session.commit()
        assert _picker(session, patient) == _uncached(session, patient), write.__name__

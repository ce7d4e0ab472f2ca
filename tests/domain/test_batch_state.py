"""Truth table of a batch's effective state (SPEC §12)."""

from datetime import datetime, timedelta, timezone

import pytest

from formulary.domain.batch_state import LotFact, batch_state

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=timezone.utc)
IN_DATE = NOW + timedelta(hours=5)
PAST = NOW - timedelta(minutes=1)
OK = LotFact("A1", "available", "biotin")
QUAR = LotFact("Q1", "quarantined", "lidocaine")
RECALL = LotFact("R1", "recalled", "hyaluronic acid")


@pytest.mark.parametrize("status, beyond, lots, given, state", [
    ("prepared", IN_DATE, [OK], 0, "prepared"),              # fresh
    ("verified", IN_DATE, [OK], 0, "verified"),              # checked by a second pharmacist
    ("prepared", PAST, [OK], 0, "expired"),                  # past its beyond-use date
    ("verified", NOW, [OK], 0, "expired"),                   # the instant itself is past
    ("verified", IN_DATE, [OK], 2, "partly_given"),          # some doses given, in date
    ("verified", PAST, [OK], 2, "expired"),                  # partly given then out of date
    ("verified", PAST, [OK], 4, "given"),                    # fully given: never expired
    ("verified", IN_DATE, [OK, QUAR], 0, "on_hold"),         # one of two lots quarantined
    ("prepared", IN_DATE, [RECALL], 0, "on_hold"),           # recalled lot
    ("verified", PAST, [RECALL], 0, "on_hold"),              # hold says more than expiry
    ("verified", IN_DATE, [RECALL], 4, "given"),             # given before the recall: history
    ("discarded", IN_DATE, [RECALL], 0, "discarded"),        # discarded beats everything
    ("discarded", PAST, [OK], 4, "discarded"),
    ("prepared", IN_DATE, [], 0, "prepared"),                # no lot facts: no hold
])
def test_state(status, beyond, lots, given, state):
    result = batch_state(status=status, beyond_use_at=beyond, now=NOW, doses=4, lots=lots,
                         doses_given=given)
    assert result.state == state
    assert result.doses_left == 4 - given


def test_hold_names_every_held_lot_recalled_first_and_once():
    result = batch_state(status="prepared", beyond_use_at=IN_DATE, now=NOW, doses=2,
                         lots=[QUAR, OK, RECALL, QUAR])
    assert [lot.lot_number for lot in result.held_lots] == ["R1", "Q1"]
    assert result.reason == ("On hold: hyaluronic acid lot R1 is recalled; lidocaine lot Q1 is "
                             "quarantined. Do not use it.")
    assert not result.usable


def test_releasing_one_of_two_held_lots_keeps_the_hold():
    released = LotFact("Q1", "available", "lidocaine")
    assert batch_state(status="prepared", beyond_use_at=IN_DATE, now=NOW, doses=2,
                       lots=[released, RECALL]).state == "on_hold"
    assert batch_state(status="prepared", beyond_use_at=IN_DATE, now=NOW, doses=2,
                       lots=[released, OK]).state == "prepared"


@pytest.mark.parametrize("state, usable", [("prepared", True), ("verified", True),
                                           ("expired", False)])
def test_usable(state, usable):
    beyond = PAST if state == "expired" else IN_DATE
    status = "verified" if state == "verified" else "prepared"
    assert batch_state(status=status, beyond_use_at=beyond, now=NOW, doses=1).usable is usable


def test_zones_compare_as_instants():
    paris = timezone(timedelta(hours=1))
    assert batch_state(status="prepared", beyond_use_at=NOW.astimezone(paris),
                       now=NOW - timedelta(seconds=1), doses=1).state == "prepared"


@pytest.mark.parametrize("kw", [{"status": "given"}, {"doses_given": 5}, {"doses_given": -1}])
def test_bad_facts_are_refused(kw):
    args = dict(status="prepared", beyond_use_at=IN_DATE, now=NOW, doses=4)
    args.update(kw)
    with pytest.raises(ValueError):
        batch_state(**args)

"""Truth tables for the beyond-use date of a batch (SPEC §7)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from formulary.domain.beyond_use import DEFAULT_POLICY, BeyondUse, beyond_use
from formulary.domain.stock import LotStock

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc
PREPARED = datetime(2026, 11, 22, 10, 0, tzinfo=PARIS)
TODAY = date(2026, 11, 22)


def make_lot(lot_number: str, *, expires_in: int = 365, multi_dose: bool = False,
             in_use_days: int | None = None, opened_ago: timedelta | None = None,
             opened_at: datetime | None = None, lot_id: int = 1,
             expiry: date | None = None) -> LotStock:
    if opened_ago is not None:
        opened_at = PREPARED - opened_ago
    return LotStock(lot_id=lot_id, ingredient_id=1, lot_number=lot_number,
                    expiry_date=expiry or TODAY + timedelta(days=expires_in),
                    received_at=PREPARED - timedelta(days=60), on_hand=Decimal("10"),
                    status="available", multi_dose=multi_dose, in_use_days=in_use_days,
                    opened_at=opened_at)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.mark.parametrize("prepared_at, storage, lots, at, reason", [
    pytest.param(
        # room temperature, lots in date for a year: 12 h
        PREPARED, "room", [make_lot("ABC123")],
        paris(2026, 11, 22, 22, 0), "storage policy (room, 12 h)", id="room-12h"),
    pytest.param(
        # fridge: 24 h
        PREPARED, "fridge", [make_lot("ABC123")],
        paris(2026, 11, 23, 10, 0), "storage policy (fridge, 24 h)", id="fridge-24h"),
    pytest.param(
        # no lots given: the policy alone
        PREPARED, "fridge", [],
        paris(2026, 11, 23, 10, 0), "storage policy (fridge, 24 h)", id="no-lots"),
    pytest.param(
        # a lot expiring today, prepared at 20:00 for the room (12 h -> 08:00 tomorrow):
        # the end of today wins
        paris(2026, 11, 22, 20, 0), "room", [make_lot("OLD1", expires_in=0)],
        paris(2026, 11, 23, 0, 0), "expiry of lot OLD1", id="lot-expiring-today"),
    pytest.param(
        # a lot expiring today, prepared at 10:00 for the room (12 h -> 22:00 today):
        # the policy still wins
        PREPARED, "room", [make_lot("OLD1", expires_in=0)],
        paris(2026, 11, 22, 22, 0), "storage policy (room, 12 h)",
        id="lot-expiring-today-after-the-window"),
    pytest.param(
        # the fridge window runs to tomorrow 10:00; a lot expiring today ends at midnight
        PREPARED, "fridge", [make_lot("FAR", lot_id=1), make_lot("SOON", expires_in=0,
                                                                   lot_id=2)],
        paris(2026, 11, 23, 0, 0), "expiry of lot SOON", id="earliest-lot-expiry-named"),
    pytest.param(
        # an opened multi-dose vial whose 28 days end 4 h after preparation
        PREPARED, "fridge", [make_lot("XYZ", multi_dose=True,
                                      opened_ago=timedelta(days=27, hours=20))],
        paris(2026, 11, 22, 14, 0), "in-use period of lot XYZ (opened 2026-10-25)",
        id="in-use-period-inside-the-window"),
    pytest.param(
        # the ingredient's own 14 days, opened 13 days and 18 h ago: 6 h left
        PREPARED, "room", [make_lot("MD14", multi_dose=True, in_use_days=14,
                                    opened_ago=timedelta(days=13, hours=18))],
        paris(2026, 11, 22, 16, 0), "in-use period of lot MD14 (opened 2026-11-08)",
        id="own-in-use-period-inside-the-window"),
    pytest.param(
        # a multi-dose lot opened by this very batch (opened_at None): 28 days, policy wins
        PREPARED, "fridge", [make_lot("NEW", multi_dose=True)],
        paris(2026, 11, 23, 10, 0), "storage policy (fridge, 24 h)",
        id="opened-by-this-batch-none"),
    pytest.param(
        # the same, with opened_at set to prepared_at by the caller
        PREPARED, "fridge", [make_lot("NEW", multi_dose=True, opened_at=PREPARED)],
        paris(2026, 11, 23, 10, 0), "storage policy (fridge, 24 h)",
        id="opened-by-this-batch-explicit"),
    pytest.param(
        # opened by this batch, expiring today: the expiry still limits it
        paris(2026, 11, 22, 20, 0), "fridge", [make_lot("NEW", multi_dose=True,
                                                        expires_in=0)],
        paris(2026, 11, 23, 0, 0), "expiry of lot NEW", id="opened-by-this-batch-expiring"),
    pytest.param(
        # a single-use lot with an opened_at: no in-use period for it
        PREPARED, "fridge", [make_lot("SU", opened_ago=timedelta(days=40))],
        paris(2026, 11, 23, 10, 0), "storage policy (fridge, 24 h)",
        id="single-use-lot-has-no-in-use-period"),
    pytest.param(
        # spring forward in Paris (2026-03-29): 24 h in the fridge from 10:00 on the 28th
        # is 11:00 on the 29th by the wall clock
        paris(2026, 3, 28, 10, 0), "fridge", [],
        paris(2026, 3, 29, 11, 0), "storage policy (fridge, 24 h)", id="dst-spring-fridge"),
    pytest.param(
        # spring forward, room: 12 h from 20:00 is 09:00
        paris(2026, 3, 28, 20, 0), "room", [],
        paris(2026, 3, 29, 9, 0), "storage policy (room, 12 h)", id="dst-spring-room"),
    pytest.param(
        # fall back (2026-10-25): 24 h from 10:00 on the 24th is 09:00 on the 25th
        paris(2026, 10, 24, 10, 0), "fridge", [],
        paris(2026, 10, 25, 9, 0), "storage policy (fridge, 24 h)", id="dst-autumn-fridge"),
    pytest.param(
        # a lot expiring on the 23-h day: its end is midnight on the 30th, UTC+2
        paris(2026, 3, 29, 12, 0), "fridge", [make_lot("DST1", expiry=date(2026, 3, 29))],
        paris(2026, 3, 30, 0, 0), "expiry of lot DST1", id="dst-day-expiry"),
    pytest.param(
        # prepared_at given in UTC: the answer is the same instant, read in Paris
        PREPARED.astimezone(UTC), "fridge", [],
        paris(2026, 11, 23, 10, 0), "storage policy (fridge, 24 h)", id="prepared-in-utc"),
])
def test_beyond_use(prepared_at, storage, lots, at, reason):
    result = beyond_use(prepared_at, storage, lots, PARIS)
    assert result == BeyondUse(at=at, reason=reason)
    # the same instant in UTC, and read in the clinic's zone
    assert result.at.astimezone(UTC) == at.astimezone(UTC)
    assert result.at.tzinfo is PARIS


def test_dst_fridge_window_is_24_hours_of_elapsed_time():
    prepared_at = paris(2026, 3, 28, 10, 0)
    at = beyond_use(prepared_at, "fridge", [], PARIS).at
    assert at.astimezone(UTC) - prepared_at.astimezone(UTC) == timedelta(hours=24)
    assert at.utcoffset() == timedelta(hours=2)


def test_a_clinic_policy_replaces_the_default():
    policy = {"room": timedelta(hours=6), "fridge": timedelta(days=3),
              "freezer": timedelta(minutes=90)}
    assert beyond_use(PREPARED, "room", [], PARIS, policy) == BeyondUse(
        paris(2026, 11, 22, 16, 0), "storage policy (room, 6 h)")
    assert beyond_use(PREPARED, "fridge", [], PARIS, policy) == BeyondUse(
        paris(2026, 11, 25, 10, 0), "storage policy (fridge, 3 days)")
    assert beyond_use(PREPARED, "freezer", [], PARIS, policy) == BeyondUse(
        paris(2026, 11, 22, 11, 30), "storage policy (freezer, 90 min)")


def test_default_policy_is_usp_797_category_1():
    assert dict(DEFAULT_POLICY) == {"room": timedelta(hours=12), "fridge": timedelta(hours=24)}


def test_on_a_tie_the_policy_is_named():
    # a lot expiring today, prepared at 12:00 for the room: both end at midnight
    result = beyond_use(paris(2026, 11, 22, 12, 0), "room", [make_lot("TIE", expires_in=0)],
                        PARIS)
    assert result == BeyondUse(paris(2026, 11, 23, 0, 0), "storage policy (room, 12 h)")


def test_the_order_of_the_lots_does_not_matter():
    lots = [make_lot("B", expires_in=0, lot_id=2), make_lot("A", expires_in=0, lot_id=1)]
    first = beyond_use(paris(2026, 11, 22, 20, 0), "room", lots, PARIS)
    second = beyond_use(paris(2026, 11, 22, 20, 0), "room", lots[::-1], PARIS)
    assert first == second == BeyondUse(paris(2026, 11, 23, 0, 0), "expiry of lot A")


@pytest.mark.parametrize("storage", ["freezer", "Fridge", ""])
def test_unknown_storage_is_refused(storage):
    with pytest.raises(ValueError):
        beyond_use(PREPARED, storage, [], PARIS)


@pytest.mark.parametrize("lot", [
    # expired yesterday
    make_lot("EXP", expires_in=-1),
    # opened 30 days ago: in-use period over
    make_lot("OVER", multi_dose=True, opened_ago=timedelta(days=30)),
])
def test_a_lot_no_longer_usable_at_preparation_is_refused(lot):
    with pytest.raises(ValueError, match=lot.lot_number):
        beyond_use(PREPARED, "fridge", [lot], PARIS)


def test_a_naive_preparation_time_is_refused():
    with pytest.raises(ValueError):
        beyond_use(datetime(2026, 11, 22, 10, 0), "fridge", [], PARIS)


def test_a_non_positive_policy_is_refused():
    with pytest.raises(ValueError):
        beyond_use(PREPARED, "room", [], PARIS, {"room": timedelta(0)})

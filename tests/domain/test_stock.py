"""Truth tables for usable stock and first-expiry-first picking (SPEC §4, §7)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from formulary.domain.errors import InsufficientStock
from formulary.domain.stock import (
    DEFAULT_IN_USE_DAYS,
    LOT_STATUSES,
    LotStock,
    Pick,
    classify_expiring,
    expiry_end,
    in_use_end,
    is_usable,
    lot_state,
    low_stock,
    pick_lots,
    steady_until,
    usable_by_ingredient,
    usable_each,
    usable_quantity,
    usable_until,
)

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=PARIS)
TODAY = date(2026, 11, 22)


def make_lot(lot_id: int = 1, ingredient_id: int = 1, *, expires_in: int = 365,
             received_days_ago: int = 30, on_hand: str = "10", status: str = "available",
             multi_dose: bool = False, in_use_days: int | None = None,
             opened_ago: timedelta | None = None, lot_number: str | None = None) -> LotStock:
    """A lot described relative to NOW: expiry in days from TODAY, receipt and first
    draw as ages."""
    return LotStock(
        lot_id=lot_id,
        ingredient_id=ingredient_id,
        lot_number=lot_number or f"L{lot_id}",
        expiry_date=TODAY + timedelta(days=expires_in),
        received_at=NOW - timedelta(days=received_days_ago),
        on_hand=Decimal(on_hand),
        status=status,
        multi_dose=multi_dose,
        in_use_days=in_use_days,
        opened_at=None if opened_ago is None else NOW - opened_ago,
    )


def days(n: float) -> timedelta:
    return timedelta(days=n)


# --- the end of an expiry date ---------------------------------------------------------

@pytest.mark.parametrize("expiry, zone, end_utc", [
    # an ordinary winter day in Paris (UTC+1): midnight starting the next day
    (date(2026, 11, 22), PARIS, datetime(2026, 11, 22, 23, 0, tzinfo=UTC)),
    # a summer day in Paris (UTC+2)
    (date(2026, 7, 14), PARIS, datetime(2026, 7, 14, 22, 0, tzinfo=UTC)),
    # the eve of spring-forward: the next midnight is still UTC+1
    (date(2026, 3, 28), PARIS, datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),
    # the day clocks go forward is 23 h long; its end is UTC+2 midnight
    (date(2026, 3, 29), PARIS, datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
    # the day clocks go back is 25 h long; it starts at UTC+2 and ends at UTC+1 midnight
    (date(2026, 10, 25), PARIS, datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
    # a zone whose clocks skip midnight (Santiago, 2026-09-06 00:00 -> 01:00): the end is
    # the first instant of the next day, 01:00 local (04:00 UTC)
    (date(2026, 9, 5), ZoneInfo("America/Santiago"), datetime(2026, 9, 6, 4, 0, tzinfo=UTC)),
    # the clinic's zone decides, not UTC: end of the day in Tokyo (UTC+9)
    (date(2026, 11, 22), ZoneInfo("Asia/Tokyo"), datetime(2026, 11, 22, 15, 0, tzinfo=UTC)),
])
def test_expiry_end_is_midnight_starting_the_next_day_in_the_clinic_zone(expiry, zone,
                                                                         end_utc):
    end = expiry_end(expiry, zone)
    assert end.astimezone(UTC) == end_utc
    assert end.tzinfo is zone


# --- the state a user reads ------------------------------------------------------------

@pytest.mark.parametrize("lot, state", [
    # received, in date, nothing special
    (make_lot(), "available"),
    # quarantined and recalled are what a person decided: they read as such
    (make_lot(status="quarantined"), "quarantined"),
    (make_lot(status="recalled"), "recalled"),
    # ... and they win over expiry
    (make_lot(status="quarantined", expires_in=-5), "quarantined"),
    (make_lot(status="recalled", expires_in=-5), "recalled"),
    # expired yesterday
    (make_lot(expires_in=-1), "expired"),
    # expires today: usable all day
    (make_lot(expires_in=0), "available"),
    # nothing on hand: empty (issue 16: it does not read "available")
    (make_lot(on_hand="0"), "empty"),
    # empty wins over expired (there is nothing left to throw away) ...
    (make_lot(on_hand="0", expires_in=-3), "empty"),
    # ... but not over what a person decided: a recalled lot stays recalled when empty
    (make_lot(on_hand="0", status="recalled"), "recalled"),
    (make_lot(on_hand="0", status="quarantined"), "quarantined"),
    # multi-dose, never opened: only its expiry counts
    (make_lot(multi_dose=True), "available"),
    # multi-dose opened 27 days ago: within the default 28 days
    (make_lot(multi_dose=True, opened_ago=days(27)), "available"),
    # opened 28 days ago to the minute: the in-use period is over (exclusive end)
    (make_lot(multi_dose=True, opened_ago=days(28)), "in_use_expired"),
    # opened 29 days ago
    (make_lot(multi_dose=True, opened_ago=days(29)), "in_use_expired"),
    # the ingredient's own 14 days: opened 13 days ago is fine ...
    (make_lot(multi_dose=True, in_use_days=14, opened_ago=days(13)), "available"),
    # ... 14 days ago is over ...
    (make_lot(multi_dose=True, in_use_days=14, opened_ago=days(14)), "in_use_expired"),
    # ... and 15 days ago, though the default 28 would still allow it
    (make_lot(multi_dose=True, in_use_days=14, opened_ago=days(15)), "in_use_expired"),
    # expired and past its in-use period: expiry is what a user reads
    (make_lot(multi_dose=True, expires_in=-1, opened_ago=days(40)), "expired"),
    # a single-use lot carrying an opened_at: in-use periods are for multi-dose lots only
    (make_lot(multi_dose=False, opened_ago=days(100)), "available"),
])
def test_lot_state(lot, state):
    assert lot_state(lot, NOW, PARIS) == state


@pytest.mark.parametrize("now, state", [
    # the last instant of the expiry date in Paris
    (datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=PARIS), "available"),
    # midnight starting the next day: expired
    (datetime(2026, 11, 23, 0, 0, tzinfo=PARIS), "expired"),
    # the same instants given in UTC read the same
    (datetime(2026, 11, 22, 22, 59, 59, tzinfo=UTC), "available"),
    (datetime(2026, 11, 22, 23, 0, tzinfo=UTC), "expired"),
    # 23:30 UTC is already the next day in Paris, though still the expiry date in UTC
    (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "expired"),
])
def test_a_lot_is_usable_on_its_expiry_date_and_expired_from_the_next_day(now, state):
    lot = make_lot(expires_in=0)  # expires 2026-11-22
    assert lot_state(lot, now, PARIS) == state


@pytest.mark.parametrize("lot, usable", [
    # available, in date, stock on hand
    (make_lot(), True),
    # no stock on hand
    (make_lot(on_hand="0"), False),
    # a sliver on hand still counts
    (make_lot(on_hand="0.001"), True),
    (make_lot(status="quarantined"), False),
    (make_lot(status="recalled"), False),
    # expired yesterday
    (make_lot(expires_in=-1), False),
    # expiring today
    (make_lot(expires_in=0), True),
    # opened multi-dose within, then past, its in-use period
    (make_lot(multi_dose=True, opened_ago=days(20)), True),
    (make_lot(multi_dose=True, opened_ago=days(30)), False),
])
def test_is_usable(lot, usable):
    assert is_usable(lot, NOW, PARIS) is usable


def _every_kind_of_lot() -> list[LotStock]:
    """Each status, stock, expiry and in-use case of the tables above, and the edges."""
    lots = []
    for status in LOT_STATUSES:
        for on_hand in ("0", "0.001", "10"):
            for expires_in in (-30, -1, 0, 1, 40):
                for multi_dose, in_use_days, opened_ago in (
                        (False, None, None), (False, None, days(100)), (True, None, None),
                        (True, None, days(27)), (True, None, days(28)),
                        (True, None, days(28) - timedelta(microseconds=1)),
                        (True, 14, days(13)), (True, 14, days(14)), (True, 60, days(59))):
                    lots.append(make_lot(len(lots) + 1, expires_in=expires_in, on_hand=on_hand,
                                         status=status, multi_dose=multi_dose,
                                         in_use_days=in_use_days, opened_ago=opened_ago))
    return lots


@pytest.mark.parametrize("now, zone", [
    (NOW, PARIS),
    # the last instant of today in Paris, then midnight: what expires today goes
    (datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=PARIS), PARIS),
    (datetime(2026, 11, 23, 0, 0, tzinfo=PARIS), PARIS),
    # the same instant read in another zone: the clinic's zone decides the dates
    (NOW.astimezone(UTC), ZoneInfo("Asia/Tokyo")),
    (NOW.astimezone(ZoneInfo("America/Santiago")), ZoneInfo("America/Santiago")),
])
def test_usable_each_answers_as_is_usable_lot_by_lot(now, zone):
    lots = _every_kind_of_lot()
    expected = [is_usable(lot, now, zone) for lot in lots]
    assert usable_each(lots, now, zone) == expected
    assert True in expected and False in expected  # both answers are exercised
    assert usable_each([], now, zone) == []


def test_usable_each_refuses_a_naive_now_or_a_zone_that_is_not_one():
    with pytest.raises(ValueError):
        usable_each([make_lot()], datetime(2026, 11, 22, 10, 0), PARIS)
    with pytest.raises(TypeError):
        usable_each([make_lot()], NOW, "Europe/Paris")


def test_a_lots_in_use_end_is_kept_with_it_but_is_not_part_of_what_it_is():
    opened = make_lot(multi_dose=True, opened_ago=days(1))
    twin = make_lot(multi_dose=True, opened_ago=days(1))
    assert in_use_end(opened) == in_use_end(opened) == NOW - days(1) + days(DEFAULT_IN_USE_DAYS)
    # worked out once and kept: the same object is given again ...
    assert in_use_end(opened) is in_use_end(opened)
    # ... yet the lot still equals (and hashes as) a twin that has not worked it out
    assert opened == twin and hash(opened) == hash(twin)
    # the lot stays frozen
    with pytest.raises(AttributeError):
        opened.opened_at = NOW


# --- in-use period and effective end ---------------------------------------------------

def test_in_use_end_applies_to_opened_multi_dose_lots_only():
    # single-use lot: no in-use period
    assert in_use_end(make_lot(opened_ago=days(1))) is None
    # multi-dose, not opened yet
    assert in_use_end(make_lot(multi_dose=True)) is None
    # default 28 days
    opened = make_lot(multi_dose=True, opened_ago=days(1))
    assert in_use_end(opened) == NOW - days(1) + days(DEFAULT_IN_USE_DAYS)
    # the ingredient's own period
    own = make_lot(multi_dose=True, in_use_days=14, opened_ago=days(1))
    assert in_use_end(own) == NOW + days(13)


def test_in_use_period_is_elapsed_time_across_a_change_of_clock():
    # Opened at 10:00 before spring-forward (2026-03-29): 28 x 24 h later is 11:00 on the
    # wall clock, whatever zone opened_at carries.
    opened_at = datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)
    for carried in (opened_at, opened_at.astimezone(UTC)):
        lot = LotStock(lot_id=1, ingredient_id=1, lot_number="MD1",
                       expiry_date=date(2027, 1, 1), received_at=opened_at,
                       on_hand=Decimal("5"), status="available", multi_dose=True,
                       opened_at=carried)
        end = in_use_end(lot)
        # (in UTC: datetimes sharing a tzinfo subtract by wall clock)
        assert end.astimezone(UTC) - opened_at.astimezone(UTC) == timedelta(days=28)
        assert end.astimezone(PARIS).replace(tzinfo=None) == datetime(2026, 4, 7, 11, 0)


@pytest.mark.parametrize("lot, until", [
    # single-use: the end of its expiry date
    (make_lot(expires_in=10), datetime(2026, 12, 3, 0, 0, tzinfo=PARIS)),
    # unopened multi-dose: the same
    (make_lot(multi_dose=True, expires_in=10), datetime(2026, 12, 3, 0, 0, tzinfo=PARIS)),
    # opened 25 days ago, expiring in a year: in-use period ends in 3 days
    (make_lot(multi_dose=True, opened_ago=days(25)), NOW + days(3)),
    # opened yesterday, expiring tomorrow: the expiry comes first
    (make_lot(multi_dose=True, expires_in=1, opened_ago=days(1)),
     datetime(2026, 11, 24, 0, 0, tzinfo=PARIS)),
])
def test_usable_until_is_the_earlier_of_expiry_and_in_use_end(lot, until):
    assert usable_until(lot, PARIS) == until
    assert usable_until(lot, PARIS).tzinfo is PARIS


# --- how long what is read of the stock holds by time alone ------------------------------

TOMORROW_MIDNIGHT = datetime(2026, 11, 23, 0, 0, tzinfo=PARIS)


@pytest.mark.parametrize("lots, until", [
    # no lot: the day ends at midnight in the clinic's zone ("today" moves)
    ([], TOMORROW_MIDNIGHT),
    # a lot expiring today stops being usable at that same midnight
    ([make_lot(expires_in=0)], TOMORROW_MIDNIGHT),
    # an opened vial whose in-use period ends this afternoon: that instant comes first
    ([make_lot(multi_dose=True, opened_ago=days(28) - timedelta(hours=5))],
     NOW + timedelta(hours=5)),
    # ... of several, the earliest
    ([make_lot(1, multi_dose=True, opened_ago=days(28) - timedelta(hours=5)),
      make_lot(2, multi_dose=True, opened_ago=days(28) - timedelta(hours=2))],
     NOW + timedelta(hours=2)),
    # an in-use period that ended already changes nothing any more: midnight
    ([make_lot(multi_dose=True, opened_ago=days(29))], TOMORROW_MIDNIGHT),
    # one ending after midnight: midnight comes first
    ([make_lot(multi_dose=True, opened_ago=days(27))], TOMORROW_MIDNIGHT),
    # an opened single-use lot has no in-use period
    ([make_lot(opened_ago=days(28) - timedelta(hours=5))], TOMORROW_MIDNIGHT),
    # a quarantined opened vial: its in-use end is still an instant that may change what
    # is read (it would show as in-use expired once released); kept, being conservative
    ([make_lot(multi_dose=True, status="quarantined", opened_ago=days(28) - timedelta(hours=1))],
     NOW + timedelta(hours=1)),
])
def test_steady_until_is_the_next_midnight_or_the_first_in_use_end(lots, until):
    assert steady_until(lots, NOW, PARIS) == until


def test_steady_until_uses_the_clinic_zone_and_refuses_a_naive_now():
    # 23:30 UTC on the 22nd is already the 23rd in Paris: the next midnight is the 24th's
    late = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert steady_until([], late, PARIS) == datetime(2026, 11, 24, 0, 0, tzinfo=PARIS)
    assert steady_until([], late, UTC) == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        steady_until([], datetime(2026, 11, 22, 10, 0), PARIS)


# --- usable stock ----------------------------------------------------------------------

def test_usable_quantity_counts_usable_lots_only():
    lots = [
        make_lot(1, on_hand="10"),                          # counts
        make_lot(2, on_hand="2.5", expires_in=0),           # expiring today: counts
        make_lot(3, on_hand="100", status="quarantined"),   # not usable
        make_lot(4, on_hand="100", status="recalled"),      # not usable
        make_lot(5, on_hand="100", expires_in=-1),          # expired yesterday
        make_lot(6, on_hand="100", multi_dose=True, opened_ago=days(30)),  # in-use over
        make_lot(7, on_hand="1.25", multi_dose=True, opened_ago=days(3)),  # counts
    ]
    assert usable_quantity(lots, NOW, PARIS) == Decimal("13.75")


def test_usable_quantity_of_no_lots_is_zero():
    assert usable_quantity([], NOW, PARIS) == Decimal("0")


def test_usable_quantity_refuses_lots_of_several_ingredients():
    with pytest.raises(ValueError):
        usable_quantity([make_lot(1, 1), make_lot(2, 2)], NOW, PARIS)


def test_usable_by_ingredient():
    lots = [make_lot(1, 1, on_hand="3"), make_lot(2, 1, on_hand="4"),
            make_lot(3, 2, on_hand="5", status="recalled")]
    assert usable_by_ingredient(lots, NOW, PARIS) == {1: Decimal("7"), 2: Decimal("0")}


@pytest.mark.parametrize("usable, reorder_level, low", [
    # below the reorder level
    ("4", "5", True),
    # at the reorder level is not below it
    ("5", "5", False),
    # above
    ("6", "5", False),
    # nothing usable and a reorder level
    ("0", "1", True),
    # no reorder level: never low, even with nothing usable
    ("0", None, False),
    # a reorder level of zero: nothing is below it
    ("0", "0", False),
])
def test_low_stock(usable, reorder_level, low):
    level = None if reorder_level is None else Decimal(reorder_level)
    assert low_stock(Decimal(usable), level) is low


# --- first expiry first ----------------------------------------------------------------

# Each case: the lots on the shelf, what is needed, and the picks expected as
# (lot_id, quantity, opens), in order.
PICK_CASES = [
    pytest.param(
        # one lot holds exactly what is needed
        [make_lot(1, on_hand="5")], {1: "5"},
        [(1, "5", False)], id="exact-fit-one-lot"),
    pytest.param(
        # the lot expiring first goes first, though received later
        [make_lot(1, expires_in=200, received_days_ago=60),
         make_lot(2, expires_in=100, received_days_ago=5)], {1: "3"},
        [(2, "3", False)], id="first-expiry-first"),
    pytest.param(
        # same expiry: the oldest receipt goes first
        [make_lot(1, expires_in=100, received_days_ago=5),
         make_lot(2, expires_in=100, received_days_ago=50)], {1: "3"},
        [(2, "3", False)], id="tie-on-expiry-oldest-receipt"),
    pytest.param(
        # same expiry, same receipt: the lowest lot id
        [make_lot(7, expires_in=100, received_days_ago=5),
         make_lot(3, expires_in=100, received_days_ago=5)], {1: "3"},
        [(3, "3", False)], id="tie-on-expiry-and-receipt-lowest-id"),
    pytest.param(
        # the first lot is short: split across two
        [make_lot(1, expires_in=10, on_hand="4"), make_lot(2, expires_in=20, on_hand="10")],
        {1: "6.5"},
        [(1, "4", False), (2, "2.5", False)], id="split-across-two"),
    pytest.param(
        # split across three, the last one partly
        [make_lot(1, expires_in=10, on_hand="1"), make_lot(2, expires_in=20, on_hand="2"),
         make_lot(3, expires_in=30, on_hand="10"), make_lot(4, expires_in=40, on_hand="10")],
        {1: "5"},
        [(1, "1", False), (2, "2", False), (3, "2", False)], id="split-across-three"),
    pytest.param(
        # need equals the sum of two lots: both emptied, the third untouched
        [make_lot(1, expires_in=10, on_hand="2"), make_lot(2, expires_in=20, on_hand="3"),
         make_lot(3, expires_in=30, on_hand="9")], {1: "5"},
        [(1, "2", False), (2, "3", False)], id="exact-fit-across-two"),
    pytest.param(
        # quarantined lot expiring first is skipped
        [make_lot(1, expires_in=10, status="quarantined"), make_lot(2, expires_in=20)],
        {1: "1"}, [(2, "1", False)], id="quarantined-skipped"),
    pytest.param(
        # recalled lot expiring first is skipped
        [make_lot(1, expires_in=10, status="recalled"), make_lot(2, expires_in=20)],
        {1: "1"}, [(2, "1", False)], id="recalled-skipped"),
    pytest.param(
        # expired yesterday: skipped
        [make_lot(1, expires_in=-1), make_lot(2, expires_in=20)],
        {1: "1"}, [(2, "1", False)], id="expired-yesterday-skipped"),
    pytest.param(
        # expiring today: usable, and first
        [make_lot(1, expires_in=0), make_lot(2, expires_in=20)],
        {1: "1"}, [(1, "1", False)], id="expiring-today-used-first"),
    pytest.param(
        # nothing on hand: skipped (no zero-quantity pick)
        [make_lot(1, expires_in=5, on_hand="0"), make_lot(2, expires_in=20)],
        {1: "1"}, [(2, "1", False)], id="zero-on-hand-skipped"),
    pytest.param(
        # opened multi-dose within its 28 days: used, not opened again
        [make_lot(1, multi_dose=True, opened_ago=days(20), expires_in=300)],
        {1: "1"}, [(1, "1", False)], id="opened-within-28-days"),
    pytest.param(
        # opened multi-dose past its 28 days: skipped; the fresh vial is opened
        [make_lot(1, multi_dose=True, opened_ago=days(29), expires_in=100),
         make_lot(2, multi_dose=True, expires_in=300)],
        {1: "1"}, [(2, "1", True)], id="opened-past-28-days-skipped"),
    pytest.param(
        # the ingredient's own 14 days: opened 13 days ago is still in use
        [make_lot(1, multi_dose=True, in_use_days=14, opened_ago=days(13))],
        {1: "1"}, [(1, "1", False)], id="own-in-use-14-days-within"),
    pytest.param(
        # the ingredient's own 14 days: opened 15 days ago is over
        [make_lot(1, multi_dose=True, in_use_days=14, opened_ago=days(15)),
         make_lot(2, multi_dose=True, in_use_days=14)],
        {1: "1"}, [(2, "1", True)], id="own-in-use-14-days-past"),
    pytest.param(
        # an opened vial printed to expire in 2 years but with 5 days of in-use period left
        # goes before an unopened lot expiring in 60 days
        [make_lot(1, multi_dose=True, expires_in=60),
         make_lot(2, multi_dose=True, expires_in=730, opened_ago=days(23), on_hand="2")],
        {1: "3"}, [(2, "2", False), (1, "1", True)], id="opened-vial-before-unopened-lot"),
    pytest.param(
        # an opened vial whose in-use period outlasts an unopened lot's expiry goes after it
        [make_lot(1, multi_dose=True, expires_in=3),
         make_lot(2, multi_dose=True, expires_in=730, opened_ago=days(1))],
        {1: "1"}, [(1, "1", True)], id="unopened-lot-expiring-sooner-first"),
    pytest.param(
        # several ingredients: picks ordered by ingredient id, whatever the need's order;
        # lots of an ingredient not needed are left alone
        [make_lot(1, 2, on_hand="5"), make_lot(2, 1, on_hand="5"), make_lot(3, 9)],
        {2: "1", 1: "2"}, [(2, "2", False), (1, "1", False)], id="several-ingredients"),
]


@pytest.mark.parametrize("lots, need, expected", PICK_CASES)
def test_pick_lots(lots, need, expected):
    need = {ingredient_id: Decimal(q) for ingredient_id, q in need.items()}
    by_id = {lot.lot_id: lot for lot in lots}
    picks = pick_lots(need, lots, NOW, PARIS)
    assert picks == tuple(
        Pick(lot_id=lot_id, ingredient_id=by_id[lot_id].ingredient_id,
             quantity=Decimal(q), opens=opens)
        for lot_id, q, opens in expected)
    # every ingredient gets exactly what it needs
    for ingredient_id, quantity in need.items():
        assert sum(p.quantity for p in picks if p.ingredient_id == ingredient_id) == quantity


@pytest.mark.parametrize("lots, need, expected", PICK_CASES)
def test_pick_lots_does_not_depend_on_the_order_of_the_lots(lots, need, expected):
    need = {ingredient_id: Decimal(q) for ingredient_id, q in need.items()}
    shuffled = list(lots)
    random.Random(6).shuffle(shuffled)
    assert pick_lots(need, shuffled, NOW, PARIS) == pick_lots(need, lots[::-1], NOW, PARIS)


@pytest.mark.parametrize("lots, need, shortfalls", [
    pytest.param(
        # three ingredients, one short: only that one is reported
        [make_lot(1, 1, on_hand="10"), make_lot(2, 2, on_hand="1.5"),
         make_lot(3, 3, on_hand="10")],
        {1: "5", 2: "4", 3: "5"}, {2: "2.5"}, id="one-short-of-three"),
    pytest.param(
        # two short: each reported with its own shortfall
        [make_lot(1, 1, on_hand="1"), make_lot(2, 2, on_hand="1"), make_lot(3, 3)],
        {1: "5", 2: "4", 3: "1"}, {1: "4", 2: "3"}, id="two-short"),
    pytest.param(
        # no lot at all: the whole need is short
        [make_lot(1, 1)], {1: "1", 4: "2"}, {4: "2"}, id="no-lot-at-all"),
    pytest.param(
        # stock that is not usable does not count toward the need
        [make_lot(1, 1, on_hand="3"), make_lot(2, 1, on_hand="50", status="quarantined"),
         make_lot(3, 1, on_hand="50", expires_in=-1),
         make_lot(4, 1, on_hand="50", multi_dose=True, opened_ago=days(28))],
        {1: "5"}, {1: "2"}, id="unusable-stock-does-not-count"),
    pytest.param(
        # short by a hair
        [make_lot(1, 1, on_hand="4.999")], {1: "5"}, {1: "0.001"}, id="short-by-a-hair"),
])
def test_pick_lots_refuses_all_when_any_ingredient_is_short(lots, need, shortfalls):
    need = {ingredient_id: Decimal(q) for ingredient_id, q in need.items()}
    with pytest.raises(InsufficientStock) as refused:
        pick_lots(need, lots, NOW, PARIS)
    assert refused.value.code == "insufficient_stock"
    assert refused.value.shortfalls == {i: Decimal(q) for i, q in shortfalls.items()}
    for ingredient_id in shortfalls:
        assert f"ingredient {ingredient_id} short by" in refused.value.message


@pytest.mark.parametrize("quantity", [Decimal("0"), Decimal("-1"), Decimal("-0.001")])
def test_pick_lots_refuses_a_need_of_zero_or_less(quantity):
    with pytest.raises(ValueError):
        pick_lots({1: Decimal("1"), 2: quantity}, [make_lot(1, 1), make_lot(2, 2)], NOW, PARIS)


def test_pick_lots_refuses_a_float_need():
    with pytest.raises(TypeError):
        pick_lots({1: 1.5}, [make_lot(1, 1)], NOW, PARIS)


def test_pick_lots_refuses_the_same_lot_twice():
    with pytest.raises(ValueError):
        pick_lots({1: Decimal("1")}, [make_lot(1), make_lot(1)], NOW, PARIS)


def test_pick_lots_refuses_a_naive_now():
    with pytest.raises(ValueError):
        pick_lots({1: Decimal("1")}, [make_lot(1)], datetime(2026, 11, 22, 10, 0), PARIS)


def test_pick_lots_with_nothing_needed_picks_nothing():
    assert pick_lots({}, [make_lot(1)], NOW, PARIS) == ()


def test_pick_lots_orders_by_instants_in_the_repeated_hour():
    # 2026-10-25 in Paris, 02:00-03:00 happens twice. Lot 1's in-use period ends at 02:45
    # the first time (00:45 UTC), lot 2's at 02:15 the second time (01:15 UTC): lot 1 ends
    # first although its wall-clock time reads later.
    now = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    first = datetime(2026, 10, 25, 0, 45, tzinfo=UTC) - timedelta(days=28)
    second = datetime(2026, 10, 25, 1, 15, tzinfo=UTC) - timedelta(days=28)
    lots = [
        LotStock(lot_id=lot_id, ingredient_id=1, lot_number=f"L{lot_id}",
                 expiry_date=date(2027, 6, 1), received_at=now - days(60),
                 on_hand=Decimal("1"), status="available", multi_dose=True,
                 opened_at=opened.astimezone(PARIS))
        for lot_id, opened in ((2, second), (1, first))
    ]
    assert [usable_until(lot, PARIS).strftime("%H:%M") for lot in lots] == ["02:15", "02:45"]
    picks = pick_lots({1: Decimal("1")}, lots, now, PARIS)
    assert [p.lot_id for p in picks] == [1]


# --- expiring soon ---------------------------------------------------------------------

def test_classify_expiring_lists_usable_lots_ending_within_n_days_soonest_first():
    lots = [
        make_lot(1, expires_in=90),                        # the 90th day: listed
        make_lot(2, expires_in=91),                        # the 91st day: not listed
        make_lot(3, expires_in=0),                         # today: listed, first
        make_lot(4, expires_in=30, status="quarantined"),  # not usable: not listed
        make_lot(5, expires_in=-1),                        # expired: not listed
        make_lot(6, expires_in=30, on_hand="0"),           # nothing on hand: not listed
        # opened vial expiring in 2 years, in-use period ends in 8 days: listed
        make_lot(7, multi_dose=True, expires_in=730, opened_ago=days(20)),
        make_lot(8, multi_dose=True, expires_in=400),      # unopened, far: not listed
    ]
    assert [lot.lot_id for lot in classify_expiring(lots, NOW, PARIS)] == [3, 7, 1]


@pytest.mark.parametrize("within_days, expected", [
    # 0: what ends today
    (0, [3]),
    # 7: the in-use period ending in 8 days is not yet in
    (7, [3]),
    # 8
    (8, [3, 7]),
    # 30
    (30, [3, 7, 4]),
])
def test_classify_expiring_within_days(within_days, expected):
    lots = [make_lot(3, expires_in=0), make_lot(4, expires_in=30), make_lot(5, expires_in=31),
            make_lot(7, multi_dose=True, expires_in=730, opened_ago=days(20))]
    found = classify_expiring(lots, NOW, PARIS, within_days=within_days)
    assert [lot.lot_id for lot in found] == expected


def test_classify_expiring_counts_days_in_the_clinic_zone():
    # 23:30 UTC on the 22nd is already the 23rd in Paris: "within 0 days" means the 23rd
    late = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    lots = [make_lot(1, expires_in=0), make_lot(2, expires_in=1), make_lot(3, expires_in=2)]
    assert [lot.lot_id for lot in classify_expiring(lots, late, PARIS, within_days=0)] == [2]


def test_classify_expiring_refuses_negative_days():
    with pytest.raises(ValueError):
        classify_expiring([make_lot()], NOW, PARIS, within_days=-1)


# --- the lot value itself --------------------------------------------------------------

def _lot_fields(**changes):
    fields = dict(lot_id=1, ingredient_id=1, lot_number="A1", expiry_date=TODAY,
                  received_at=NOW, on_hand=Decimal("1"), status="available")
    fields.update(changes)
    return fields


@pytest.mark.parametrize("changes, error", [
    # a status outside LOT_STATUSES ("expired" is read, never stored)
    ({"status": "expired"}, ValueError),
    # a float quantity
    ({"on_hand": 1.5}, TypeError),
    # a negative quantity on hand
    ({"on_hand": Decimal("-1")}, ValueError),
    # a naive receipt time
    ({"received_at": datetime(2026, 11, 22, 10, 0)}, ValueError),
    # a naive first draw
    ({"multi_dose": True, "opened_at": datetime(2026, 11, 22, 10, 0)}, ValueError),
    # an expiry given as a datetime
    ({"expiry_date": NOW}, TypeError),
    # an in-use period of zero days
    ({"multi_dose": True, "in_use_days": 0}, ValueError),
])
def test_lot_stock_refuses_bad_values(changes, error):
    with pytest.raises(error):
        LotStock(**_lot_fields(**changes))


def test_lot_stock_is_frozen():
    lot = LotStock(**_lot_fields())
    with pytest.raises(AttributeError):
        lot.on_hand = Decimal("2")


def test_lot_statuses():
    assert LOT_STATUSES == ("available", "quarantined", "recalled")

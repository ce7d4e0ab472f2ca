"""Usable stock and first-expiry-first lot picking (SPEC §4 and §7).

Pure rules over plain values: a service loads lot rows into ``LotStock`` values,
calls these functions, and writes what they return. Nothing here reads a clock:
the caller passes ``now`` (a timezone-aware datetime) and the clinic's time zone
``tz`` (a ``zoneinfo.ZoneInfo``), in which every expiry *date* is read.

Time rules, stated once:

- A lot is usable on its expiry date and expired from the next day: its expiry
  ends at midnight at the start of the following day in the clinic's zone, an
  exclusive end (``expiry_end``).
- A multi-dose lot is usable for its in-use period (28 days unless the
  ingredient has its own) from its first draw, and never past its expiry. The
  period is elapsed time (``n`` x 24 h) from ``opened_at``, so the answer does
  not depend on the zone ``opened_at`` happens to carry; across a change of
  clock the wall-clock end moves by an hour, and the vial is never used for more
  than ``n`` x 24 h.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from functools import cached_property

from formulary.domain.errors import InsufficientStock

LOT_STATUSES = ("available", "quarantined", "recalled")
#: No vial keeps this long: an expiry further ahead is a typing error (2062 for 2026).
MAX_SHELF_YEARS = 10
DEFAULT_IN_USE_DAYS = 28
DEFAULT_EXPIRING_WITHIN_DAYS = 90

ZERO = Decimal("0")


# --- checks shared by the rules (programming errors, not user refusals) -------------

def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _utc(value: datetime) -> datetime:
    # Two aware datetimes sharing one tzinfo compare by wall clock, ignoring ``fold``: in
    # the hour repeated when clocks go back, a later instant can read as earlier. Every
    # comparison of instants here is therefore made in UTC.
    return value.astimezone(timezone.utc)


def _require_tz(tz: tzinfo) -> None:
    if not isinstance(tz, tzinfo):
        raise TypeError(f"tz must be a tzinfo (e.g. zoneinfo.ZoneInfo), not {type(tz).__name__}")


def _require_decimal(value: Decimal, name: str) -> None:
    # Floats would carry binary rounding into the ledger; ints are refused too so that
    # every quantity has one type end to end.
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite number")


# --- the lot ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LotStock:
    """One lot as the stock rules see it.

    ``status`` is the stored status (``LOT_STATUSES``); being expired is read from the
    dates, never stored. ``in_use_days`` is the ingredient's own in-use period; ``None``
    means ``DEFAULT_IN_USE_DAYS``. ``in_use_days`` and ``opened_at`` only matter when
    ``multi_dose`` is true; ``opened_at`` is the first draw, ``None`` while unopened.
    """

    lot_id: int
    ingredient_id: int
    lot_number: str
    expiry_date: date
    received_at: datetime
    on_hand: Decimal
    status: str
    multi_dose: bool = False
    in_use_days: int | None = None
    opened_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.status not in LOT_STATUSES:
            raise ValueError(f"unknown lot status {self.status!r}; expected one of {LOT_STATUSES}")
        # A datetime is a date too; an expiry is a calendar date read in the clinic's zone.
        if not isinstance(self.expiry_date, date) or isinstance(self.expiry_date, datetime):
            raise TypeError("expiry_date must be a date (not a datetime)")
        _require_aware(self.received_at, "received_at")
        _require_decimal(self.on_hand, "on_hand")
        if self.on_hand < 0:
            raise ValueError(f"on_hand of lot {self.lot_number} is negative ({self.on_hand})")
        if self.in_use_days is not None and (
                isinstance(self.in_use_days, bool) or not isinstance(self.in_use_days, int)
                or self.in_use_days <= 0):
            raise ValueError("in_use_days must be a positive whole number of days, or None")
        if self.opened_at is not None:
            _require_aware(self.opened_at, "opened_at")

    @property
    def in_use_period(self) -> timedelta:
        """The in-use period once opened (meaningful for multi-dose lots only)."""
        days = DEFAULT_IN_USE_DAYS if self.in_use_days is None else self.in_use_days
        return timedelta(days=days)

    @cached_property
    def _in_use_end(self) -> datetime | None:
        # ``in_use_end``'s answer, kept in the instance's own dict (a cached_property
        # writes there, past the frozen dataclass's __setattr__); not a field, so
        # neither compared nor hashed
        if not self.multi_dose or self.opened_at is None:
            return None
        return add_elapsed(self.opened_at, self.in_use_period)


# --- when a lot stops being usable -----------------------------------------------------

def expiry_end(expiry_date: date, tz: tzinfo) -> datetime:
    """The instant a lot expiring on ``expiry_date`` stops being usable: midnight at the
    start of the following day in the clinic's zone (exclusive end).

    Should a zone skip or repeat midnight, the earliest reading is taken (``fold=0``),
    which is the first instant of that day.
    """
    _require_tz(tz)
    next_day = expiry_date + timedelta(days=1)
    return datetime.combine(next_day, time(0), tzinfo=tz)


def add_elapsed(start: datetime, duration: timedelta) -> datetime:
    """``start`` plus ``duration`` of elapsed time, in ``start``'s zone.

    Python adds a timedelta to an aware datetime on the wall clock; across a change of
    clock that is an hour off. Going through UTC adds real elapsed time.
    """
    _require_aware(start, "start")
    return (start.astimezone(timezone.utc) + duration).astimezone(start.tzinfo)


def in_use_end(lot: LotStock) -> datetime | None:
    """The end (exclusive) of an opened multi-dose lot's in-use period: ``opened_at`` plus
    its in-use period in elapsed time. ``None`` for a single-use lot or one not yet
    opened. Worked out once per ``LotStock`` (frozen: its fields cannot change)."""
    return lot._in_use_end


def usable_until(lot: LotStock, tz: tzinfo) -> datetime:
    """The lot's effective end (exclusive), in the clinic's zone: the earlier of the end
    of its expiry date and, once opened, the end of its in-use period."""
    end = expiry_end(lot.expiry_date, tz)
    opened_end = in_use_end(lot)
    if opened_end is not None and _utc(opened_end) < _utc(end):
        return opened_end.astimezone(tz)
    return end


def lot_state(lot: LotStock, now: datetime, tz: tzinfo) -> str:
    """The state a user reads for the lot at ``now``.

    ``quarantined`` and ``recalled`` win (a person put them there); then ``empty``
    (nothing on hand: there is nothing to use, whatever the dates); then ``expired``
    (past the end of its expiry date); then ``in_use_expired`` (an opened multi-dose lot
    past its in-use period); otherwise ``available``.
    """
    _require_aware(now, "now")
    if lot.status != "available":
        return lot.status
    if lot.on_hand <= 0:
        return "empty"
    if _utc(now) >= _utc(expiry_end(lot.expiry_date, tz)):
        return "expired"
    opened_end = in_use_end(lot)
    if opened_end is not None and _utc(now) >= _utc(opened_end):
        return "in_use_expired"
    return "available"


def steady_until(lots: Iterable[LotStock], now: datetime, tz: tzinfo) -> datetime:
    """The first instant after ``now`` at which what these rules say of the stock may
    change with the passing of time alone (not by anyone's action): the next midnight in
    the clinic's zone (a day ends: lots expire at the end of their expiry date, and
    every "within N days" moves), or, earlier, the end of an opened vial's in-use period.
    Until then, the state, usability and expiring-ness of every lot read at ``now``
    stay as they are."""
    _require_aware(now, "now")
    _require_tz(tz)
    end = expiry_end(_utc(now).astimezone(tz).date(), tz)
    for lot in lots:
        opened_end = in_use_end(lot)
        if opened_end is not None and _utc(now) < _utc(opened_end) < _utc(end):
            end = opened_end
    return end


def is_usable(lot: LotStock, now: datetime, tz: tzinfo) -> bool:
    """A lot can be drawn from at ``now``: available, not expired, within its in-use period
    once opened, and with something on hand."""
    return lot_state(lot, now, tz) == "available" and lot.on_hand > 0


def usable_each(lots: Iterable[LotStock], now: datetime, tz: tzinfo) -> list[bool]:
    """``[is_usable(lot, now, tz) for lot in lots]``, worked out for many lots at one
    instant: ``now`` checked and turned to UTC once, the end of each expiry date once
    per date. The same rule, in the same order, as ``lot_state``."""
    _require_aware(now, "now")
    _require_tz(tz)
    now_utc = _utc(now)
    ends: dict[date, datetime] = {}
    flags = []
    for lot in lots:
        if lot.status != "available" or lot.on_hand <= 0:
            flags.append(False)
            continue
        end = ends.get(lot.expiry_date)
        if end is None:
            end = ends[lot.expiry_date] = _utc(expiry_end(lot.expiry_date, tz))
        if now_utc >= end:
            flags.append(False)
            continue
        opened_end = in_use_end(lot)
        flags.append(opened_end is None or now_utc < _utc(opened_end))
    return flags


def usable_quantity(lots: Iterable[LotStock], now: datetime, tz: tzinfo) -> Decimal:
    """The usable stock of ONE ingredient: the sum on hand of its usable lots.

    Lots of several ingredients are refused (ValueError): their units need not agree. Use
    ``usable_by_ingredient`` for many ingredients at once.
    """
    lots = tuple(lots)
    if len({lot.ingredient_id for lot in lots}) > 1:
        raise ValueError("usable_quantity takes the lots of one ingredient; "
                         "use usable_by_ingredient for several")
    return sum((lot.on_hand for lot in lots if is_usable(lot, now, tz)), ZERO)


def usable_by_ingredient(lots: Iterable[LotStock], now: datetime,
                         tz: tzinfo) -> dict[int, Decimal]:
    """Usable stock per ingredient id. Every ingredient with a lot among ``lots`` appears,
    with ``Decimal(0)`` when none of its lots is usable."""
    totals: dict[int, Decimal] = {}
    for lot in lots:
        totals.setdefault(lot.ingredient_id, ZERO)
        if is_usable(lot, now, tz):
            totals[lot.ingredient_id] += lot.on_hand
    return totals


# --- first expiry first ----------------------------------------------------------------

@dataclass(frozen=True)
class Pick:
    """Take ``quantity`` from lot ``lot_id``. ``opens`` is true when this draw is the
    first from a multi-dose lot: the service then records ``opened_at``."""

    lot_id: int
    ingredient_id: int
    quantity: Decimal
    opens: bool


def fefo_key(lot: LotStock, tz: tzinfo) -> tuple:
    """The first-expiry-first order: effective end, then oldest receipt, then lot id."""
    return (_utc(usable_until(lot, tz)), _utc(lot.received_at), lot.lot_id)


def _format_quantity(value: Decimal) -> str:
    return format(value, "f")


def pick_lots(need: Mapping[int, Decimal], lots: Iterable[LotStock], now: datetime,
              tz: tzinfo) -> tuple[Pick, ...]:
    """Choose the lots to draw ``need`` (ingredient id -> quantity) from, first expiry first.

    For each ingredient, its usable lots (``is_usable`` at ``now``) are drawn in this
    order, splitting across lots where one is short:

    1. the lot's *effective* end, ``usable_until``: the end of its expiry date, or the
       end of its in-use period once a multi-dose lot is opened, whichever is first. An
       opened vial with 5 days of in-use period left goes before an unopened lot that
       expires in a year: that is first-expiry-first as a pharmacist means it, and it
       wastes less;
    2. then the oldest receipt (``received_at``);
    3. then the lowest ``lot_id``, so the answer never depends on the order of ``lots``.

    All or nothing: if any ingredient is short, ``InsufficientStock`` is raised with the
    shortfall (need minus usable stock) of every short ingredient, and only those, and no
    pick is returned. A need of zero or less is a programming error (ValueError); a need
    that is not a Decimal is refused with TypeError. The same ``lot_id`` twice in ``lots``
    is a ValueError (it would be counted twice). Lots of ingredients not in ``need`` are
    ignored.

    Picks come ordered by ingredient id, then in drawing order. Quantities are as given
    (no rounding).
    """
    _require_aware(now, "now")
    _require_tz(tz)
    for ingredient_id, quantity in need.items():
        _require_decimal(quantity, f"need for ingredient {ingredient_id}")
        if quantity <= 0:
            raise ValueError(f"need for ingredient {ingredient_id} must be positive, "
                             f"not {quantity}")

    seen: set[int] = set()
    by_ingredient: dict[int, list[LotStock]] = {ingredient_id: [] for ingredient_id in need}
    for lot in lots:
        if lot.lot_id in seen:
            raise ValueError(f"lot id {lot.lot_id} given twice")
        seen.add(lot.lot_id)
        if lot.ingredient_id in by_ingredient and is_usable(lot, now, tz):
            by_ingredient[lot.ingredient_id].append(lot)

    shortfalls: dict[int, Decimal] = {}
    for ingredient_id in sorted(need):
        usable = sum((lot.on_hand for lot in by_ingredient[ingredient_id]), ZERO)
        if usable < need[ingredient_id]:
            shortfalls[ingredient_id] = need[ingredient_id] - usable
    if shortfalls:
        detail = ", ".join(f"ingredient {ingredient_id} short by {_format_quantity(missing)}"
                           for ingredient_id, missing in shortfalls.items())
        raise InsufficientStock(f"Not enough usable stock: {detail}.", shortfalls=shortfalls)

    picks: list[Pick] = []
    for ingredient_id in sorted(need):
        remaining = need[ingredient_id]
        for lot in sorted(by_ingredient[ingredient_id], key=lambda lot: fefo_key(lot, tz)):
            take = min(remaining, lot.on_hand)
            picks.append(Pick(lot_id=lot.lot_id, ingredient_id=ingredient_id, quantity=take,
                              opens=lot.multi_dose and lot.opened_at is None))
            remaining -= take
            if remaining == 0:
                break
    return tuple(picks)


# --- stock reports ---------------------------------------------------------------------

def classify_expiring(lots: Iterable[LotStock], now: datetime, tz: tzinfo,
                      within_days: int = DEFAULT_EXPIRING_WITHIN_DAYS) -> tuple[LotStock, ...]:
    """The usable lots whose effective end (``usable_until``) falls within ``within_days``
    calendar days, soonest first (ties as in ``pick_lots``).

    "Within N days" counts calendar days in the clinic's zone, today included: a lot is
    listed when it stops being usable by the end of day ``today + N``. With N = 90 a lot
    expiring on today + 90 is listed, one expiring on today + 91 is not; N = 0 lists what
    ends today. An opened multi-dose lot is listed by the end of its in-use period.
    """
    _require_aware(now, "now")
    if isinstance(within_days, bool) or not isinstance(within_days, int) or within_days < 0:
        raise ValueError("within_days must be a whole number of days, zero or more")
    today = now.astimezone(tz).date()
    horizon = _utc(expiry_end(today + timedelta(days=within_days), tz))
    expiring = [lot for lot in lots
                if is_usable(lot, now, tz) and _utc(usable_until(lot, tz)) <= horizon]
    return tuple(sorted(expiring, key=lambda lot: fefo_key(lot, tz)))


def low_stock(usable: Decimal, reorder_level: Decimal | None) -> bool:
    """Usable stock is below the reorder level. No reorder level: never low."""
    _require_decimal(usable, "usable")
    if reorder_level is None:
        return False
    _require_decimal(reorder_level, "reorder_level")
    return usable < reorder_level


def expiry_too_far(expiry: date, today: date) -> bool:
    """True when ``expiry`` is more than ``MAX_SHELF_YEARS`` years after ``today`` (the
    clinic's): no vial keeps that long, the date was mistyped."""
    try:
        limit = today.replace(year=today.year + MAX_SHELF_YEARS)
    except ValueError:  # 29 February, ten years on a common year
        limit = today.replace(year=today.year + MAX_SHELF_YEARS, day=28)
    return expiry > limit

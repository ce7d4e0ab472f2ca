"""Reading stock: usable quantities, lots that may be drawn, on-hand totals.

The rules themselves are in ``formulary.domain.stock``; this module loads rows and hands
them to it, in a bounded number of statements whatever the amount of data:

- ``usable_quantities`` sums in SQL the lots whose usability the dates alone decide
  (available, something on hand, expiry date today or later in the clinic's zone, and not
  an opened multi-dose vial), and passes the few opened multi-dose lots through the
  domain's ``is_usable`` (their in-use period is elapsed time, which SQL dialects
  disagree on). ``tests/inventory/test_queries.py`` checks that this split agrees with
  the domain lot by lot.
- SQLite keeps ``Numeric`` as a float: sums are taken over integer micro-units there
  (exact for any quantity under 10^9 with 6 places), and as exact numerics on PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Iterable

from sqlalchemy import Integer, and_, cast, func, not_, or_, select
from sqlalchemy.orm import Session, joinedload

from formulary.db import is_sqlite
from formulary.domain.stock import LotStock, is_usable, lot_state
from formulary.inventory.models import Ingredient, Lot

ZERO = Decimal(0)
_MICRO = Decimal("0.000001")
_CHUNK = 500  # ids per IN list: far below every database's limit on parameters


def to_lot_stock(lot: Lot) -> LotStock:
    """A lot as the domain's stock rules see it (``lot.ingredient`` is read)."""
    ing = lot.ingredient
    return LotStock(lot_id=lot.id, ingredient_id=lot.ingredient_id, lot_number=lot.lot_number,
                    expiry_date=lot.expiry_date, received_at=lot.received_at,
                    on_hand=lot.quantity_on_hand, status=lot.status,
                    multi_dose=bool(ing.multi_dose), in_use_days=ing.in_use_days,
                    opened_at=lot.opened_at)


#: The columns ``lot_stock_from_row`` reads: enough for the stock rules, no ORM objects.
LOT_STOCK_COLUMNS = (Lot.id, Lot.ingredient_id, Lot.lot_number, Lot.expiry_date, Lot.received_at,
                     Lot.quantity_on_hand, Lot.status, Lot.opened_at, Ingredient.multi_dose,
                     Ingredient.in_use_days)


def lot_stock_from_row(row) -> LotStock:
    """A ``LotStock`` from a row of ``LOT_STOCK_COLUMNS`` (much cheaper than an object)."""
    return LotStock(lot_id=row.id, ingredient_id=row.ingredient_id, lot_number=row.lot_number,
                    expiry_date=row.expiry_date, received_at=row.received_at,
                    on_hand=row.quantity_on_hand, status=row.status,
                    multi_dose=bool(row.multi_dose), in_use_days=row.in_use_days,
                    opened_at=row.opened_at)


def today_in(now: datetime, tz: tzinfo) -> date:
    return now.astimezone(tz).date()


def lot_read_status(lot: Lot, now: datetime, tz: tzinfo) -> str:
    """What a person reads for a lot: its stored status, or ``expired`` past its expiry
    date, or ``in_use_expired`` for an opened multi-dose vial past its in-use period."""
    return lot_state(to_lot_stock(lot), now, tz)


def _chunks(ids: Iterable[int] | None):
    if ids is None:
        yield None
        return
    ids = sorted(set(ids))
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


def exact_sum(session: Session, column):
    """A SUM of a quantity column that reads back exactly (see the module docstring)."""
    if is_sqlite(session):
        return func.sum(cast(func.round(column * 1_000_000), Integer))
    return func.sum(column)


def _from_sum(sqlite: bool, value) -> Decimal:
    if value is None:
        return ZERO
    if sqlite:
        return (Decimal(int(value)) * _MICRO).normalize() + ZERO
    return Decimal(value).normalize() + ZERO


def _dated_usable(today: date):
    """Conditions shared by every usable lot that SQL can decide."""
    return and_(Lot.status == "available", Lot.quantity_on_hand > 0, Lot.expiry_date >= today)


def usable_quantities(session: Session, ingredient_ids: Iterable[int] | None, now: datetime,
                      tz: tzinfo) -> dict[int, Decimal]:
    """Usable stock per ingredient id, ``Decimal(0)`` for an ingredient with none.

    ``ingredient_ids=None`` means every ingredient (only those with usable stock appear
    then). Two statements per 500 ids.
    """
    today = today_in(now, tz)
    result: dict[int, Decimal] = {}
    if ingredient_ids is not None:
        result = {i: ZERO for i in ingredient_ids}
    sqlite = is_sqlite(session)
    opened_multi = and_(Ingredient.multi_dose.is_(True), Lot.opened_at.is_not(None))
    for chunk in _chunks(ingredient_ids):
        if chunk is not None and not chunk:
            continue
        # Grouped by ``ingredient_id + 0``: on the bare column SQLite walks the
        # (ingredient_id, expiry_date) index over every lot to save a sort; this way it
        # reads the covering ix_lot_usable range of lots not yet expired.
        group = (Lot.ingredient_id + 0) if chunk is None else Lot.ingredient_id
        stmt = (select(group, exact_sum(session, Lot.quantity_on_hand))
                .join(Ingredient, Ingredient.id == Lot.ingredient_id)
                .where(_dated_usable(today), not_(opened_multi))
                .group_by(group))
        opened = (select(*LOT_STOCK_COLUMNS).join(Ingredient, Ingredient.id == Lot.ingredient_id)
                  .where(_dated_usable(today), opened_multi))
        if chunk is not None:
            stmt = stmt.where(Lot.ingredient_id.in_(chunk))
            opened = opened.where(Lot.ingredient_id.in_(chunk))
        for ingredient_id, total in session.execute(stmt):
            result[ingredient_id] = result.get(ingredient_id, ZERO) + _from_sum(sqlite, total)
        for row in session.execute(opened):
            if is_usable(lot_stock_from_row(row), now, tz):
                result[row.ingredient_id] = result.get(row.ingredient_id, ZERO) + row.quantity_on_hand
    return result


def on_hand_quantities(session: Session, ingredient_ids: Iterable[int] | None) -> dict[int, Decimal]:
    """Quantity on hand per ingredient over all its lots, whatever their status."""
    result: dict[int, Decimal] = {}
    sqlite = is_sqlite(session)
    if ingredient_ids is not None:
        result = {i: ZERO for i in ingredient_ids}
    for chunk in _chunks(ingredient_ids):
        if chunk is not None and not chunk:
            continue
        stmt = (select(Lot.ingredient_id, exact_sum(session, Lot.quantity_on_hand))
                .where(Lot.quantity_on_hand > 0).group_by(Lot.ingredient_id))
        if chunk is not None:
            stmt = stmt.where(Lot.ingredient_id.in_(chunk))
        for ingredient_id, total in session.execute(stmt):
            result[ingredient_id] = _from_sum(sqlite, total)
    return result


def lots_for_ingredients(session: Session, ingredient_ids: Iterable[int]) -> list[Lot]:
    """The lots of these ingredients that may hold usable stock: status ``available``,
    something on hand, ordered by id, with their ingredient loaded. The caller decides
    usability at its own ``now`` with the domain (``to_lot_stock`` + ``is_usable``)."""
    ids = sorted(set(ingredient_ids))
    lots: list[Lot] = []
    for chunk in _chunks(ids):
        if not chunk:
            continue
        lots.extend(session.execute(
            select(Lot).options(joinedload(Lot.ingredient))
            .where(Lot.ingredient_id.in_(chunk), Lot.status == "available",
                   Lot.quantity_on_hand > 0)
            .order_by(Lot.id)).scalars())
    lots.sort(key=lambda lot: lot.id)
    return lots


def low_stock_ids(session: Session, now: datetime, tz: tzinfo) -> dict[int, Decimal]:
    """Ingredients whose usable stock is below their reorder level: id -> usable stock.
    Active ingredients only. Three statements."""
    levels = dict(session.execute(
        select(Ingredient.id, Ingredient.reorder_level)
        .where(Ingredient.reorder_level.is_not(None), Ingredient.active.is_(True))).all())
    if not levels:
        return {}
    usable = usable_quantities(session, None, now, tz)
    return {i: usable.get(i, ZERO) for i, level in levels.items() if usable.get(i, ZERO) < level}


def expiring_filter(now: datetime, tz: tzinfo, within_days: int):
    """Lots usable by their dates and expiring within ``within_days`` calendar days,
    today included (as ``domain.stock.classify_expiring`` counts them)."""
    today = today_in(now, tz)
    return and_(_dated_usable(today), Lot.expiry_date <= today + timedelta(days=within_days))


def status_filter(status: str, now: datetime, tz: tzinfo):
    """The condition for a status as read (``expired`` is an available lot past its date)."""
    today = today_in(now, tz)
    if status == "expired":
        return and_(Lot.status == "available", Lot.expiry_date < today)
    if status == "available":
        return and_(Lot.status == "available", Lot.expiry_date >= today)
    return Lot.status == status


def search_filter(q: str):
    like = f"%{q.strip().casefold()}%"
    return or_(func.lower(Lot.lot_number).like(like), Ingredient.name_key.like(like))


__all__ = ["exact_sum", "expiring_filter", "lot_read_status", "lots_for_ingredients",
           "low_stock_ids", "on_hand_quantities", "search_filter", "status_filter",
           "to_lot_stock", "today_in", "usable_quantities"]

"""The stock report (SPEC §8): sheets ``On hand``, ``Expiring``, ``Reorder``,
``Movements``, and two small sheets carrying native Excel charts (``By category``:
stock value by category; ``Expiry by month``: usable lots expiring per month).

Whether a lot is expired, opened past its in-use period, usable or expiring is decided
by ``formulary.domain.stock`` (written once); this module only loads rows and lays them
out. The ``On hand`` pass also adds up the two chart tables, which are written after it
(``write_workbook`` consumes the sheets in order), so the lots are read once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from formulary.auth.models import User
from formulary.compounding.models import Batch
from formulary.domain.errors import ValidationError
from formulary.domain.messages import msg
from formulary.domain.stock import (DEFAULT_EXPIRING_WITHIN_DAYS, LotStock, classify_expiring,
                                    is_usable, lot_state, usable_by_ingredient, usable_until)
from formulary.inventory.models import Ingredient, Lot, Movement
from formulary.inventory.queries import lot_stock_from_row
from formulary.reports.batch_log import YIELD_PER, local_bounds, person_name, stream
from formulary.reports.workbook import ChartSpec, Column, Sheet

MAX_EXPIRING_DAYS = 3650
ZERO = Decimal("0")

ON_HAND_COLUMNS = (
    Column("Ingredient", "text", 30),
    Column("Category", "label", 15, words=True),
    Column("Lot", "text", 16),
    Column("Expiry", "date"),
    Column("Status", "label", 18, words=True),
    Column("On hand", "decimal"),
    Column("Unit", "label", 7),
    Column("Unit cost", "money"),
    Column("Value", "money", 14, total=True),
)

EXPIRING_COLUMNS = (
    Column("Ingredient", "text", 30),
    Column("Category", "label", 15, words=True),
    Column("Lot", "text", 16),
    Column("Expiry", "date"),
    Column("Usable until", "datetime"),
    Column("Days left", "int", 10),
    Column("On hand", "decimal"),
    Column("Unit", "label", 7),
    Column("Value", "money", 14, total=True),
)

REORDER_COLUMNS = (
    Column("Ingredient", "text", 30),
    Column("Category", "label", 15, words=True),
    Column("Usable", "decimal"),
    Column("Reorder level", "decimal", 14),
    Column("Shortfall", "decimal"),
    Column("Unit", "label", 7),
)

MOVEMENT_COLUMNS = (
    Column("At", "datetime"),
    Column("Ingredient", "text", 30),
    Column("Lot", "text", 16),
    Column("Kind", "label", 15, words=True),
    Column("Reason", "label", 16, words=True),
    Column("Quantity", "decimal"),
    Column("Balance after", "decimal", 14),
    Column("Unit", "label", 7),
    Column("By", "text", 20),
    Column("Batch number", "label", 18),
    Column("Note", "text", 40),
)

CATEGORY_COLUMNS = (
    Column("Category", "label", 18, words=True),
    Column("Lots", "int"),
    Column("Stock value", "money", 14, total=True),
)

EXPIRY_MONTH_COLUMNS = (
    Column("Month", "label", 10),
    Column("Lots expiring", "int", 14),
    Column("Value", "money", 14, total=True),
)


@dataclass(frozen=True)
class StockReportQuery:
    now: datetime
    expiring_within_days: int = DEFAULT_EXPIRING_WITHIN_DAYS
    movements_from: date | None = None
    movements_to: date | None = None


def check_expiring_days(days: int | None, field_name: str = "expiring_within_days") -> int:
    if days is None:
        return DEFAULT_EXPIRING_WITHIN_DAYS
    if not 0 <= days <= MAX_EXPIRING_DAYS:
        raise ValidationError(msg("Give a number of days from 0 to %(days)s.",
                                  days=MAX_EXPIRING_DAYS),
                              field=field_name)
    return days


def _lots_statement() -> Select:
    return (
        select(Lot.id, Lot.ingredient_id, Lot.lot_number, Lot.expiry_date, Lot.received_at,
               Lot.quantity_on_hand, Lot.status, Lot.opened_at, Lot.unit_cost,
               Ingredient.name, Ingredient.category, Ingredient.unit, Ingredient.multi_dose,
               Ingredient.in_use_days)
        .join(Ingredient, Ingredient.id == Lot.ingredient_id)
        .where(Lot.quantity_on_hand > 0)
        .order_by(Ingredient.name_key, Lot.expiry_date, Lot.id)
    )


def last_usable_day(lot: LotStock, tz: tzinfo) -> date:
    """The last calendar day (clinic's zone) on which the lot can be used."""
    until = usable_until(lot, tz).astimezone(tz)
    day = until.date()
    return day - timedelta(days=1) if until.time() == time(0) else day


def _value(on_hand: Decimal, unit_cost: Decimal | None) -> Decimal | None:
    return None if unit_cost is None else (on_hand * unit_cost).quantize(Decimal("0.01"))


@dataclass
class _Tally:
    """What the ``On hand`` pass adds up for the chart sheets."""

    by_category: dict[str, list] = field(default_factory=lambda: defaultdict(lambda: [0, ZERO]))
    by_month: dict[str, list] = field(default_factory=lambda: defaultdict(lambda: [0, ZERO]))


def _on_hand_rows(session: Session, q: StockReportQuery, tz: tzinfo, tally: _Tally) -> Iterator:
    for row in stream(session, _lots_statement()):
        lot = lot_stock_from_row(row)
        value = _value(row.quantity_on_hand, row.unit_cost)
        cat = tally.by_category[row.category]
        cat[0] += 1
        cat[1] += value or ZERO
        if is_usable(lot, q.now, tz):
            month = last_usable_day(lot, tz)
            bucket = tally.by_month[f"{month.year:04d}-{month.month:02d}"]
            bucket[0] += 1
            bucket[1] += value or ZERO
        yield (row.name, row.category, row.lot_number, row.expiry_date,
               lot_state(lot, q.now, tz), row.quantity_on_hand, row.unit, row.unit_cost, value)


def _expiring_rows(session: Session, q: StockReportQuery, tz: tzinfo) -> Iterator:
    rows = {row.id: row for row in session.execute(
        _lots_statement().where(Lot.status == "available"))}
    lots = classify_expiring((lot_stock_from_row(r) for r in rows.values()), q.now, tz,
                             q.expiring_within_days)
    today = q.now.astimezone(tz).date()
    for lot in lots:
        row = rows[lot.lot_id]
        yield (row.name, row.category, row.lot_number, row.expiry_date, usable_until(lot, tz),
               (last_usable_day(lot, tz) - today).days, row.quantity_on_hand, row.unit,
               _value(row.quantity_on_hand, row.unit_cost))


def reorder_rows(session: Session, now: datetime, tz: tzinfo) -> list[tuple]:
    """Active ingredients whose usable stock is below their reorder level: ``(name,
    category, usable, reorder level, shortfall, unit)``, biggest shortfall first within
    name order. Two queries."""
    ingredients = session.execute(
        select(Ingredient.id, Ingredient.name, Ingredient.category, Ingredient.unit,
               Ingredient.reorder_level, Ingredient.multi_dose, Ingredient.in_use_days)
        .where(Ingredient.active.is_(True), Ingredient.reorder_level.is_not(None))
        .order_by(Ingredient.name_key)).all()
    if not ingredients:
        return []
    lots = session.execute(
        _lots_statement().where(Lot.status == "available",
                                Lot.ingredient_id.in_([i.id for i in ingredients]))).all()
    usable = usable_by_ingredient((lot_stock_from_row(r) for r in lots), now, tz)
    out = []
    for ing in ingredients:
        have = usable.get(ing.id, ZERO)
        if have < ing.reorder_level:
            out.append((ing.name, ing.category, have, ing.reorder_level,
                        ing.reorder_level - have, ing.unit))
    return out


def _movements_statement(start: date, end: date, tz: tzinfo) -> Select:
    lo, hi = local_bounds(start, end, tz)
    by = aliased(User)
    return (
        select(Movement.at, Ingredient.name, Lot.lot_number, Movement.kind, Movement.reason,
               Movement.quantity_delta, Movement.balance_after, Ingredient.unit, person_name(by),
               Batch.batch_number, Movement.note)
        .join(Lot, Lot.id == Movement.lot_id)
        .join(Ingredient, Ingredient.id == Lot.ingredient_id)
        .outerjoin(by, by.id == Movement.user_id)
        .outerjoin(Batch, Batch.id == Movement.batch_id)
        .where(Movement.at >= lo, Movement.at < hi)
        .order_by(Movement.at, Movement.id)
    )


def stock_report_sheets(session: Session, q: StockReportQuery, tz: tzinfo) -> list[Sheet]:
    """The sheets of the stock report. ``On hand`` and ``Movements`` stream; the other
    lists are a clinic's lots and ingredients, small by nature."""
    tally = _Tally()
    start, end = q.movements_from, q.movements_to
    movements = (stream(session, _movements_statement(start, end, tz), YIELD_PER)
                 if start is not None and end is not None else iter(()))
    return [
        Sheet("On hand", ON_HAND_COLUMNS, _on_hand_rows(session, q, tz, tally)),
        Sheet("Expiring", EXPIRING_COLUMNS, _expiring_rows(session, q, tz)),
        Sheet("Reorder", REORDER_COLUMNS, reorder_rows_lazy(session, q.now, tz)),
        Sheet("Movements", MOVEMENT_COLUMNS, movements),
        Sheet("By category", CATEGORY_COLUMNS,
              _tally_rows(tally.by_category),
              charts=(ChartSpec("Stock value by category", 1, (3,), anchor="E2",
                                horizontal=True, y_title="Value"),)),
        Sheet("Expiry by month", EXPIRY_MONTH_COLUMNS,
              _month_rows(tally.by_month, q.now.astimezone(tz).date()),
              charts=(ChartSpec("Usable lots expiring per month", 1, (2,), anchor="E2",
                                x_title="Month", y_title="Lots"),)),
    ]


def _tally_rows(d: dict) -> Iterator[tuple]:
    # A generator: the tally is read when its sheet is written, after the On hand pass.
    for key, (n, value) in sorted(d.items()):
        yield key, n, value


def months_between(first: str, last: str) -> list[str]:
    """Every month ``YYYY-MM`` from ``first`` to ``last``, both included."""
    year, month = map(int, first.split("-"))
    end = tuple(map(int, last.split("-")))
    out = []
    while (year, month) <= end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _month_rows(by_month: dict, today: date) -> Iterator[tuple]:
    """The months from this one to the last in which a usable lot expires, those in
    which none does included (zero lots): the chart's axis is then a time line, and a
    month with nothing to use up reads as such instead of vanishing."""
    if not by_month:
        return
    first = min(f"{today.year:04d}-{today.month:02d}", min(by_month))
    for month in months_between(first, max(by_month)):
        n, value = by_month.get(month, (0, ZERO))
        yield month, n, value


def reorder_rows_lazy(session: Session, now: datetime, tz: tzinfo) -> Iterator[tuple]:
    yield from reorder_rows(session, now, tz)


def filename(q: StockReportQuery, tz: tzinfo) -> str:
    return f"stock-report_{q.now.astimezone(tz).date().isoformat()}.xlsx"

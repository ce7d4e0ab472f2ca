"""Reading stock: usable quantities, lots that may be drawn, on-hand totals.

The rules themselves are in ``formulary.domain.stock``; this module loads rows and hands
them to it, in a bounded number of statements whatever the amount of data:

- ``on_hand_quantities`` reads the total per ingredient that ``inventory.totals`` keeps
  (the sum of its lots' on hand, whatever their status or dates).
- ``usable_quantities`` is that total less the stock of the lots that are not plainly
  usable: the lots holding stock that are not ``available`` or past their expiry date
  in the clinic's zone (summed per ingredient by the database), and the opened
  multi-dose vials past their in-use period. Those vials (the ``ix_lot_in_stock``
  partial index holds only lots with stock) are decided by the domain
  (``usable_each``: ``is_usable`` for each; an in-use period is elapsed time, which SQL
  dialects disagree on). Every other lot with stock is usable by the dates alone.
  ``tests/inventory/test_pages.py`` checks this against the domain lot by lot.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Iterable

from sqlalchemy import Date, Numeric, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, joinedload

from formulary.domain.stock import LotStock, lot_state, usable_each
from formulary.domain.text import text_key
from formulary.inventory import totals
from formulary.inventory.models import Ingredient, IngredientStock, Lot
from formulary.db import DriverSelect, is_sqlite, rows_of
from formulary.inventory.sums import ZERO, chunked, exact_sum, from_sum


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


def _dated_usable(today: date):
    """Conditions shared by every usable lot that SQL can decide."""
    return and_(Lot.status == "available", Lot.quantity_on_hand > 0, Lot.expiry_date >= today)


#: Lots holding stock that their status or their expiry date alone make unusable
#: (quarantined, recalled, past their date; the clinic's date is the parameter ``today``):
#: summed by the database. The statements below are built once: building them costs
#: more per request than SQLite takes to run them.
_UNUSABLE_BY_RECORD = and_(
    Lot.quantity_on_hand > 0,
    or_(Lot.status != "available", Lot.expiry_date < bindparam("today", type_=Date)))

#: The opened multi-dose vials that status and dates leave usable: whether each is still
#: within its in-use period is elapsed time (which SQL dialects disagree on), decided one
#: by one by the domain. The same rows tell when the stock next changes by time alone
#: (``domain.stock.steady_until``) and where each falls in the expiry chart.
_OPENED_VIALS = (
    select(*LOT_STOCK_COLUMNS, Lot.unit_cost).join(Ingredient, Ingredient.id == Lot.ingredient_id)
    .where(Lot.quantity_on_hand > 0, Lot.status == "available",
           Lot.expiry_date >= bindparam("today", type_=Date),
           Lot.opened_at.is_not(None), Ingredient.multi_dose.is_(True)))
_IDS = bindparam("ids", expanding=True)
_OPENED_VIALS_OF = _OPENED_VIALS.where(Lot.ingredient_id.in_(_IDS))
_UNUSABLE_SUMS: dict[tuple[bool, bool], object] = {}


def _unusable_sums(session: Session, of_ids: bool):
    """SUM per ingredient of the stock ``_UNUSABLE_BY_RECORD`` holds (one statement per
    dialect and shape, built once)."""
    key = (is_sqlite(session), of_ids)
    if key not in _UNUSABLE_SUMS:
        statement = (select(Lot.ingredient_id, exact_sum(session, Lot.quantity_on_hand))
                     .where(_UNUSABLE_BY_RECORD)
                     .group_by(Lot.ingredient_id))
        if of_ids:
            statement = statement.where(Lot.ingredient_id.in_(_IDS))
        _UNUSABLE_SUMS[key] = statement
    return _UNUSABLE_SUMS[key]


def opened_vials(session: Session, today: date, ingredient_ids: list[int] | None = None
                 ) -> list[tuple[LotStock, Decimal | None]]:
    """The opened multi-dose vials holding stock that are available and not past their
    expiry date on ``today``, with their unit cost: the only lots whose usability
    depends on more than their status and dates. One statement (``ingredient_ids``: at
    most ``sums.CHUNK`` of them)."""
    params = {"today": today} if ingredient_ids is None else {"today": today, "ids": ingredient_ids}
    rows, decoders = _VIALS_READ[ingredient_ids is not None].rows(session, params)
    global _VIALS_BUILT
    built = _VIALS_BUILT
    vials, kept = [], {}
    for raw in map(tuple, rows):  # plain tuples: hashed and compared in C
        # the driver's values as they came (none decoded yet): a key equal to a row read
        # before decodes to the same values (the columns' types are the statement's, the
        # same on every read). Decimals are keyed by their spelling too ("1.0" and
        # "1.00" are equal but read differently).
        key = (raw, *(repr(raw[i]) for i in _NUMERIC_AT))
        vial = built.get(key)
        if vial is None:
            row = _VialRow._make(value if decode is None else decode(value)
                                 for decode, value in zip(decoders, raw))
            vial = (lot_stock_from_row(row), row.unit_cost)
        kept[key] = vial
        vials.append(vial)
    if ingredient_ids is None:
        _VIALS_BUILT = kept  # the newest full read only: bounded by the vials in stock
    return vials


#: The ``(LotStock, unit cost)`` built from each row of the last full read of the opened
#: vials, by the row's exact values as the driver gave them (the key above): decoding a
#: row (dates, instants and Decimals from text and floats on SQLite) and building a
#: ``LotStock`` (its checks) cost more than reading the row, and most vials are
#: unchanged from one read to the next. Only a row equal in every value and spelling
#: finds one: what it holds is a pure function of that row, so it is never stale (a
#: changed vial is a new key); nothing is kept but values, and each worker keeps only
#: its newest read.
_VIALS_BUILT: dict[tuple, tuple[LotStock, Decimal | None]] = {}
_VIAL_COLUMNS = (*LOT_STOCK_COLUMNS, Lot.unit_cost)
_VialRow = namedtuple("_VialRow", [c.key for c in _VIAL_COLUMNS])
_NUMERIC_AT = tuple(i for i, c in enumerate(_VIAL_COLUMNS) if isinstance(c.type, Numeric))


#: The opened vials' statements (all of them; those of some ingredients), their rows
#: read as the driver gives them, with the decoders SQLAlchemy would apply.
_VIALS_READ = {False: DriverSelect(_OPENED_VIALS), True: DriverSelect(_OPENED_VIALS_OF)}


def unusable_on_hand(session: Session, ingredient_ids: Iterable[int] | None, now: datetime,
                     tz: tzinfo, *, vials: list | None = None,
                     usable: list[bool] | None = None) -> dict[int, Decimal]:
    """Stock on hand that may not be used, per ingredient (only those with some): lots
    quarantined or recalled, expired (summed by the database), or opened multi-dose vials
    past their in-use period (decided one by one by the domain). Two statements per 500
    ids; one when ``vials``, what ``opened_vials(session, today)`` read for every
    ingredient at this date, is given (``ingredient_ids`` must then be ``None``), with
    ``usable``, when given, ``usable_each`` of those vials at ``now``."""
    if vials is not None and ingredient_ids is not None:
        raise ValueError("vials are every ingredient's: ask for every ingredient")
    today = today_in(now, tz)
    sqlite = is_sqlite(session)
    result: dict[int, Decimal] = {}
    for chunk in chunked(ingredient_ids):
        params = {"today": today} if chunk is None else {"today": today, "ids": chunk}
        for ingredient_id, amount in rows_of(session, _unusable_sums(session, chunk is not None), params):
            result[ingredient_id] = from_sum(sqlite, amount)
        read = vials if vials is not None else opened_vials(session, today, chunk)
        lots = [lot for lot, _cost in read]
        flags = usable if vials is not None and usable is not None else usable_each(lots, now, tz)
        for lot, ok in zip(lots, flags):
            if not ok:
                result[lot.ingredient_id] = result.get(lot.ingredient_id, ZERO) + lot.on_hand
    return result


def stock_quantities(session: Session, ingredient_ids: Iterable[int] | None, now: datetime,
                     tz: tzinfo) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """(on hand, usable stock) per ingredient id, ``Decimal(0)`` for an ingredient with
    none; ``ingredient_ids=None`` means every ingredient (only those with some stock
    appear then). Two statements per 500 ids."""
    if ingredient_ids is not None:
        ingredient_ids = list(ingredient_ids)
    on_hand = on_hand_quantities(session, ingredient_ids)
    usable = dict(on_hand)
    for ingredient_id, unusable in unusable_on_hand(session, ingredient_ids, now, tz).items():
        usable[ingredient_id] = usable.get(ingredient_id, ZERO) - unusable
    return on_hand, usable


def usable_quantities(session: Session, ingredient_ids: Iterable[int] | None, now: datetime,
                      tz: tzinfo) -> dict[int, Decimal]:
    """Usable stock per ingredient id, ``Decimal(0)`` for an ingredient with none.

    ``ingredient_ids=None`` means every ingredient (only those with usable stock appear
    then). Two statements per 500 ids.
    """
    usable = stock_quantities(session, ingredient_ids, now, tz)[1]
    if ingredient_ids is None:
        usable = {i: q for i, q in usable.items() if q > 0}
    return usable


def on_hand_quantities(session: Session, ingredient_ids: Iterable[int] | None) -> dict[int, Decimal]:
    """Quantity on hand per ingredient over all its lots, whatever their status (the
    totals ``inventory.totals`` keeps). One statement per 500 ids."""
    return totals.on_hand(session, ingredient_ids)


def lots_for_ingredients(session: Session, ingredient_ids: Iterable[int]) -> list[Lot]:
    """The lots of these ingredients that may hold usable stock: status ``available``,
    something on hand, ordered by id, with their ingredient loaded. The caller decides
    usability at its own ``now`` with the domain (``to_lot_stock`` + ``is_usable``)."""
    ids = sorted(set(ingredient_ids))
    lots: list[Lot] = []
    for chunk in chunked(ids):
        lots.extend(session.execute(
            select(Lot).options(joinedload(Lot.ingredient))
            .where(Lot.ingredient_id.in_(chunk), Lot.status == "available",
                   Lot.quantity_on_hand > 0)
            .order_by(Lot.id)).scalars())
    lots.sort(key=lambda lot: lot.id)
    return lots


def stock_levels(session: Session, now: datetime, tz: tzinfo, *, vials: list | None = None,
                 usable: list[bool] | None = None) -> tuple[dict[int, tuple[Decimal, Decimal]], int]:
    """The low-stock ingredients (active, with a reorder level, usable stock below it) as
    id -> (usable stock, reorder level), and the number of ingredients with usable stock.
    ``stock_levels_named`` without the names."""
    low, with_stock, _names = stock_levels_named(session, now, tz, vials=vials, usable=usable)
    return low, with_stock


#: An ingredient as a list of low stock names it.
IngredientName = namedtuple("IngredientName", ["id", "name", "unit"])


def stock_levels_named(session: Session, now: datetime, tz: tzinfo, *,
                       vials: list | None = None, usable: list[bool] | None = None
                       ) -> tuple[dict[int, tuple[Decimal, Decimal]], int, dict[int, IngredientName]]:
    """``(low, with_stock, names)``: the low-stock ingredients (active, with a reorder
    level, usable stock below it) as id -> (usable stock, reorder level), the number of
    ingredients with usable stock, and each low ingredient's ``IngredientName``. Three
    statements (two when ``vials``, as ``unusable_on_hand`` takes them with ``usable``, is
    given), whose rows grow with the low-stock ingredients and the lots not plainly
    usable, not with the stock: the candidates carry their names and the number of
    ingredients with stock on hand (read alone when there is no candidate).

    Usable stock is at most the total on hand, so an ingredient is low only if its total
    is below its level or some of its stock is not usable: only those are read.
    """
    unusable = unusable_on_hand(session, None, now, tz, vials=vials, usable=usable)
    rows = rows_of(session, _LOW_CANDIDATES, {"ids": sorted(unusable)}).all()
    low: dict[int, tuple[Decimal, Decimal]] = {}
    names: dict[int, IngredientName] = {}
    emptied = 0  # ingredients with a total on hand but nothing usable
    for ingredient_id, level, active, on_hand, name, unit, _with_total in rows:
        on_hand = Decimal(on_hand)
        usable = on_hand - unusable.get(ingredient_id, ZERO)
        if on_hand > 0 and usable <= 0:
            emptied += 1
        if active and level is not None and usable < level:
            low[ingredient_id] = (usable, level)
            names[ingredient_id] = IngredientName(ingredient_id, name, unit)
    with_total = rows[0][-1] if rows else rows_of(session, _WITH_TOTAL).scalar_one()
    return low, with_total - emptied, names


#: The ingredients that may be low: active with a reorder level above their total on
#: hand, or holding stock that may not be used (``ids``, bound at execution; none: an
#: empty list, which matches nothing), each with its name and unit and, on every row, the
#: number of ingredients with stock on hand (``_WITH_TOTAL``). Built once, as the others
#: above.
_STOCKED = func.coalesce(IngredientStock.on_hand, 0)
_WITH_TOTAL = select(func.count()).select_from(IngredientStock).where(IngredientStock.on_hand > 0)
_LOW_CANDIDATES = (
    select(Ingredient.id, Ingredient.reorder_level, Ingredient.active, _STOCKED,
           Ingredient.name, Ingredient.unit,
           _WITH_TOTAL.correlate(None).scalar_subquery())  # every ingredient's, not the row's
    .outerjoin(IngredientStock, IngredientStock.ingredient_id == Ingredient.id)
    .where(or_(and_(Ingredient.active.is_(True), Ingredient.reorder_level.is_not(None),
                    _STOCKED < Ingredient.reorder_level),
               Ingredient.id.in_(bindparam("ids", expanding=True)))))


def low_stock_ids(session: Session, now: datetime, tz: tzinfo) -> dict[int, Decimal]:
    """Ingredients whose usable stock is below their reorder level: id -> usable stock.
    Active ingredients only."""
    return {i: usable for i, (usable, _level) in stock_levels(session, now, tz)[0].items()}


def expiring_filter(now: datetime, tz: tzinfo, within_days: int):
    """Lots usable by their dates and expiring within ``within_days`` calendar days,
    today included (as ``domain.stock.classify_expiring`` counts them)."""
    today = today_in(now, tz)
    return expiring_between(today, today + timedelta(days=within_days))


def expiring_between(today, until):
    """Lots usable by their dates on ``today`` whose expiry date is at most ``until``
    (dates, or bound parameters of type ``Date``)."""
    return and_(_dated_usable(today), Lot.expiry_date <= until)


def status_filter(status: str, now: datetime, tz: tzinfo):
    """The condition for a status as read (``domain.stock.lot_state``): ``empty`` is an
    available lot with nothing on hand, ``expired`` one with stock past its date."""
    today = today_in(now, tz)
    if status == "empty":
        return and_(Lot.status == "available", Lot.quantity_on_hand <= 0)
    if status == "expired":
        return and_(Lot.status == "available", Lot.quantity_on_hand > 0, Lot.expiry_date < today)
    if status == "available":
        return and_(Lot.status == "available", Lot.quantity_on_hand > 0, Lot.expiry_date >= today)
    return Lot.status == status


def search_filter(q: str):
    like = f"%{text_key(q)}%"  # the names' own key: "CAFE\u0301INE" finds "Caféine"
    return or_(func.lower(Lot.lot_number).like(like), Ingredient.name_key.like(like))


__all__ = ["expiring_between", "expiring_filter", "lot_read_status", "lots_for_ingredients",
           "low_stock_ids", "on_hand_quantities", "search_filter", "status_filter", "stock_levels",
           "stock_levels_named", "IngredientName",
           "stock_quantities", "to_lot_stock", "today_in", "unusable_on_hand", "usable_quantities"]


LOT_STATUS_ACTIONS = {"lot.quarantine": "quarantined", "lot.release": "released",
                      "lot.recall": "recalled"}


def lot_status_history(session, lot_id: int) -> list:
    """The status changes of a lot (quarantine, release, recall), oldest first, with who,
    when and the reason: read from the audit log, which keeps every one of them (a change
    is written there by ``lots.set_lot_status`` in the same transaction)."""
    from formulary.audit.models import AuditEntry  # the audit area sits beside inventory

    return list(session.execute(
        select(AuditEntry).where(AuditEntry.object_type == "lot",
                                 AuditEntry.object_id == str(lot_id),
                                 AuditEntry.action.in_(tuple(LOT_STATUS_ACTIONS)))
        .order_by(AuditEntry.seq)).scalars())

"""Weekly usage per ingredient (``WeeklyUsage``), kept by the ledger as it writes.

The dashboard's usage chart shows what batches drew of each ingredient in each of the
last 12 weeks. Summed from the ledger at view time that is every batch_use movement of
12 weeks (about 100,000 in a busy clinic's year: 400 ms); kept here, 12 rows per
ingredient.

- whenever the session flushes a new ``batch_use`` movement, it is noted on the session;
- just before the outermost transaction commits (after the stock totals, whose row
  locks already queue writers of the same ingredients), the noted movements that are
  still in the session (a savepoint rolled back expunges its new objects) are added to
  their (ingredient, week) rows by one upsert, keys in ascending order: ``INSERT ... ON
  CONFLICT DO UPDATE SET quantity_micro = quantity_micro + excluded...``, whole numbers
  added by the database, exact on both databases, and atomic against another writer of
  the same row (PostgreSQL locks the row; SQLite has one writer).

The week is the clinic's (Monday to Sunday in ``CLINIC_TIMEZONE``), of the movement's
``at``. Movements are append-only, so a row only ever grows. Bulk loads that bypass the
session (the year-scale generator, the benchmarks' fills) call :func:`rebuild`;
:func:`check_usage` compares every row with a sum from the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy import delete, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from formulary import clock
from formulary.inventory.models import Lot, Movement, WeeklyUsage
from formulary.session_hooks import install_hooks

_NOTED = "formulary_usage_noted"   # new batch_use movements of this transaction
MICRO = Decimal(1_000_000)


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def week_of(at, tz: tzinfo) -> date:
    """The clinic's week (its Monday) of an aware instant."""
    return week_start(at.astimezone(tz).date())


def to_micro(quantity: Decimal) -> int:
    """A drawn quantity (positive) in whole millionths."""
    return int((quantity * MICRO).to_integral_value())


def from_micro(value: int) -> Decimal:
    return (Decimal(int(value)) / MICRO).normalize() + Decimal(0)


def _note(session: Session, _flush_context) -> None:
    """``after_flush``: note the new batch_use movements."""
    for obj in session.new:
        if isinstance(obj, Movement) and obj.kind == "batch_use":
            session.info.setdefault(_NOTED, []).append(obj)


def _add_noted(session: Session) -> None:
    """``before_commit`` (the outermost): add the noted movements to their weeks."""
    if session.in_nested_transaction():
        return
    session.flush()
    noted = session.info.pop(_NOTED, None)
    if not noted:
        return
    kept = [m for m in noted if inspect(m).persistent]
    if not kept:
        return
    tz = clock.clinic_tz()
    lot_ids = {m.lot_id for m in kept}
    ingredient_of = dict(session.execute(
        select(Lot.id, Lot.ingredient_id).where(Lot.id.in_(sorted(lot_ids)))).all())
    sums: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
    for m in kept:
        entry = sums[(ingredient_of[m.lot_id], week_of(m.at, tz))]
        entry[0] += to_micro(-m.quantity_delta)
        entry[1] += 1
    add(session, sums)


def add(session: Session, sums: dict[tuple[int, date], list[int]]) -> None:
    """Add ``{(ingredient_id, week_start): [quantity_micro, draws]}`` to the rows, made
    when missing; keys in ascending order (one statement)."""
    if not sums:
        return
    rows = [{"ingredient_id": i, "week_start": w, "quantity_micro": q, "draws": d}
            for (i, w), (q, d) in sorted(sums.items())]
    dialect = session.get_bind().dialect.name
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    stmt = insert(WeeklyUsage)
    stmt = stmt.on_conflict_do_update(
        index_elements=[WeeklyUsage.ingredient_id, WeeklyUsage.week_start],
        set_={"quantity_micro": WeeklyUsage.quantity_micro + stmt.excluded.quantity_micro,
              "draws": WeeklyUsage.draws + stmt.excluded.draws})
    session.execute(stmt.values(rows))


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_NOTED, None)


def install(session_class) -> None:
    """Hook the weekly usage onto a Session class (called by ``totals.install`` in its
    place: after the totals' recomputation, before the audit chain's lock)."""
    install_hooks(session_class, "weekly_usage", after_flush=_note, before_commit=_add_noted,
                  after_transaction_end=_forget)


def ledger_sums(session: Session, tz: tzinfo) -> dict[tuple[int, date], list[int]]:
    """Every (ingredient, week)'s batch use summed from the ledger (read in Python: the
    week is the clinic's, a time zone the databases do not share a way to spell)."""
    sums: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
    rows = session.execute(
        select(Lot.ingredient_id, Movement.at, Movement.quantity_delta)
        .join(Lot, Lot.id == Movement.lot_id).where(Movement.kind == "batch_use")
        .execution_options(yield_per=5000))
    for ingredient_id, at, delta in rows:
        entry = sums[(ingredient_id, week_of(at, tz))]
        entry[0] += to_micro(-delta)
        entry[1] += 1
    return dict(sums)


def rebuild(session: Session) -> None:
    """Every row again from the ledger (after a bulk load that bypassed the session)."""
    session.execute(delete(WeeklyUsage))
    sums = ledger_sums(session, clock.clinic_tz())
    keys = sorted(sums)
    for i in range(0, len(keys), 1000):
        add(session, {k: sums[k] for k in keys[i:i + 1000]})


@dataclass(frozen=True)
class UsageProblem:
    ingredient_id: int
    week_start: date
    recorded: tuple[int, int]
    ledger: tuple[int, int]

    def __str__(self) -> str:
        return (f"ingredient {self.ingredient_id}, week of {self.week_start}: recorded "
                f"{self.recorded} vs ledger {self.ledger} (millionths, draws)")


def check_usage(session: Session) -> list[UsageProblem]:
    """Every (ingredient, week) whose recorded usage differs from the ledger's sum."""
    ledger = {k: tuple(v) for k, v in ledger_sums(session, clock.clinic_tz()).items()}
    recorded = {(i, w): (q, d) for i, w, q, d in session.execute(
        select(WeeklyUsage.ingredient_id, WeeklyUsage.week_start, WeeklyUsage.quantity_micro,
               WeeklyUsage.draws))}
    return [UsageProblem(i, w, recorded.get((i, w), (0, 0)), ledger.get((i, w), (0, 0)))
            for i, w in sorted(set(ledger) | set(recorded))
            if recorded.get((i, w), (0, 0)) != ledger.get((i, w), (0, 0))]

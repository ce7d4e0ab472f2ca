"""Stock on hand per ingredient (``IngredientStock``) and the stock revision
(``StockRevision``), kept whole at every commit.

The ledger changes lots; this module keeps the total of each ingredient equal to the sum
of its lots' on hand, so that the pages that summarise the whole stock room (the
dashboard, low stock) read one row per ingredient instead of summing every lot:

- whenever the session flushes a lot (new, changed or deleted: the ledger's movements,
  a status change, a test's factory), its ingredient is noted on the session;
- just before the outermost transaction commits, the totals of the noted ingredients
  are recomputed from their lots, their rows locked in ascending id order (``refresh``).

The same commit gives the stock revision a new random token when the flushes wrote a lot,
a movement or an ingredient: what is built from the stock and kept between requests
(``inventory.panel_cache``) is valid for one token only. A random token (not a counter)
never comes back, even after a restore, except with the data it was drawn for.

Recomputing, rather than adding each movement's quantity, keeps the totals right through
savepoints that rolled back (a noted ingredient whose lots did not change is simply
recomputed to the same value) and through writers that raced: the row lock puts the
recomputations of one ingredient in commit order, and each one reads (a new statement,
so a new snapshot under READ COMMITTED on PostgreSQL; SQLite has one writer) what every
earlier writer committed. Bulk loads that bypass the session (the year-scale generator, the
benchmarks' fills) call ``rebuild``; ``check_totals`` reports any total that differs
from its lots, beside ``ledger.check_books``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from typing import Iterable

import uuid

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.orm import Session

from formulary.db import is_sqlite, rows_of, utcnow
from formulary.inventory import usage
from formulary.inventory.models import Ingredient, IngredientStock, Lot, Movement, StockRevision
from formulary.inventory.sums import ZERO, chunked, exact_sum, from_sum
from formulary.session_hooks import install_hooks

_NOTED = "formulary_stock_noted"      # ingredient ids whose total to recompute
_CHANGED = "formulary_stock_changed"  # the stock room changed: a new revision at commit
_STOCK_OBJECTS = (Lot, Movement, Ingredient)


def _note_flushed_lots(session: Session, _flush_context) -> None:
    """``after_flush``: note the ingredient of every lot the flush wrote, and whether it
    wrote anything of the stock room."""
    for obj in chain(session.new, session.dirty, session.deleted):
        if not isinstance(obj, _STOCK_OBJECTS):
            continue
        session.info[_CHANGED] = True
        if isinstance(obj, Lot):
            noted = session.info.setdefault(_NOTED, set())
            noted.add(obj.ingredient_id)
            # a lot moved to another ingredient leaves the old one's total to redo too
            noted.update(inspect(obj).attrs.ingredient_id.history.deleted or ())
        elif isinstance(obj, Ingredient) and obj in session.new:
            # its total's row is made by the transaction that makes the ingredient, which
            # no other can race: every later change then finds a row to lock
            session.info.setdefault(_NOTED, set()).add(obj.id)


def has_changes(session: Session) -> bool:
    """Whether this transaction has changed the stock room (flushed or not)."""
    return bool(session.info.get(_CHANGED) or any(
        isinstance(obj, _STOCK_OBJECTS) for obj in chain(session.new, session.dirty, session.deleted)))


def _refresh_noted(session: Session) -> None:
    """``before_commit``, ahead of the audit chain's: recompute the noted totals (the
    outermost commit only)."""
    if session.in_nested_transaction():
        return  # a savepoint: the transaction's own commit recomputes
    session.flush()
    noted = session.info.pop(_NOTED, None)
    if noted:
        refresh(session, noted)


def _renew_revision(session: Session) -> None:
    """``before_commit``, after the audit chain's (whose lock every change of the stock
    holds then): a new stock revision if the stock room changed."""
    if session.in_nested_transaction():
        return
    if session.info.pop(_CHANGED, False) or has_changes(session):
        new_revision(session)


def _forget(session: Session, transaction) -> None:
    """``after_transaction_end``: the outermost transaction ended (committed: already
    done; rolled back: nothing to do). A savepoint's end keeps what was noted before it
    (``after_rollback`` would not do: it fires for a savepoint rolled back too)."""
    if transaction.parent is None:
        session.info.pop(_NOTED, None)
        session.info.pop(_CHANGED, None)


def new_revision(session: Session) -> None:
    """Give the stock revision a new token. Any new token will do (the last committed
    wins): a kept panel is only kept under the token it read both before and after it was
    built."""
    values = {"token": uuid.uuid4().hex, "changed_at": utcnow()}
    if session.execute(update(StockRevision).where(StockRevision.id == 1).values(**values)).rowcount == 0:
        session.execute(insert(StockRevision).values(id=1, **values))


_REVISION = select(StockRevision.token).where(StockRevision.id == 1)


def revision(session: Session) -> str | None:
    """The current stock revision's token (``None`` before the first change)."""
    return rows_of(session, _REVISION).scalar()


def install(session_class, audit_install) -> None:
    """Hook the totals onto a Session class (once), around the audit chain's hooks
    (``audit_install``, called here): the totals are recomputed before the audit chain
    takes its lock, the revision renewed after. Locks are therefore always taken in
    one order: lots (during the request), totals rows (ascending ids), batches (ascending
    ids) and the batch tally's row (``compounding.tally``), the audit chain's lock, the
    revision's row; no two transactions can wait for each other in a circle."""
    if not install_hooks(session_class, "stock_totals", after_flush=_note_flushed_lots,
                         before_commit=_refresh_noted):
        return
    usage.install(session_class)  # the weekly usage, under the totals' row locks
    from formulary.compounding import tally

    tally.install(session_class)  # the outstanding batches: their rows, then the tally's
    audit_install(session_class)
    install_hooks(session_class, "stock_revision", before_commit=_renew_revision,
                  after_transaction_end=_forget)


def lot_sums(session: Session, ingredient_ids: list[int] | None) -> dict[int, Decimal]:
    """The sum of the lots' on hand per ingredient (only ingredients with some stock)."""
    sqlite = is_sqlite(session)
    result: dict[int, Decimal] = {}
    for chunk in chunked(ingredient_ids):
        stmt = (select(Lot.ingredient_id, exact_sum(session, Lot.quantity_on_hand))
                .where(Lot.quantity_on_hand > 0).group_by(Lot.ingredient_id))
        if chunk is not None:
            stmt = stmt.where(Lot.ingredient_id.in_(chunk))
        result.update((i, from_sum(sqlite, total)) for i, total in session.execute(stmt))
    return result


def refresh(session: Session, ingredient_ids: Iterable[int]) -> None:
    """Recompute the totals of these ingredients from their lots (flushed changes).

    Their rows are locked first, in ascending id order (``SELECT ... FOR UPDATE`` on
    PostgreSQL; SQLite has one writer), and the lots summed after: a transaction that
    changed lots of the same ingredient and recomputed its total before us has committed
    by the time we hold the row, and the sum, a new statement (so a new snapshot under
    READ COMMITTED), counts its lots. Transactions of other ingredients do not wait."""
    ids = sorted({i for i in ingredient_ids if i is not None})
    if not ids:
        return
    for chunk in chunked(ids):
        kept = set(session.execute(
            select(IngredientStock.ingredient_id).where(IngredientStock.ingredient_id.in_(chunk))
            .order_by(IngredientStock.ingredient_id).with_for_update()).scalars())
        sums = lot_sums(session, chunk)
        rows = [{"ingredient_id": i, "on_hand": sums.get(i, ZERO)} for i in chunk]
        changed = [r for r in rows if r["ingredient_id"] in kept]
        new = [r for r in rows if r["ingredient_id"] not in kept]
        if changed:
            session.execute(update(IngredientStock), changed)
        if new:
            session.execute(insert(IngredientStock), new)


def on_hand(session: Session, ingredient_ids: Iterable[int] | None) -> dict[int, Decimal]:
    """Quantity on hand per ingredient, from the totals. ``None``: every ingredient that
    holds something; otherwise every id asked, zero when it holds nothing.

    A transaction that changed lots and reads before committing gets its own changes:
    the ingredients it noted are summed from their lots (read only: the totals are
    written, and their rows locked, at its commit).
    """
    session.flush()
    noted = session.info.get(_NOTED)
    result: dict[int, Decimal] = {}
    if ingredient_ids is not None:
        result = {i: ZERO for i in ingredient_ids}
    for chunk in chunked(ingredient_ids):
        result.update(session.execute(_HOLDING).all() if chunk is None
                      else session.execute(_OF, {"ids": chunk}).all())
    if noted:
        mine = sorted(i for i in noted if i is not None
                      and (ingredient_ids is None or i in result))
        sums = lot_sums(session, mine)
        for i in mine:
            if sums.get(i, ZERO) > 0 or ingredient_ids is not None:
                result[i] = sums.get(i, ZERO)
            else:
                result.pop(i, None)
    return result


_TOTALS = select(IngredientStock.ingredient_id, IngredientStock.on_hand)
_HOLDING = _TOTALS.where(IngredientStock.on_hand > 0)
_OF = _TOTALS.where(IngredientStock.ingredient_id.in_(bindparam("ids", expanding=True)))


def rebuild(session: Session) -> None:
    """Recompute every ingredient's total and renew the revision (after a bulk load that
    bypassed the session)."""
    refresh(session, session.execute(select(Ingredient.id)).scalars().all())
    new_revision(session)


@dataclass(frozen=True)
class TotalProblem:
    ingredient_id: int
    recorded: Decimal
    lots: Decimal

    def __str__(self) -> str:
        return (f"ingredient {self.ingredient_id}: total on hand {self.recorded} "
                f"vs its lots {self.lots}")


def check_totals(session: Session) -> list[TotalProblem]:
    """Every ingredient whose recorded total differs from the sum of its lots."""
    sums = lot_sums(session, None)
    recorded = dict(session.execute(select(IngredientStock.ingredient_id, IngredientStock.on_hand)).all())
    q = Decimal("0.000001")
    return [TotalProblem(i, recorded.get(i, ZERO), sums.get(i, ZERO))
            for i in sorted(set(sums) | set(recorded))
            if recorded.get(i, ZERO).quantize(q) != sums.get(i, ZERO).quantize(q)]

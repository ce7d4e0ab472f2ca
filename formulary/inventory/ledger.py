"""The stock ledger: the only code that changes a lot's quantity.

Every change is a ``Movement`` carrying the signed quantity and the balance after it;
``Lot.quantity_on_hand`` is kept equal to the sum of the lot's movements and never goes
below zero (a CHECK constraint backs this up).

Concurrency: the caller locks the lots it will change with ``lock_lots`` before reading
their balance. On PostgreSQL that is ``SELECT ... FOR UPDATE`` in ascending id order (a
fixed order, so two transactions cannot deadlock on the same lots); on SQLite the whole
write transaction began with ``BEGIN IMMEDIATE`` (see ``formulary/db.py``), so no other
writer runs between the read and the write. The arithmetic is done in ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from formulary.db import utcnow
from formulary.domain.errors import InsufficientStock, ValidationError
from formulary.domain.messages import msg
from formulary.domain.units import MAX_MAGNITUDE, MAX_QUANTITY_TEXT
from formulary.inventory.models import ADJUSTMENT_REASONS, MOVEMENT_KINDS, Lot, Movement
from formulary.inventory.totals import TotalProblem, check_totals


def lock_lots(session: Session, lot_ids: Iterable[int]) -> dict[int, Lot]:
    """Load and lock the given lots, in ascending id order; return them by id.

    The rows are re-read (``populate_existing``) so that the balance is the one committed
    by whoever held the lock before us, not a stale copy from the session.

    On PostgreSQL the lock is ``FOR NO KEY UPDATE`` (a stock change never changes a lot's
    key): writers of stock still queue behind each other, but not behind a transaction
    that merely inserts a row naming the lot (a batch line, an administration line, a
    movement: the foreign key's check holds ``FOR KEY SHARE`` on the lot). With ``FOR
    UPDATE``, an administration writing its lines in the batch's order and a preparation
    locking the same lots in id order deadlocked (the load test, 6 December: one 503).
    """
    ids = sorted(set(lot_ids))
    if not ids:
        return {}
    stmt = (select(Lot).where(Lot.id.in_(ids)).order_by(Lot.id)
            .with_for_update(key_share=True).execution_options(populate_existing=True))
    return {lot.id: lot for lot in session.execute(stmt).scalars()}


def post_movement(session: Session, lot: Lot, delta: Decimal, kind: str, actor, *,
                  reason: str | None = None, note: str = "", batch_id: int | None = None,
                  at: datetime | None = None) -> Movement:
    """Append one movement to a locked lot's ledger and move its balance.

    Refuses (``InsufficientStock``) a change that would take the lot below zero; nothing
    is written then.
    """
    if not isinstance(delta, Decimal) or delta == 0:
        raise ValueError("a movement needs a non-zero Decimal quantity")
    if kind not in MOVEMENT_KINDS:
        raise ValueError(f"unknown movement kind {kind!r}")
    if kind == "adjustment" and reason not in ADJUSTMENT_REASONS:
        raise ValidationError(msg("Choose a reason: %(choices)s.",
                                  choices=", ".join(ADJUSTMENT_REASONS)), field="reason")
    balance = lot.quantity_on_hand + delta
    if balance < 0:
        raise InsufficientStock(
            msg("Lot %(lot)s holds %(on_hand)s; taking %(taken)s would leave it below zero.",
                lot=lot.lot_number, on_hand=lot.quantity_on_hand, taken=-delta),
            shortfalls={lot.ingredient_id: -balance}, field="quantity_delta")
    if balance >= MAX_MAGNITUDE:
        # Each typed amount is in range, but receiving a lot again adds to it: its
        # balance keeps the same bound (SPEC §3 "Range"; SQLite stores it exactly).
        raise ValidationError(
            msg("Lot %(lot)s would hold %(balance)s: a lot holds at most %(maximum)s.",
                lot=lot.lot_number, balance=balance, maximum=MAX_QUANTITY_TEXT),
            field="quantity_delta" if kind == "adjustment" else "quantity")
    lot.quantity_on_hand = balance
    movement = Movement(lot=lot, kind=kind, reason=reason, quantity_delta=delta,
                        balance_after=balance, note=note or "", batch_id=batch_id,
                        user_id=getattr(actor, "id", None), at=at or utcnow())
    session.add(movement)
    return movement


def ledger_sum(session: Session, lot_id: int) -> Decimal:
    total = session.execute(
        select(func.coalesce(func.sum(Movement.quantity_delta), 0)).where(Movement.lot_id == lot_id)
    ).scalar_one()
    return Decimal(str(total)).quantize(Decimal("0.000001"))


@dataclass(frozen=True)
class BookProblem:
    lot_id: int
    on_hand: Decimal
    ledger: Decimal

    def __str__(self) -> str:
        return f"lot {self.lot_id}: on hand {self.on_hand} vs ledger {self.ledger}"


def check_books(session: Session) -> list[BookProblem | TotalProblem]:
    """Every lot whose on-hand quantity differs from the sum of its ledger (or is
    negative), then every ingredient whose total on hand differs from its lots'."""
    sums = dict(session.execute(
        select(Movement.lot_id, func.sum(Movement.quantity_delta)).group_by(Movement.lot_id)).all())
    problems = []
    q = Decimal("0.000001")
    for lot_id, on_hand in session.execute(select(Lot.id, Lot.quantity_on_hand)):
        ledger = Decimal(str(sums.get(lot_id, 0))).quantize(q)
        if on_hand.quantize(q) != ledger or on_hand < 0:
            problems.append(BookProblem(lot_id, on_hand, ledger))
    return problems + check_totals(session)

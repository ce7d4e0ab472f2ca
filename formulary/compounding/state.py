"""A batch's effective state (SPEC §12), read from the database.

The rule is ``domain.batch_state``; this module gives it a batch's facts (its lines' lots
are loaded with the batch by ``queries.batch_options``, so a page of batches costs no
statement more) and says the same thing in SQL for the list filter and the dashboard
counts. ``tests/compounding/test_state.py`` checks that both agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, false, not_, select

from formulary.compounding.models import Batch, BatchLine
from formulary.db import utcnow
from formulary.domain.batch_state import HELD_LOT_STATUSES, STATES, BatchState, LotFact, batch_state
from formulary.domain.errors import InvalidState
from formulary.inventory.models import Lot


def lot_facts(batch: Batch) -> list[LotFact]:
    return [LotFact(line.lot.lot_number, line.lot.status, line.ingredient.name)
            for line in batch.lines]


def state_of(batch: Batch, now: datetime | None = None) -> BatchState:
    """The effective state of a loaded batch now."""
    return batch_state(status=batch.status, beyond_use_at=batch.beyond_use_at,
                       now=now or utcnow(), doses=batch.doses, lots=lot_facts(batch))


def held_clause():
    """SQL: the batch used a lot that is now quarantined or recalled."""
    return exists(select(BatchLine.id).join(Lot, Lot.id == BatchLine.lot_id).where(
        BatchLine.batch_id == Batch.id, Lot.status.in_(HELD_LOT_STATUSES)))


def state_clause(state: str, now: datetime):
    """SQL for ``state_of(batch, now).state == state`` (no administrations yet: nothing
    is given, so ``given`` and ``partly_given`` match no batch)."""
    if state not in STATES:
        raise ValueError(state)
    live = Batch.status != "discarded"
    if state == "discarded":
        return Batch.status == "discarded"
    if state in ("given", "partly_given"):
        return false()
    if state == "on_hold":
        return and_(live, held_clause())
    if state == "expired":
        return and_(live, not_(held_clause()), Batch.beyond_use_at <= now)
    return and_(Batch.status == state, not_(held_clause()), Batch.beyond_use_at > now)


def check_usable(batch: Batch, action: str, now: datetime | None = None) -> BatchState:
    """Refuse ``action`` (e.g. "verified") on an expired or on-hold batch: 409
    ``invalid_state`` with the reason. Called at the start of verify (and later of
    administer), before anything is written."""
    result = state_of(batch, now)
    if result.state in ("expired", "on_hold"):
        raise InvalidState(f"Batch {batch.batch_number} is {result.state.replace('_', ' ')} and "
                           f"cannot be {action}. {result.reason}")
    return result

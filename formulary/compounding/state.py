"""A batch's effective state (SPEC §12), read from the database.

The rule is ``domain.batch_state``; this module gives it a batch's facts (its lines' lots
are loaded with the batch by ``queries.batch_options``, so a page of batches costs no
statement more) and says the same thing in SQL for the list filter and the dashboard
counts. ``tests/compounding/test_state.py`` checks that both agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, not_, select

from formulary.compounding.models import Batch, BatchLine
from formulary.db import utcnow
from formulary.domain.batch_state import HELD_LOT_STATUSES, STATES, BatchState, LotFact, batch_state
from formulary.domain.errors import InvalidState
from formulary.domain.messages import msg
from formulary.inventory.models import Lot


def lot_facts(batch: Batch) -> list[LotFact]:
    return [LotFact(line.lot.lot_number, line.lot.status, line.ingredient.name)
            for line in batch.lines]


def held_lot_facts(batch: Batch) -> list[LotFact]:
    """``lot_facts`` of the lots now held (quarantined, recalled) only: all that
    ``batch_state`` looks at among a batch's lots (a recall trace's API works out the
    state of 178 batches of 1,521 lines: a fact for every line was a tenth of it)."""
    return [LotFact(line.lot.lot_number, line.lot.status, line.ingredient.name)
            for line in batch.lines if line.lot.status in HELD_LOT_STATUSES]


def state_of(batch: Batch, now: datetime | None = None) -> BatchState:
    """The effective state of a loaded batch now."""
    return batch_state(status=batch.status, beyond_use_at=batch.beyond_use_at,
                       now=now or utcnow(), doses=batch.doses, lots=held_lot_facts(batch),
                       doses_given=doses_given(batch))


def state_with_lots(batch, lots, now: datetime) -> BatchState:
    """``state_of`` with the batch's lots given apart (``LotFact``s): every lot it used,
    or only those now held (``rows.held_lots_of``), which decide the same state, reason
    and held lots (``batch_state`` looks at no other)."""
    return batch_state(status=batch.status, beyond_use_at=batch.beyond_use_at, now=now,
                       doses=batch.doses, lots=lots, doses_given=doses_given(batch))


def doses_given(batch: Batch) -> int:
    """The doses administered from the batch (``Batch.doses_given``, a column read with
    the batch, defined beside the administrations in ``courses.models``)."""
    return int(getattr(batch, "doses_given", 0) or 0)


def held_clause():
    """SQL: the batch used a lot that is now quarantined or recalled."""
    return exists(select(BatchLine.id).join(Lot, Lot.id == BatchLine.lot_id).where(
        BatchLine.batch_id == Batch.id, Lot.status.in_(HELD_LOT_STATUSES)))


def state_clause(state: str, now: datetime):
    """SQL for ``state_of(batch, now).state == state``, with the doses given summed from
    the administrations in the same statement (``Batch.doses_given``)."""
    if state not in STATES:
        raise ValueError(state)
    given = Batch.doses_given
    live = Batch.status != "discarded"
    if state == "discarded":
        return Batch.status == "discarded"
    if state == "given":
        return and_(live, given >= Batch.doses)
    left = and_(live, given < Batch.doses)
    if state == "on_hold":
        return and_(left, held_clause())
    if state == "expired":
        return and_(left, not_(held_clause()), Batch.beyond_use_at <= now)
    fresh = and_(left, not_(held_clause()), Batch.beyond_use_at > now)
    if state == "partly_given":
        return and_(fresh, given > 0)
    return and_(fresh, given == 0, Batch.status == state)


def check_usable(batch: Batch, action: str, now: datetime | None = None) -> BatchState:
    """Refuse ``action`` (a word, e.g. ``msg("verified")``) on an expired or on-hold batch: 409
    ``invalid_state`` with the reason. Called by verify before anything is written
    (administration refuses the same states with its own codes, ``courses.administrations``)."""
    result = state_of(batch, now)
    if result.state == "expired":
        raise InvalidState(msg("Batch %(number)s is expired and cannot be %(action)s. %(reason)s",
                               number=batch.batch_number, action=action, reason=result.reason))
    if result.state == "on_hold":
        raise InvalidState(msg("Batch %(number)s is on hold and cannot be %(action)s. %(reason)s",
                               number=batch.batch_number, action=action, reason=result.reason))
    return result

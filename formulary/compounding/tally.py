"""The outstanding batches (``Batch.outstanding``, ``BatchTally``), kept at every commit.

A batch is *outstanding* while it has doses left to give, no lot on hold and is not
discarded (``domain.batch_state.OUTSTANDING_STATES``: prepared, verified, partly given or
expired). The dashboard's "expired, not given" is the outstanding batches past their
beyond-use instant: counted at view time that is every batch of the clinic's history
(50,000 in a busy year: 17 ms on SQLite); kept here, it is the tally less the outstanding
batches still within their beyond-use instant, which are few (an index range of the
recent ones): constant work whatever the history.

- whenever the session flushes a batch, an administration or a batch line, the batch is
  noted on the session; a lot whose status changed (quarantine, recall, release) notes
  every batch made from it at commit;
- just before the outermost transaction commits (after the stock totals and the weekly
  usage, before the audit chain's lock), the noted batches are locked in ascending id
  order (PostgreSQL; a change of a lot's status locks the lot's batches before the lot,
  ``lock_batches_of_lots``, as an administration does) and their flag is worked out again from the database by two
  ``UPDATE``s (``outstanding_clause``: false -> true, true -> false); the tally row is
  moved by the difference of the two row counts.

The same row keeps the number of batches in all (``total``, the batch list's total when
no filter is given): the batches the session inserted are noted at each flush, and at
commit those still there (a savepoint rolled back takes its own) move it, in the same
``UPDATE`` as the outstanding ones.

Recomputing from the database, rather than reasoning about each change, keeps the flags
right through savepoints rolled back (a noted batch that did not change is recomputed
to the same value) and through writers that raced: the batch rows' locks put the
recomputations of one batch in commit order, and each ``UPDATE`` is a new statement (a
new snapshot under READ COMMITTED) that reads what every earlier writer committed. The
tally row is only ever moved by a difference (``outstanding = outstanding + n``), so
writers of different batches add up. A batch deleted (tests, never the app) has the tally
counted again from the flags. Bulk loads that bypass the session call :func:`rebuild`;
:func:`check_tally` reports a flag or a tally that differs from a recount.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, inspect, not_, or_, select, update
from sqlalchemy.orm import Session

from formulary.compounding.models import Batch, BatchLine, BatchTally
from formulary.compounding.state import held_clause
from formulary.courses.models import Administration
from formulary.inventory.models import Lot
from formulary.inventory.sums import chunked
from formulary.session_hooks import install_hooks

_BATCHES = "formulary_tally_batches"  # batch ids whose flag to work out again
_LOTS = "formulary_tally_lots"        # lots whose status changed: their batches too
_RECOUNT = "formulary_tally_recount"  # a batch was deleted: count the flags again
_NEW = "formulary_tally_new"          # batch ids inserted: the total of batches


def outstanding_clause():
    """SQL: the batch is outstanding (not discarded, doses left, no lot on hold); the
    doses given summed in the same statement (``Batch.doses_given``)."""
    return and_(Batch.status != "discarded", Batch.doses_given < Batch.doses, not_(held_clause()))


def _noted(session: Session, key: str) -> set:
    return session.info.setdefault(key, set())


def _before_flush(session: Session, _context, _instances) -> None:
    """A batch about to be deleted: the tally is counted again at commit."""
    if any(isinstance(obj, Batch) for obj in session.deleted):
        session.info[_RECOUNT] = True


def _after_flush(session: Session, _context) -> None:
    """Note the batches whose flag the flush may have changed."""
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Batch):
            if obj not in session.deleted:
                _noted(session, _BATCHES).add(obj.id)
            if obj in session.new:
                _noted(session, _NEW).add(obj.id)
        elif isinstance(obj, (Administration, BatchLine)):
            batch_ids = _noted(session, _BATCHES)
            batch_ids.add(obj.batch_id)
            batch_ids.update(inspect(obj).attrs.batch_id.history.deleted or ())
        elif isinstance(obj, Lot) and inspect(obj).attrs.status.history.has_changes():
            _noted(session, _LOTS).add(obj.id)


def note_batch(session: Session, batch_id: int) -> None:
    """For a change written by a Core ``UPDATE`` (which no flush sees)."""
    _noted(session, _BATCHES).add(batch_id)


def _settle(session: Session) -> None:
    """``before_commit`` (the outermost): work out the noted batches' flags again and
    move the tally by the difference."""
    if session.in_nested_transaction():
        return
    session.flush()
    batch_ids = session.info.pop(_BATCHES, None) or set()
    lot_ids = session.info.pop(_LOTS, None) or set()
    recount = session.info.pop(_RECOUNT, False)
    new_ids = session.info.pop(_NEW, None)
    if batch_ids or lot_ids:
        delta = refresh(session, batch_ids, lot_ids)
    else:
        delta = 0
    # the batches inserted that are still there (a savepoint rolled back takes its own),
    # counted by chunks of ids (a load of many batches through the session stays under
    # SQLite's limit on bound values)
    added = sum(session.execute(select(func.count()).select_from(Batch).where(
        Batch.id.in_(ids))).scalar_one() for ids in chunked(new_ids)) if new_ids else 0
    if recount:
        _set_tally(session, None)
    elif delta or added:
        _set_tally(session, delta, added)


def refresh(session: Session, batch_ids, lot_ids=()) -> int:
    """Work out again the flag of these batches and of those made from these lots (their
    rows locked first, ascending ids, on PostgreSQL); the change in the number of
    outstanding batches."""
    which = []
    if batch_ids:
        which.append(Batch.id.in_(sorted(batch_ids)))
    if lot_ids:
        which.append(Batch.id.in_(select(BatchLine.batch_id).where(BatchLine.lot_id.in_(sorted(lot_ids)))))
    if not which:
        return 0
    which = or_(*which)
    if session.get_bind().dialect.name != "sqlite":  # SQLite: one writer at a time already
        # FOR NO KEY UPDATE: what the UPDATE below takes anyway; it queues the writers of
        # one batch without blocking an insert that refers to the batch (FOR KEY SHARE)
        session.execute(select(Batch.id).where(which).order_by(Batch.id)
                        .with_for_update(key_share=True)).all()
    opts = {"synchronize_session": False}
    now_on = session.execute(update(Batch).where(which, Batch.outstanding.is_(False), outstanding_clause())
                             .values(outstanding=True).execution_options(**opts)).rowcount
    now_off = session.execute(update(Batch).where(which, Batch.outstanding.is_(True), not_(outstanding_clause()))
                              .values(outstanding=False).execution_options(**opts)).rowcount
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Batch):
            session.expire(obj, ["outstanding"])
    return now_on - now_off


def lock_batches_of_lots(session: Session, lot_ids) -> None:
    """Lock the batches made from these lots (ascending ids; PostgreSQL, SQLite has one
    writer), for a change of the lots' status to take before it locks the lots: the
    order every writer of a batch keeps (an administration locks its batch, then refers
    to its lots; a preparation makes a new batch no one else sees), so the commit's
    recomputation of those batches waits for no one holding a lot it needs."""
    if session.get_bind().dialect.name == "sqlite":
        return
    session.execute(select(Batch.id).where(Batch.id.in_(
        select(BatchLine.batch_id).where(BatchLine.lot_id.in_(sorted(lot_ids)))))
        .order_by(Batch.id).with_for_update(key_share=True)).all()


def _set_tally(session: Session, delta: int | None, added: int = 0) -> None:
    """Move the tally by ``delta`` outstanding batches and ``added`` batches in all, or
    (``delta`` ``None``) count both again. The row is made when missing (a database made
    without the migration that makes it)."""
    counted = select(func.count()).select_from(Batch).where(Batch.outstanding.is_(True)).scalar_subquery()
    every = select(func.count()).select_from(Batch).scalar_subquery()
    values = ({"outstanding": counted, "total": every} if delta is None else
              {"outstanding": BatchTally.outstanding + delta, "total": BatchTally.total + added})
    if session.execute(update(BatchTally).where(BatchTally.id == 1).values(**values)
                       .execution_options(synchronize_session=False)).rowcount == 0:
        session.execute(BatchTally.__table__.insert().values(id=1, outstanding=counted,
                                                             total=every))


def tally_statement():
    """SQL: the number of outstanding batches (0 before the first batch)."""
    return (select(func.coalesce(func.max(BatchTally.outstanding), 0))
            .where(BatchTally.id == 1).scalar_subquery())


def total_statement():
    """SQL: the number of batches, every one ever prepared (0 before the first batch):
    the batch list's total when no filter is given."""
    return (select(func.coalesce(func.max(BatchTally.total), 0))
            .where(BatchTally.id == 1))


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        for key in (_BATCHES, _LOTS, _RECOUNT, _NEW):
            session.info.pop(key, None)


def install(session_class) -> None:
    """Hook the tally onto a Session class (called by ``inventory.totals.install`` in its
    place: after the stock totals and the weekly usage, before the audit chain's lock)."""
    install_hooks(session_class, "batch_tally", before_flush=_before_flush,
                  after_flush=_after_flush, before_commit=_settle, after_transaction_end=_forget)


def rebuild(session: Session) -> None:
    """Every flag and the tally again from the database (after a bulk load that bypassed
    the session, and by the migration that made them)."""
    session.execute(update(Batch).values(outstanding=outstanding_clause())
                    .execution_options(synchronize_session=False))
    _set_tally(session, None)


@dataclass(frozen=True)
class TallyProblem:
    what: str

    def __str__(self) -> str:
        return self.what


def check_tally(session: Session) -> list[TallyProblem]:
    """Every batch whose flag differs from a recount, then the tally if it differs from
    the number of outstanding batches."""
    flag_wrong = session.execute(select(Batch.id, Batch.outstanding).where(
        Batch.outstanding != outstanding_clause()).order_by(Batch.id)).all()
    problems = [TallyProblem(f"batch {i}: outstanding recorded {bool(v)}, recount {not v}")
                for i, v in flag_wrong]
    recorded = session.execute(select(tally_statement())).scalar_one()
    counted = session.execute(select(func.count()).select_from(Batch)
                              .where(outstanding_clause())).scalar_one()
    if recorded != counted:
        problems.append(TallyProblem(f"tally: recorded {recorded}, recount {counted}"))
    recorded = session.execute(total_statement()).scalar_one()
    counted = session.execute(select(func.count()).select_from(Batch)).scalar_one()
    if recorded != counted:
        problems.append(TallyProblem(f"batches in all: recorded {recorded}, recount {counted}"))
    return problems

"""The dashboard's batch panel: batches today and those awaiting verification."""

from __future__ import annotations

from markupsafe import Markup
from sqlalchemy import and_, bindparam, case, func, select

from formulary import clock
from formulary.auth.permissions import VIEW
from formulary.db import rows_of
from formulary.compounding.models import BATCH_STATUSES, Batch, BatchLine
from formulary.compounding import tally
from formulary.domain.batch_state import HELD_LOT_STATUSES
from formulary.inventory.models import Lot
from formulary.compounding.services import local_day_bounds
from formulary.extensions import db
from formulary.main import rendered

LIVE_STATUSES = tuple(s for s in BATCH_STATUSES if s != "discarded")


#: The instant and the clinic's day the counts are for, bound at execution: the statements
#: below are built once (``_statements``), since building them, with the state rules'
#: correlated subqueries, cost more per view than the database takes to run them.
_NOW = bindparam("now", type_=Batch.beyond_use_at.type)
_STATEMENTS: dict[str, object] = {}


def _statements() -> dict[str, object]:
    """Built at first use (the mappers, ``Batch.doses_given`` among them, are configured
    by then)."""
    if not _STATEMENTS:
        start = bindparam("start", type_=Batch.prepared_at.type)
        end = bindparam("end", type_=Batch.prepared_at.type)
        held_batches = (select(BatchLine.batch_id).join(Lot, Lot.id == BatchLine.lot_id)
                        .where(Lot.status.in_(HELD_LOT_STATUSES)))
        held_left = and_(Batch.status != "discarded", Batch.id.in_(held_batches),
                         Batch.doses_given < Batch.doses)
        # the live statuses spelt out: a range of ix_batch_status_beyond_use for each
        fresh = and_(Batch.status.in_(LIVE_STATUSES), Batch.beyond_use_at > _NOW,
                     Batch.outstanding.is_(True))
        today = select(
            func.count().label("total"),
            func.sum(case((Batch.status == "prepared", 1), else_=0)).label("prepared"),
            func.sum(case((Batch.status == "verified", 1), else_=0)).label("verified"),
            func.sum(case((Batch.status == "discarded", 1), else_=0)).label("discarded"),
        ).where(Batch.prepared_at >= start, Batch.prepared_at < end).subquery("today")
        # state_clause("prepared"): prepared, within its beyond-use instant, nothing
        # given, doses left, no lot held; the last two (and not discarded) are the
        # outstanding flag the writes keep (``compounding.tally``), so only the doses
        # given are worked out, for the few recent prepared batches
        awaiting_ = select(func.count()).select_from(Batch).where(
            Batch.status == "prepared", Batch.beyond_use_at > _NOW,
            Batch.outstanding.is_(True), Batch.doses_given == 0)
        held_and_expired_ = (
            select(func.count()).select_from(Batch).where(held_left).scalar_subquery(),
            tally.tally_statement(),
            select(func.count()).select_from(Batch).where(fresh).scalar_subquery())
        _STATEMENTS.update(
            awaiting=awaiting_, held_and_expired=select(*held_and_expired_),
            # the panel's every count in one statement (one round trip, not three)
            panel=select(today.c.total, today.c.prepared, today.c.verified, today.c.discarded,
                         awaiting_.scalar_subquery(), *held_and_expired_).select_from(today))
    return _STATEMENTS


def today_counts(session, tz, now=None) -> dict:
    """The panel's counts at ``now`` (the clock's, by default): the batches of the
    clinic's day by status, and those awaiting verification, on hold and expired
    (``awaiting``, ``held_and_expired``), in one statement."""
    now = now or clock.now()
    start, end = local_day_bounds(now.astimezone(tz).date(), tz)
    (total, prepared, verified, discarded, waiting, on_hold, outstanding,
     fresh_count) = rows_of(session, _statements()["panel"],
                            {"start": start, "end": end, "now": now}).one()
    return {"total": total or 0, "prepared": prepared or 0, "verified": verified or 0,
            "discarded": discarded or 0, "awaiting": int(waiting),
            "expired": int(outstanding) - int(fresh_count), "on_hold": int(on_hold)}


def awaiting(session, now) -> int:
    """The batches awaiting verification at ``now`` (``state_clause("prepared", now)``);
    ``tests/courses/test_batch_tally.py`` holds it to the rule after every kind of
    change."""
    return rows_of(session, _statements()["awaiting"], {"now": now}).scalar_one()


def held_and_expired(session, now) -> tuple[int, int]:
    """The batches ``on_hold`` and ``expired`` (``compounding.state.state_clause``), counted
    without working out the state of every batch ever made (50,000 in a busy year). On
    hold: the live batches with doses left on a held lot, driven by the held lots (few).
    Expired: the outstanding batches (``compounding.tally``: doses left, no lot held, not
    discarded; their number kept by the writes) less those still within their beyond-use
    instant (an index range of the recent batches, each flag read by its key). One
    statement; ``tests/compounding`` holds the counts to ``state_clause``'s."""
    on_hold, outstanding, fresh_count = rows_of(
        session, _statements()["held_and_expired"], {"now": now}).one()
    return int(on_hold), int(outstanding) - int(fresh_count)


def panels(user) -> list[Markup]:
    if not user.may(VIEW):
        return []
    counts = today_counts(db.session, clock.clinic_tz())
    # read on every view (they change with every batch and with the time); the template
    # is drawn again only when one of them differs from the last drawing's
    return [rendered.render("compounding.batches", "compounding/_panel.html",
                            tuple(counts.items()), counts=counts)]

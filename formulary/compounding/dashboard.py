"""The dashboard's batch panel: batches today and those awaiting verification."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup
from sqlalchemy import and_, case, func, select

from formulary import clock
from formulary.auth.permissions import VIEW
from formulary.compounding.models import BATCH_STATUSES, Batch, BatchLine
from formulary.courses.models import Administration
from formulary.domain.batch_state import HELD_LOT_STATUSES
from formulary.inventory.models import Lot
from formulary.compounding.services import local_day_bounds
from formulary.compounding.state import state_clause
from formulary.extensions import db

LIVE_STATUSES = tuple(s for s in BATCH_STATUSES if s != "discarded")


def today_counts(session, tz) -> dict:
    start, end = local_day_bounds(clock.now().astimezone(tz).date(), tz)
    row = session.execute(select(
        func.count(),
        func.sum(case((Batch.status == "prepared", 1), else_=0)),
        func.sum(case((Batch.status == "verified", 1), else_=0)),
        func.sum(case((Batch.status == "discarded", 1), else_=0)),
    ).where(Batch.prepared_at >= start, Batch.prepared_at < end)).one()
    now = clock.now()
    # prepared, within its beyond-use instant (what state_clause holds too) first: the
    # doses given and the lots' status are then worked out for those few batches only
    awaiting = session.execute(select(func.count()).select_from(Batch).where(
        Batch.status == "prepared", Batch.beyond_use_at > now,
        state_clause("prepared", now))).scalar_one()
    on_hold, expired = held_and_expired(session, now)
    return {"total": row[0] or 0, "prepared": row[1] or 0, "verified": row[2] or 0,
            "discarded": row[3] or 0, "awaiting": awaiting, "expired": expired,
            "on_hold": on_hold}


def held_and_expired(session, now) -> tuple[int, int]:
    """The batches ``on_hold`` and ``expired`` (``compounding.state.state_clause``), counted
    without working out the state of every batch ever made (50,000 in a busy year, each
    with its doses given and its lots' status: seconds on PostgreSQL). Among the live
    batches past their beyond-use instant (one count over an index), those fully given
    (driven by the administrations, summed per batch) and those with doses left on a
    held lot (driven by the held lots, few) are not expired; the rest are. Two
    statements; ``tests/compounding`` holds the counts to ``state_clause``'s."""
    live = Batch.status != "discarded"
    given = Batch.doses_given
    held_batches = (select(BatchLine.batch_id).join(Lot, Lot.id == BatchLine.lot_id)
                    .where(Lot.status.in_(HELD_LOT_STATUSES)))
    held_left = and_(live, Batch.id.in_(held_batches), given < Batch.doses)
    gone = Batch.beyond_use_at <= now
    on_hold, gone_held = session.execute(select(
        func.count(), func.coalesce(func.sum(case((gone, 1), else_=0)), 0))
        .select_from(Batch).where(held_left)).one()
    # the live statuses spelt out: a range of ix_batch_status_beyond_use for each
    live_gone = and_(Batch.status.in_(LIVE_STATUSES), gone)
    # fully given among them: driven by the administrations, summed per batch from the
    # covering index ix_administration_batch_doses, each batch then found by its key
    doses = (select(Administration.batch_id, func.sum(Administration.doses).label("given"))
             .group_by(Administration.batch_id).subquery())
    batch_doses = (select(Batch.doses).where(Batch.id == doses.c.batch_id, live_gone)
                   .correlate(doses).scalar_subquery())
    gone_total, gone_given = session.execute(select(
        select(func.count()).select_from(Batch).where(live_gone).scalar_subquery(),
        select(func.count()).select_from(doses).where(doses.c.given >= batch_doses)
        .scalar_subquery())).one()
    return int(on_hold), int(gone_total) - int(gone_given) - int(gone_held)


def panels(user) -> list[Markup]:
    if not user.may(VIEW):
        return []
    counts = today_counts(db.session, clock.clinic_tz())
    return [Markup(render_template("compounding/_panel.html", counts=counts))]

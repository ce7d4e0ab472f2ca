"""The dashboard's batch panel: batches today and those awaiting verification."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup
from sqlalchemy import case, func, select

from formulary import clock
from formulary.auth.permissions import VIEW
from formulary.compounding.models import Batch
from formulary.compounding.services import local_day_bounds
from formulary.compounding.state import state_clause
from formulary.extensions import db


def today_counts(session, tz) -> dict:
    start, end = local_day_bounds(clock.now().astimezone(tz).date(), tz)
    row = session.execute(select(
        func.count(),
        func.sum(case((Batch.status == "prepared", 1), else_=0)),
        func.sum(case((Batch.status == "verified", 1), else_=0)),
        func.sum(case((Batch.status == "discarded", 1), else_=0)),
    ).where(Batch.prepared_at >= start, Batch.prepared_at < end)).one()
    now = clock.now()
    awaiting = session.execute(select(func.count()).where(
        state_clause("prepared", now))).scalar_one()
    after = session.execute(select(
        func.sum(case((state_clause("expired", now), 1), else_=0)),
        func.sum(case((state_clause("on_hold", now), 1), else_=0)),
    ).select_from(Batch).where(Batch.status != "discarded")).one()
    return {"total": row[0] or 0, "prepared": row[1] or 0, "verified": row[2] or 0,
            "discarded": row[3] or 0, "awaiting": awaiting, "expired": after[0] or 0,
            "on_hold": after[1] or 0}


def panels(user) -> list[Markup]:
    if not user.may(VIEW):
        return []
    counts = today_counts(db.session, clock.clinic_tz())
    return [Markup(render_template("compounding/_panel.html", counts=counts))]

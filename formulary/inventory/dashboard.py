"""The stock part of the dashboard: usable stock, low-stock ingredients, lots expiring
within 90 days. A constant number of statements, whatever the size of the stock."""

from __future__ import annotations

from flask import current_app, render_template
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from formulary import clock
from formulary.auth.permissions import VIEW
from formulary.extensions import db
from formulary.inventory import queries
from formulary.inventory.models import Ingredient, Lot

SHOWN = 10


def stock_summary(now, tz, within_days: int) -> dict:
    session = db.session
    usable = queries.usable_quantities(session, None, now, tz)
    levels = dict(session.execute(
        select(Ingredient.id, Ingredient.reorder_level)
        .where(Ingredient.reorder_level.is_not(None), Ingredient.active.is_(True))).all())
    low = sorted(((i, usable.get(i, queries.ZERO), level) for i, level in levels.items()
                  if usable.get(i, queries.ZERO) < level),
                 key=lambda t: (t[1] / t[2] if t[2] else 0, t[0]))
    low_shown = low[:SHOWN]
    names = {}
    if low_shown:
        names = {i.id: i for i in session.execute(
            select(Ingredient).where(Ingredient.id.in_([t[0] for t in low_shown]))).scalars()}
    expiring = queries.expiring_filter(now, tz, within_days)
    expiring_count = session.execute(select(func.count()).select_from(Lot).where(expiring)).scalar_one()
    expiring_lots = session.execute(
        select(Lot).options(joinedload(Lot.ingredient)).where(expiring)
        .order_by(Lot.expiry_date, Lot.id).limit(SHOWN)).scalars().all()
    active_count = session.execute(
        select(func.count()).select_from(Ingredient).where(Ingredient.active.is_(True))).scalar_one()
    return {"with_stock": sum(1 for v in usable.values() if v > 0), "active_count": active_count,
            "low": [(names[i], u, level) for i, u, level in low_shown], "low_count": len(low),
            "expiring": expiring_lots, "expiring_count": expiring_count,
            "within_days": within_days}


def panels(user) -> list[Markup]:
    if not user.may(VIEW):
        return []
    now, tz = clock.now(), clock.clinic_tz()
    summary = stock_summary(now, tz, current_app.config.get("EXPIRING_WITHIN_DAYS", 90))
    return [Markup(render_template("inventory/_dashboard.html", s=summary, today=queries.today_in(now, tz)))]

"""The stock part of the dashboard: usable stock, low-stock ingredients, lots expiring
within 90 days. A constant number of statements, whatever the size of the stock; the
panel is kept between views until the stock or the time changes it
(``inventory.panel_cache``)."""

from __future__ import annotations

from flask import current_app, render_template
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from formulary import clock
from formulary.auth.permissions import VIEW
from formulary.extensions import db
from formulary.inventory import panel_cache, queries
from formulary.inventory.models import Ingredient, Lot

SHOWN = 10


def stock_summary(now, tz, within_days: int, *, vials: list | None = None) -> dict:
    """The panel's figures. ``vials``: the opened vials this request has read
    (``panel_cache.opened_vials``), or ``None`` to read them."""
    session = db.session
    low, with_stock = queries.stock_levels(session, now, tz, vials=vials)
    # lowest first: usable stock as a share of the reorder level
    shown = sorted(low.items(), key=lambda t: (t[1][0] / t[1][1] if t[1][1] else 0, t[0]))[:SHOWN]
    names = {}
    if shown:
        names = {i.id: i for i in session.execute(
            select(Ingredient).where(Ingredient.id.in_([i for i, _ in shown]))).scalars()}
    expiring = queries.expiring_filter(now, tz, within_days)
    expiring_count = session.execute(select(func.count()).select_from(Lot).where(expiring)).scalar_one()
    expiring_lots = session.execute(
        select(Lot).options(joinedload(Lot.ingredient)).where(expiring)
        .order_by(Lot.expiry_date, Lot.id).limit(SHOWN)).scalars().all()
    active_count = session.execute(
        select(func.count()).select_from(Ingredient).where(Ingredient.active.is_(True))).scalar_one()
    return {"with_stock": with_stock, "active_count": active_count,
            "low": [(names[i], usable, level) for i, (usable, level) in shown],
            "low_count": len(low),
            "expiring": expiring_lots, "expiring_count": expiring_count,
            "within_days": within_days}


def panels(user) -> list[Markup]:
    if not user.may(VIEW):
        return []
    now, tz = clock.now(), clock.clinic_tz()
    within_days = current_app.config.get("EXPIRING_WITHIN_DAYS", 90)

    def render() -> Markup:
        summary = stock_summary(now, tz, within_days, vials=panel_cache.opened_vials(now, tz))
        return Markup(render_template("inventory/_dashboard.html", s=summary,
                                      today=queries.today_in(now, tz)))

    return [panel_cache.panel("inventory.stock", within_days, now, tz, render)]

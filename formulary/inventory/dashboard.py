"""The stock part of the dashboard: usable stock, low-stock ingredients, lots expiring
within 90 days. A constant number of statements, whatever the size of the stock; the
panel is kept between views until the stock or the time changes it
(``inventory.panel_cache``)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from markupsafe import Markup
from sqlalchemy import Date, bindparam, func, select

from formulary import clock
from formulary.auth.permissions import VIEW
from formulary.db import rows_of
from formulary.extensions import db
from formulary.inventory import panel_cache, queries
from formulary.inventory.models import Ingredient, Lot
from formulary.main import rendered

SHOWN = 10


_STATEMENTS: dict[str, object] = {}


def _statements() -> dict[str, object]:
    """The panel's statements with the clinic's date bound at execution (``today``, and
    ``until``, the last expiry date counted as expiring: what ``queries.expiring_filter``
    selects for ``within_days`` = until - today). Built once, at first use (the mappers
    are configured by then): building them costs more per request than running them."""
    if not _STATEMENTS:
        expiring = queries.expiring_between(bindparam("today", type_=Date),
                                            bindparam("until", type_=Date))
        _STATEMENTS.update(
            # the two counts in one statement: the lots expiring, the active ingredients
            counts=select(
                select(func.count()).select_from(Lot).where(expiring).scalar_subquery(),
                select(func.count()).select_from(Ingredient)
                .where(Ingredient.active.is_(True)).scalar_subquery()),
            # rows, not objects: the panel shows these values and nothing else
            expiring_first=(select(Lot.id, Lot.lot_number, Lot.expiry_date, Lot.quantity_on_hand,
                                   Ingredient.name.label("ingredient_name"),
                                   Ingredient.unit.label("ingredient_unit"))
                            .join(Ingredient, Ingredient.id == Lot.ingredient_id).where(expiring)
                            .order_by(Lot.expiry_date, Lot.id).limit(SHOWN)))
    return _STATEMENTS


def stock_summary(now, tz, within_days: int, *, vials: list | None = None,
                  usable: list[bool] | None = None) -> dict:
    """The panel's figures. ``vials``: the opened vials this request has read
    (``panel_cache.opened_vials``), or ``None`` to read them; ``usable``: whether each
    is usable at ``now`` (``panel_cache.usable_vials``), or ``None`` to work it out."""
    session = db.session
    low, with_stock, names = queries.stock_levels_named(session, now, tz, vials=vials,
                                                        usable=usable)
    # lowest first: usable stock as a share of the reorder level
    shown = sorted(low.items(), key=lambda t: (t[1][0] / t[1][1] if t[1][1] else 0, t[0]))[:SHOWN]
    statements = _statements()
    today = queries.today_in(now, tz)
    window = {"today": today, "until": today + timedelta(days=within_days)}
    expiring_count, active_count = rows_of(session, statements["counts"], window).one()
    expiring_lots = rows_of(session, statements["expiring_first"], window).all()
    return {"with_stock": with_stock, "active_count": active_count,
            "low": [(names[i], usable, level) for i, (usable, level) in shown],
            "low_count": len(low),
            "expiring": expiring_lots, "expiring_count": expiring_count,
            "within_days": within_days}


def _drawn_from(summary: dict, today) -> tuple:
    """Every value the panel's template reads of ``summary`` and ``today``, the Decimals
    by their ``repr`` (its type and digits: "1.0" and "1.00" are equal but read
    differently)."""
    return (summary["with_stock"], summary["active_count"], summary["low_count"],
            summary["expiring_count"], summary["within_days"], today,
            tuple((tuple(ing), repr(usable), repr(level)) for ing, usable, level in summary["low"]),
            tuple((lot.id, lot.lot_number, lot.expiry_date, repr(lot.quantity_on_hand),
                   lot.ingredient_name, lot.ingredient_unit) for lot in summary["expiring"]))


def panels(user) -> list[Markup]:
    if not user.may(VIEW):
        return []
    now, tz = clock.now(), clock.clinic_tz()
    within_days = current_app.config.get("EXPIRING_WITHIN_DAYS", 90)

    def render() -> Markup:
        summary = stock_summary(now, tz, within_days, vials=panel_cache.opened_vials(now, tz),
                                usable=panel_cache.usable_vials(now, tz))
        today = queries.today_in(now, tz)
        # a pure function of these values: drawn again only when one differs from the
        # last drawing's (``main.rendered``)
        return rendered.render("inventory.stock", "inventory/_dashboard.html",
                               _drawn_from(summary, today), s=summary, today=today)

    return [panel_cache.panel("inventory.stock", within_days, now, tz, render)]

"""Dashboard panels of the reports area: usage per ingredient over the last 12 weeks and
usable stock expiring per month over the next 6 months, drawn as inline SVG.

Four queries in all, whatever the number of ingredients, lots or movements: the usage
is read from the weekly sums the ledger keeps as it writes (``inventory.usage``), the
lots expiring per month counted by the database; only opened multi-dose vials are read one by one. Both charts depend on the stock
room and the time only: they are kept between views until either changes them
(``inventory.panel_cache``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from flask import render_template
from markupsafe import Markup
from sqlalchemy import Date, Integer, and_, bindparam, case, cast, func, not_, select
from sqlalchemy.orm import Session

from formulary import clock
from formulary.auth.permissions import VIEW
from formulary.db import rows_of
from formulary.domain.stock import usable_each
from formulary.extensions import db
from formulary.inventory import panel_cache, queries, usage
from formulary.inventory.models import Ingredient, Lot, WeeklyUsage
from formulary.main import rendered
from formulary.reports.charts import Series, bar_chart, small_multiples
from formulary.reports.stock_report import last_usable_day
from formulary.i18n import _, format_money_l

WEEKS = 12
MONTHS = 6
TOP_INGREDIENTS = 8


def week_starts(today: date, weeks: int = WEEKS) -> list[date]:
    """The Monday of each of the last ``weeks`` weeks of the clinic, the last one being
    this week (Monday to today)."""
    first = usage.week_start(today) - timedelta(days=7 * (weeks - 1))
    return [first + timedelta(days=7 * i) for i in range(weeks)]


#: The weekly usage between the weeks ``first`` and ``last`` (their Mondays, included),
#: bound at execution: the draws per ingredient, then the weekly rows of the ingredients
#: ``ids``. Built once: building them costs more per request than running them.
_IN_WEEKS = and_(WeeklyUsage.week_start >= bindparam("first", type_=Date),
                 WeeklyUsage.week_start <= bindparam("last", type_=Date))
_USAGE = {
    "drawn": (select(Ingredient.id, Ingredient.name, Ingredient.unit, func.sum(WeeklyUsage.draws))
              .join(Ingredient, Ingredient.id == WeeklyUsage.ingredient_id).where(_IN_WEEKS)
              .group_by(Ingredient.id, Ingredient.name, Ingredient.unit)),
    "weekly": (select(WeeklyUsage.ingredient_id, WeeklyUsage.week_start, WeeklyUsage.quantity_micro)
               .where(_IN_WEEKS, WeeklyUsage.ingredient_id.in_(bindparam("ids", expanding=True)))),
}


def usage_by_week(session: Session, today: date, tz: tzinfo, *, weeks: int = WEEKS,
                  top: int = TOP_INGREDIENTS) -> tuple[list[Series], list[date]]:
    """Quantity drawn for batches per ingredient and week (in the ingredient's unit), for
    the ``top`` ingredients drawn most often. Two queries of the weekly usage the ledger
    keeps as it writes (``inventory.usage``): the draws per ingredient over the weeks,
    summed by the database (one row per ingredient drawn), then the weekly rows of the
    ``top`` only (at most ``weeks`` each)."""
    starts = week_starts(today, weeks)
    index = {d: i for i, d in enumerate(starts)}
    in_weeks = {"first": starts[0], "last": starts[-1]}
    drawn = rows_of(session, _USAGE["drawn"], in_weeks).all()
    ranked = sorted(drawn, key=lambda r: (-int(r[3]), r[1].casefold()))[:top]
    if not ranked:
        return [], starts
    values: dict[int, list[int]] = {r[0]: [0] * weeks for r in ranked}
    for ingredient_id, week, micro in rows_of(
            session, _USAGE["weekly"], {**in_weeks, "ids": sorted(values)}):
        values[ingredient_id][index[week]] += micro  # whole millionths: Decimals for those shown
    return [Series(name, unit, tuple(usage.from_micro(v).quantize(Decimal("0.0001"))
                                     for v in values[ingredient_id]))
            for ingredient_id, name, unit, _draws in ranked], starts


@dataclass(frozen=True)
class MonthBucket:
    month: date          # the first day of the month
    lots: int
    value: Decimal


def expiring_by_month(session: Session, now: datetime, tz: tzinfo,
                      months: int = MONTHS, *, vials: list | None = None,
                      usable: list[bool] | None = None) -> list[MonthBucket]:
    """Usable lots with stock on hand whose last usable day falls in each of the next
    ``months`` calendar months (this month first). Two queries: the lots whose end is
    their expiry date are counted and valued by the database per month; opened
    multi-dose vials (whose in-use period may end first) are read and placed by the
    stock rules. One query when ``vials`` (what ``queries.opened_vials`` read for every
    ingredient at this date) is given; ``usable``, when given with them, is
    ``usable_each`` of those vials at ``now``."""
    today = now.astimezone(tz).date()
    firsts = [date(today.year + (today.month - 1 + i) // 12, (today.month - 1 + i) % 12 + 1, 1)
              for i in range(months + 1)]
    lots = defaultdict(int)
    value = defaultdict(lambda: Decimal(0))
    sqlite = session.get_bind().dialect.name == "sqlite"
    params = {"today": today, **{f"first_{i}": f for i, f in enumerate(firsts[1:])}}
    rows = rows_of(session, _expiring_per_month(sqlite, months), params).all()
    for index, count, amount in rows:
        key = firsts[int(index)]
        lots[key] += count
        if amount is not None:
            value[key] += (Decimal(int(amount)) / 10_000) if sqlite else Decimal(amount)
    read = queries.opened_vials(session, today) if vials is None else vials
    flags = (usable if vials is not None and usable is not None
             else usable_each([lot for lot, _cost in read], now, tz))
    for (lot, unit_cost), ok in zip(read, flags):
        if not ok:
            continue
        day = last_usable_day(lot, tz)
        if day >= firsts[-1]:
            continue
        key = date(day.year, day.month, 1)
        lots[key] += 1
        if unit_cost is not None:
            value[key] += lot.on_hand * unit_cost
    return [MonthBucket(m, lots[m], value[m].quantize(Decimal("0.01"))) for m in firsts[:-1]]


_EXPIRING_PER_MONTH: dict[tuple[bool, int], object] = {}


def _expiring_per_month(sqlite: bool, months: int):
    """The lots (not opened multi-dose vials) that are usable by status and dates, counted
    and valued per month of their expiry date: ``today`` and ``first_0`` ..
    ``first_{months - 1}`` (the first day of each month after this one) are bound at
    execution. Built once per dialect and number of months: building it costs more per
    request than the database takes to run it."""
    key = (sqlite, months)
    if key not in _EXPIRING_PER_MONTH:
        firsts = [bindparam(f"first_{i}", type_=Date) for i in range(months)]
        opened_multi = and_(Ingredient.multi_dose.is_(True), Lot.opened_at.is_not(None))
        month = case(*[(Lot.expiry_date < f, i) for i, f in enumerate(firsts)], else_=months)
        # SQLite holds reals: sum whole ten-thousandths so the total reads back exactly.
        product = Lot.quantity_on_hand * Lot.unit_cost
        total = (func.sum(cast(func.round(product * 10_000), Integer)) if sqlite
                 else func.sum(product))
        _EXPIRING_PER_MONTH[key] = (
            select(month.label("month"), func.count(Lot.id), total)
            .join(Ingredient, Ingredient.id == Lot.ingredient_id)
            .where(Lot.status == "available", Lot.quantity_on_hand > 0,
                   Lot.expiry_date >= bindparam("today", type_=Date), Lot.expiry_date < firsts[-1],
                   not_(opened_multi))
            .group_by(month))
    return _EXPIRING_PER_MONTH[key]


def usage_chart(session: Session, today: date, tz: tzinfo) -> Markup:
    series, starts = usage_by_week(session, today, tz)
    labels = [_("week of %(day)s", day=_day_month(d)) for d in starts]
    title = _("Quantity used for batches per ingredient, last %(weeks)s weeks", weeks=WEEKS)
    empty = _("No batch has drawn stock in the last %(weeks)s weeks.", weeks=WEEKS)
    # The SVG is a pure function of these values: drawn again only when one of them
    # differs from the last drawing's (a stock change that drew nothing for batches, or
    # not from the ingredients shown, leaves it as it was). The Decimals' digits are part
    # of the key ("1.0" and "1.00" are equal but read differently).
    key = (tuple((s.label, s.unit, tuple(v.as_tuple() for v in s.values)) for s in series),
           tuple(labels), title, empty)
    global _USAGE_SVG
    kept_key, drawn = _USAGE_SVG
    if kept_key != key:
        drawn = small_multiples(series, labels, chart_id="usage-chart", title=title, empty=empty)
        _USAGE_SVG = (key, drawn)  # the newest drawing only, replaced whole
    return drawn


#: The last usage chart drawn by this worker, by its values (see ``usage_chart``).
_USAGE_SVG: tuple[tuple | None, Markup] = (None, Markup(""))


def _day_month(day: date) -> str:
    from babel.dates import format_date
    from flask_babel import get_locale

    return format_date(day, "dd MMM", locale=get_locale() or "en")


def _month_year(day: date) -> str:
    from babel.dates import format_date
    from flask_babel import get_locale

    return format_date(day, "MMM yyyy", locale=get_locale() or "en")


def expiry_chart(session: Session, now: datetime, tz: tzinfo) -> Markup:
    buckets = expiring_by_month(session, now, tz, vials=panel_cache.opened_vials(now, tz),
                                usable=panel_cache.usable_vials(now, tz))

    def draw() -> Markup:
        return bar_chart([_month_year(b.month) for b in buckets], [b.lots for b in buckets],
                         [format_money_l(b.value) for b in buckets], chart_id="expiry-chart",
                         unit=_("lots"), title=_("Usable lots expiring per month, next %(months)s months",
                                                 months=MONTHS))

    # a pure function of the buckets (the values by their digits) in the reader's
    # language: drawn again only when one differs from the last drawing's
    return rendered.kept("reports.expiry", tuple((b.month, b.lots, repr(b.value)) for b in buckets), draw)


def panels(user) -> list[Markup]:
    if not user.may(VIEW):
        return []
    tz = clock.clinic_tz()
    now = clock.now()

    def render() -> Markup:
        return Markup(render_template("reports/_dashboard_panels.html",
                                      usage=usage_chart(db.session, now.astimezone(tz).date(), tz),
                                      expiry=expiry_chart(db.session, now, tz), weeks=WEEKS,
                                      months=MONTHS))

    return [panel_cache.panel("reports.charts", (WEEKS, MONTHS), now, tz, render)]

"""Dashboard panels built from the stock room, kept until the stock or the time changes
them.

The stock panels (usable stock, low stock, lots expiring; the usage and expiry charts of
the reports) read the whole stock room, and are the same for everyone allowed to see
them: they depend on the lots, their ledger, the ingredients, and the time. Each is
rendered once and served again while both hold:

- the stock revision (``inventory.totals``: a new random token at every commit that
  wrote a lot, a movement or an ingredient) is the one it
  was rendered at. The token is read from the database on every view (one statement),
  so a change committed by any process or worker is seen at once;
- the time is within the span over which nothing in it can change by time alone: from
  the instant it was rendered to the next midnight in the clinic's zone or the end of
  an opened vial's in-use period, whichever is first (``domain.stock.steady_until``).

A panel is only kept when the token read after rendering it is still the one read
before (no stock change committed meanwhile), and never by a transaction that has itself
changed the stock. Each worker process keeps the newest rendering of each panel, nothing
more. The settings a panel reads (the clinic's zone, "expiring within" days) are part of
its key.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Callable, Hashable

from flask import current_app, g
from markupsafe import Markup

from formulary.domain.stock import steady_until, usable_each
from formulary.extensions import db
from formulary.inventory import queries, totals
from formulary.inventory.queries import today_in

_STORE = "formulary.panel_cache"


def opened_vials(now: datetime, tz: tzinfo) -> list:
    """The opened multi-dose vials that status and dates leave usable at the clinic's
    date (``queries.opened_vials``), read once per request and date and shared by the
    panels that render in it: the stock levels, the expiry chart, the steadiness window
    (an in-use period ending may change what is read of them; one past its expiry date,
    or quarantined, or recalled, reads so whatever its in-use period; a single-use lot
    has none). A transaction that has itself changed the stock reads them again."""
    session = db.session
    today = today_in(now, tz)
    if totals.has_changes(session):
        return queries.opened_vials(session, today)
    if g.get("_panel_vials_day") != today:
        g._panel_vials = queries.opened_vials(session, today)
        g._panel_vials_day = today
    return g._panel_vials


def usable_vials(now: datetime, tz: tzinfo) -> list[bool]:
    """``usable_each`` of ``opened_vials(now, tz)`` at ``now``, worked out once per
    request for the stock levels and the expiry chart: the flags worked out at an
    instant hold for any later one before the steadiness window's end
    (``_steady_until``: no in-use period and no day ends in between), so a later
    ``now`` of the same request within it reuses them. A transaction that has itself
    changed the stock works them out again."""
    vials = opened_vials(now, tz)
    if totals.has_changes(db.session):
        return usable_each([lot for lot, _cost in vials], now, tz)
    kept = g.get("_panel_usable")
    if kept is not None:
        kept_vials, kept_tz, since, until, flags = kept
        if kept_vials is vials and kept_tz == str(tz) and since <= now < until:
            return flags
    flags = usable_each([lot for lot, _cost in vials], now, tz)
    g._panel_usable = (vials, str(tz), now, _steady_until(now, tz), flags)
    return flags


def _steady_until(now: datetime, tz: tzinfo) -> datetime:
    """Worked out once per request: computed at the request's first ``now``, it is an
    instant no later than the true one for any later ``now`` (an in-use end passed in
    between only makes a panel kept for no time)."""
    key = str(tz)
    if g.get("_panel_steady_key") != key:
        g._panel_steady_key = key
        g._panel_steady = steady_until([lot for lot, _cost in opened_vials(now, tz)], now, tz)
    return g._panel_steady


def _revision() -> str | None:
    if "_panel_revision" not in g:
        g._panel_revision = totals.revision(db.session)
    return g._panel_revision


def panel(name: str, settings: Hashable, now: datetime, tz: tzinfo,
          render: Callable[[], Markup]) -> Markup:
    """The panel ``name`` as ``render()`` gives it at ``now``, rendered again only when
    the stock, the time or ``settings`` call for it (see the module docstring)."""
    session = db.session
    if totals.has_changes(session):
        return render()
    revision = _revision()
    if revision is None:  # no stock change recorded yet: nothing to key on
        return render()
    store = current_app.extensions.setdefault(_STORE, {})
    from formulary.i18n import locale_code

    key = (revision, str(tz), settings, locale_code())  # a panel is written in its reader's language
    kept = store.get(name)
    if kept is not None:
        kept_key, since, until, html = kept
        if kept_key == key and since <= now < until:
            return html
    html = render()
    until = _steady_until(now, tz)
    if totals.revision(session) == revision:
        store[name] = (key, now, until, html)
    return html

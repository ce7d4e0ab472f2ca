"""The dashboard's charts: usage per ingredient over 12 weeks and usable stock expiring
per month over 6 months, drawn by the app as inline SVG, in a constant number of
queries."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
import time_machine

from formulary import clock
from formulary.extensions import db
from formulary.inventory import usage
from formulary.inventory.models import Movement
from formulary.reports import dashboard


def use(lot, quantity, at):
    db.session.add(Movement(lot_id=lot.id, kind="batch_use", quantity_delta=-Decimal(quantity),
                            balance_after=Decimal("0"), at=at))
    db.session.commit()


@pytest.mark.parametrize("instant", [
    "2026-12-05 15:00:00+00:00",   # a Saturday afternoon
    "2026-11-29 23:30:00+00:00",   # Monday 00:30 in Paris, still Sunday in UTC
    "2026-03-29 01:30:00+00:00",   # the Sunday clocks go forward in Paris
])
def test_usage_per_ingredient_per_week(app, make_ingredient, make_lot, instant):
    """Calendar weeks of the clinic (Monday to Sunday, Paris), this week the last."""
    with time_machine.travel(datetime.fromisoformat(instant), tick=False):
        tz = clock.clinic_tz()
        now = clock.now()
        today = now.astimezone(tz).date()
        monday = today - timedelta(days=today.weekday())
        at = lambda day, hour=10: datetime.combine(day, time(hour), tz)  # noqa: E731
        biotin = make_ingredient("Biotin", unit="mL")
        zinc = make_ingredient("<Zinc>", unit="mg")
        b_lot, z_lot = make_lot(biotin, "100"), make_lot(zinc, "100")
        use(b_lot, "2.5", now - timedelta(minutes=1))            # this week
        use(b_lot, "1.5", at(monday, 0))                        # this week, its first hour
        use(b_lot, "0.25", at(monday, 0) - timedelta(minutes=1))  # last week's last minute
        use(b_lot, "4", at(monday - timedelta(weeks=11)))       # the first of the 12 weeks
        use(b_lot, "9", at(monday - timedelta(weeks=11)) - timedelta(days=1))  # before them
        use(z_lot, "10", at(monday - timedelta(days=1)))        # last week (Sunday)
        series, starts = dashboard.usage_by_week(db.session, today, tz)
        assert starts[-1] == monday and len(starts) == 12
        assert starts[0] == monday - timedelta(weeks=11) and starts[0].weekday() == 0
        by_name = {s.label: s for s in series}
        assert [s.label for s in series] == ["Biotin", "<Zinc>"]     # most draws first
        assert by_name["Biotin"].values[-1] == Decimal("4")
        assert by_name["Biotin"].values[-2] == Decimal("0.25")
        assert by_name["Biotin"].values[0] == Decimal("4")
        assert by_name["Biotin"].total == Decimal("8.25")
        assert by_name["<Zinc>"].values[-2] == Decimal("10") and by_name["<Zinc>"].unit == "mg"
        assert usage.check_usage(db.session) == []


def test_expiring_per_month(app, make_ingredient, make_lot):
    tz = clock.clinic_tz()
    now = clock.now()
    today = now.astimezone(tz).date()
    ing = make_ingredient("Biotin", unit="mL")
    first = date(today.year, today.month, 1)
    in_two = date(first.year + (first.month + 1) // 12, (first.month + 1) % 12 + 1, 15)
    make_lot(ing, "10", expiry=in_two, unit_cost="2")
    make_lot(ing, "10", expiry=in_two, unit_cost="1")
    make_lot(ing, "10", expiry=in_two, status="quarantined")           # not usable
    make_lot(ing, "10", expiry=today + timedelta(days=400))           # beyond 6 months
    make_lot(ing, "10", expiry=in_two, on_hand="0")                   # nothing on hand
    buckets = dashboard.expiring_by_month(db.session, now, tz)
    assert [b.month for b in buckets][0] == first and len(buckets) == 6
    assert [(b.lots, b.value) for b in buckets][2] == (2, Decimal("30.00"))
    assert sum(b.lots for b in buckets) == 2


def test_opened_vials_fall_in_the_month_their_in_use_period_ends(app, make_ingredient, make_lot):
    """An opened multi-dose vial is placed by the earlier of its expiry and the end of its
    in-use period; one past its in-use period is not counted. The same with the vials read
    once and handed over (as the dashboard does)."""
    from formulary.inventory import queries

    tz = clock.clinic_tz()
    now = datetime(2026, 11, 10, 12, 0, tzinfo=timezone.utc)
    today = now.astimezone(tz).date()
    vial = make_ingredient("Lidocaine multi-dose", multi_dose=True, in_use_days=28)
    far = today + timedelta(days=150)
    make_lot(vial, "4", expiry=far, unit_cost="1.5", opened_at=now - timedelta(days=2))  # ends 6 Dec
    make_lot(vial, "6", expiry=far, unit_cost="1", opened_at=now - timedelta(days=29))   # ended
    make_lot(vial, "8", expiry=far, unit_cost="2", status="quarantined", opened_at=now)  # held
    with time_machine.travel(now, tick=False):
        buckets = dashboard.expiring_by_month(db.session, now, tz)
        vials = queries.opened_vials(db.session, today)
        assert dashboard.expiring_by_month(db.session, now, tz, vials=vials) == buckets
    assert [(b.month, b.lots, b.value) for b in buckets if b.lots] == [
        (date(2026, 12, 1), 1, Decimal("6.00"))]


def test_dashboard_shows_both_charts_in_constant_queries(client, login_as, make_ingredient,
                                                         make_lot, count_queries):
    login_as("practitioner")
    now = datetime.now(timezone.utc)

    def add(n):
        for _ in range(n):
            ing = make_ingredient()
            lot = make_lot(ing, "100", unit_cost="1",
                           expiry=clock.today() + timedelta(days=40))
            use(lot, "1", now - timedelta(days=3))

    add(2)
    with count_queries() as few:
        html = client.get("/dashboard").get_data(as_text=True)
    add(6)
    with count_queries() as many:
        html = client.get("/dashboard").get_data(as_text=True)
    assert many.count == few.count
    assert 'data-chart="usage-chart"' in html and 'data-chart="expiry-chart"' in html
    # every asset served by the app itself: no address of another host (a CSRF token's
    # random letters may spell "cdn", so the addresses are what is checked)
    assert html.count("<svg") >= 2
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, re.I)


def test_charts_escape_names_and_handle_no_data(app, make_ingredient, make_lot):
    from formulary.reports.charts import Series, small_multiples

    svg = small_multiples([Series("<script>x</script>", "mL", [Decimal(1)] * 12)],
                          [f"w{i}" for i in range(12)], title="t", chart_id="c")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "Nothing" in small_multiples([], [], title="t", chart_id="c", empty="Nothing here")

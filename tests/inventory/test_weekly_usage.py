"""The weekly usage the ledger keeps (``inventory.usage``) equals, for every ingredient and
week of the clinic, the sum of the batch_use movements of the ledger: drawn through the
ledger at any instant (week and DST boundaries of Europe/Paris included), in savepoints
rolled back or kept, and by bulk loads that rebuild it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formulary import clock
from formulary.inventory import ledger, usage
from formulary.inventory.models import WeeklyUsage
from formulary.reports import dashboard

# Instants around Monday 00:00 in Paris (Sunday 22:00/23:00 UTC) and both DST changes.
ANCHORS = [datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc),    # clocks go forward (Sunday)
           datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc),   # clocks go back (Sunday)
           datetime(2026, 11, 29, 22, 59, tzinfo=timezone.utc),  # Sunday 23:59 in Paris
           datetime(2026, 11, 29, 23, 0, tzinfo=timezone.utc),   # Monday 00:00 in Paris
           datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)]  # New Year in Paris

draw = st.tuples(
    st.integers(0, 2),                                    # which lot
    st.sampled_from(ANCHORS),
    st.integers(-26 * 60, 26 * 60),                       # minutes around the anchor
    st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("3"), places=6),
    st.booleans())                                        # in a savepoint rolled back


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(draws=st.lists(draw, min_size=1, max_size=12))
def test_weekly_usage_is_the_ledgers_sum(session, make_ingredient, make_lot, make_user, draws):
    # hypothesis runs every example on the same database: each has its own ingredients
    if not hasattr(make_user, "actor"):  # once: hashing a password is slow by design
        make_user.actor = make_user("pharmacist")
    actor = make_user.actor
    a, b = make_ingredient(), make_ingredient()
    lots = [make_lot(a, "1000"), make_lot(a, "1000"), make_lot(b, "1000")]
    ingredient_of = [a.id, a.id, b.id]
    tz = clock.clinic_tz()
    expected: dict = defaultdict(lambda: [Decimal(0), 0])
    for lot_index, anchor, minutes, quantity, rolled_back in draws:
        at = anchor + timedelta(minutes=minutes)
        lot_id = lots[lot_index].id
        if rolled_back:
            with session.begin_nested() as savepoint:
                locked = ledger.lock_lots(session, [lot_id])
                ledger.post_movement(session, locked[lot_id], -quantity, "batch_use", actor, at=at)
                session.flush()
                savepoint.rollback()
        else:
            locked = ledger.lock_lots(session, [lot_id])
            ledger.post_movement(session, locked[lot_id], -quantity, "batch_use", actor, at=at)
            local = at.astimezone(tz).date()
            entry = expected[(ingredient_of[lot_index], local - timedelta(days=local.weekday()))]
            entry[0] += quantity
            entry[1] += 1
        ledger.post_movement(session, session.get(type(lots[0]), lots[2].id), Decimal(1),
                             "adjustment", actor, reason="count_correction")  # not usage
    session.commit()
    mine = WeeklyUsage.__table__.select().where(WeeklyUsage.ingredient_id.in_([a.id, b.id]))
    recorded = {(r.ingredient_id, r.week_start): [usage.from_micro(r.quantity_micro), r.draws]
                for r in session.execute(mine)}
    assert recorded == {k: [v[0].normalize() + 0, v[1]] for k, v in expected.items()}
    assert usage.check_usage(session) == []
    # the chart of the last week drawn reads the same figures
    if expected:
        last_week = max(w for _, w in expected)
        series, starts = dashboard.usage_by_week(session, last_week + timedelta(days=6), tz,
                                                 top=10_000)
        assert starts[-1] == last_week
        shown = {s.label: s.values[-1] for s in series}
        for (ingredient_id, week), (quantity, _) in expected.items():
            if week == last_week:
                name = a.name if ingredient_id == a.id else b.name
                assert shown[name] == quantity.quantize(Decimal("0.0001"))
    # rebuilt from the ledger (after a bulk load), the same rows
    usage.rebuild(session)
    session.commit()
    assert {(r.ingredient_id, r.week_start): [usage.from_micro(r.quantity_micro), r.draws]
            for r in session.execute(mine)} == recorded

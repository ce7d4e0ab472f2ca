"""The dashboard's stock panels are kept between views (``inventory.panel_cache``) and
rendered again as soon as the stock or the time calls for it: a change through this app,
a change committed by another process, midnight, the end of an opened vial's in-use
period."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask_login import login_user

from formulary import clock
from formulary.extensions import db
from formulary.inventory import panel_cache
from formulary.inventory.models import Lot
from tests.conftest import PG_URL, make_app
from tests.pages import without_csrf

UTC = ZoneInfo("UTC")


def figures(html: str) -> dict[str, int]:
    return {name: int(re.search(rf'data-testid="{name}">(\d+)<', html).group(1))
            for name in ("with-stock", "low-count", "expiring-count")}


def test_panels_are_served_again_until_the_stock_changes(client, login_as, api, make_ingredient,
                                                          make_lot, count_queries):
    login_as("pharmacist")
    ing = make_ingredient("Biotin 5 mg/mL", reorder_level=Decimal(5))
    lot = make_lot(ing, "8", expiry=clock.today() + timedelta(days=30))
    with count_queries() as first:
        page = client.get("/dashboard").get_data(as_text=True)
    assert figures(page) == {"with-stock": 1, "low-count": 0, "expiring-count": 1}
    with count_queries() as again:
        assert without_csrf(client.get("/dashboard").get_data(as_text=True)) == without_csrf(page)
    assert again.count < first.count - 3, (first.count, again.count)

    r = api("pharmacist").post(f"/api/v1/lots/{lot.id}/adjustments",
                               json={"quantity_delta": "-4", "reason": "waste"})
    assert r.status_code == 201
    assert figures(client.get("/dashboard").get_data(as_text=True))["low-count"] == 1
    # an ingredient's edit (not a lot) counts too: its reorder level
    r = api("pharmacist").patch(f"/api/v1/ingredients/{ing.id}", json={"reorder_level": "2"})
    assert r.status_code == 200, r.get_json()
    assert figures(client.get("/dashboard").get_data(as_text=True))["low-count"] == 0


def test_a_refused_change_keeps_the_panels(client, login_as, api, make_ingredient, make_lot,
                                           count_queries):
    login_as("pharmacist")
    lot = make_lot(make_ingredient(), "3")
    client.get("/dashboard")
    r = api("pharmacist").post(f"/api/v1/lots/{lot.id}/adjustments",
                               json={"quantity_delta": "-9", "reason": "waste"})
    assert r.status_code == 409
    with count_queries() as counter:
        client.get("/dashboard")
    with count_queries() as again:
        client.get("/dashboard")
    assert counter.count == again.count  # still served from what was kept


@pytest.fixture
def second_process(backend, tmp_path):
    """Two apps on one database, as two worker processes would be: each its own engine,
    its own session and its own kept panels."""
    url = f"sqlite:///{tmp_path / 'two.db'}" if backend == "sqlite" else PG_URL
    apps = [make_app(url), make_app(url)]
    if backend == "sqlite":
        with apps[0].app_context():
            db.create_all()
    yield apps
    for a in apps:
        with a.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_change_committed_by_another_process_is_seen_at_once(app, second_process):
    from formulary.auth.models import User
    from formulary.inventory import lots as lot_services

    viewer, writer = second_process
    user_id, session_id, lot_id, _ing_id = _stocked_by(
        writer, name="Zinc", category="mineral", unit="mL", reorder_level=Decimal(5))
    client = _client_of(viewer, session_id)
    assert client.get("/dashboard").status_code == 200
    assert figures(client.get("/dashboard").get_data(as_text=True))["low-count"] == 0
    assert figures(client.get("/dashboard").get_data(as_text=True))["low-count"] == 0
    with writer.app_context():
        lot_services.adjust_lot(db.session, db.session.get(User, user_id),
                                db.session.get(Lot, lot_id), quantity_delta=Decimal(-6),
                                reason="waste")
        db.session.commit()
    assert figures(client.get("/dashboard").get_data(as_text=True))["low-count"] == 1


def test_midnight_and_the_end_of_an_in_use_period_render_the_panels_again(
        app, client, login_as, make_ingredient, make_lot, monkeypatch):
    app.config["CLINIC_TIMEZONE"] = "UTC"
    now = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: now)
    login_as("pharmacist")
    today = now.date()
    make_lot(make_ingredient("Ascorbic acid"), "5", expiry=today)  # usable until midnight
    vial = make_ingredient("Lidocaine 2% multi-dose", multi_dose=True, in_use_days=28)
    make_lot(vial, "5", expiry=today + timedelta(days=200),
             opened_at=now - timedelta(days=28) + timedelta(hours=1))  # in use for 1 more hour
    assert figures(client.get("/dashboard").get_data(as_text=True))["with-stock"] == 2

    now = now + timedelta(minutes=59)
    assert figures(client.get("/dashboard").get_data(as_text=True))["with-stock"] == 2
    now = now + timedelta(minutes=2)  # the vial's in-use period is over
    assert figures(client.get("/dashboard").get_data(as_text=True))["with-stock"] == 1
    now = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # the ascorbic acid lot has expired
    assert figures(client.get("/dashboard").get_data(as_text=True))["with-stock"] == 0
    now = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)  # a clock set back is not trusted
    assert figures(client.get("/dashboard").get_data(as_text=True))["with-stock"] == 1


def test_a_transaction_that_changed_the_stock_neither_reads_nor_keeps_panels(app, make_user,
                                                                              make_ingredient, make_lot):
    lot = make_lot(make_ingredient(), "5")
    user = make_user("pharmacist")
    renders = []

    def render():
        renders.append(1)
        return f"<p>{len(renders)}</p>"

    now, tz = clock.now(), clock.clinic_tz()
    with app.test_request_context("/dashboard"):
        login_user(user)
        assert panel_cache.panel("test", None, now, tz, render) == "<p>1</p>"
    with app.test_request_context("/dashboard"):
        assert panel_cache.panel("test", None, now, tz, render) == "<p>1</p>"  # kept
        db.session.get(Lot, lot.id).status = "quarantined"  # not flushed, not committed
        assert panel_cache.panel("test", None, now, tz, render) == "<p>2</p>"
        db.session.flush()
        assert panel_cache.panel("test", None, now, tz, render) == "<p>3</p>"
        db.session.rollback()
    with app.test_request_context("/dashboard"):
        assert panel_cache.panel("test", None, now, tz, render) == "<p>1</p>"  # as it was


def test_usage_drawn_by_another_process_is_charted_at_once(app, second_process):
    """The usage chart (kept with the stock panels) reads the weekly usage that the
    ledger keeps: a draw committed by another process is on the next view, in its week."""
    from formulary.auth.models import User
    from formulary.inventory import ledger
    from formulary.inventory import usage

    viewer, writer = second_process
    user_id, session_id, lot_id, _ing_id = _stocked_by(
        writer, name="Zinc sulfate", category="mineral", unit="mL")
    client = _client_of(viewer, session_id)

    def chart() -> str:
        html = client.get("/dashboard").get_data(as_text=True)
        start = html.index('data-chart="usage-chart"')
        return html[start:html.index("</svg>", start)]

    assert "Zinc sulfate" not in chart()
    assert "Zinc sulfate" not in chart()  # kept
    with writer.app_context():
        locked = ledger.lock_lots(db.session, [lot_id])
        ledger.post_movement(db.session, locked[lot_id], Decimal("-2.5"), "batch_use",
                             db.session.get(User, user_id))
        db.session.commit()
        assert usage.check_usage(db.session) == []
    assert "Zinc sulfate" in chart()
    assert 'data-total="2.5000"' in chart()
    # drawn again from a chart this worker has drawn already (its SVG is kept by its
    # values): the new total is on the next view
    with writer.app_context():
        locked = ledger.lock_lots(db.session, [lot_id])
        ledger.post_movement(db.session, locked[lot_id], Decimal("-0.25"), "batch_use",
                             db.session.get(User, user_id))
        db.session.commit()
    assert 'data-total="2.7500"' in chart()
    assert 'data-total="2.5000"' not in chart()


def _stocked_by(writer, **ingredient):
    """A pharmacist, an ingredient (``ingredient``: its fields) and a lot of 10 expiring in
    300 days, made by the app ``writer``: (user id, session id, lot id, ingredient id)."""
    from formulary.auth import services as auth
    from formulary.inventory import lots as lot_services
    from formulary.inventory.models import Ingredient

    with writer.app_context():
        user = auth.create_user(db.session, "test", username="other", password="x" * 12,
                                role="pharmacist")
        ing = Ingredient(name_key=ingredient["name"].casefold(), **ingredient)
        db.session.add(ing)
        db.session.flush()
        lot = lot_services.receive_lot(db.session, user, ingredient=ing, lot_number="V1",
                                       expiry_date=clock.today() + timedelta(days=300),
                                       quantity=Decimal(10))
        db.session.commit()
        return user.id, user.get_id(), lot.id, ing.id


def _client_of(viewer, session_id):
    client = viewer.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = session_id
        sess["_fresh"] = True
    return client


def test_an_opened_vial_changed_by_another_process_is_read_anew(app, second_process):
    """The opened vials' ``LotStock``s are reused from one read to the next by their row's
    exact values (``queries.opened_vials``): a vial changed by another process, in its
    stock, its status or its ingredient's in-use period, is read anew on the next view."""
    from formulary.auth.models import User
    from formulary.inventory import ingredients, ledger
    from formulary.inventory import lots as lot_services
    from formulary.inventory.models import Ingredient

    viewer, writer = second_process
    user_id, session_id, lot_id, ing_id = _stocked_by(
        writer, name="Lidocaine 1% vial", category="other", unit="mL", reorder_level=Decimal(5),
        multi_dose=True, in_use_days=28)
    with writer.app_context():  # one draw opens the vial, 10 days ago
        locked = ledger.lock_lots(db.session, [lot_id])
        ledger.post_movement(db.session, locked[lot_id], Decimal("-1"), "batch_use",
                             db.session.get(User, user_id))
        db.session.get(Lot, lot_id).opened_at = clock.now() - timedelta(days=10)
        db.session.commit()
    client = _client_of(viewer, session_id)

    def seen() -> dict[str, int]:
        return figures(client.get("/dashboard").get_data(as_text=True))

    assert seen() == {"with-stock": 1, "low-count": 0, "expiring-count": 0}
    assert seen() == {"with-stock": 1, "low-count": 0, "expiring-count": 0}  # kept

    def change(do) -> None:
        with writer.app_context():
            do(db.session, db.session.get(User, user_id), db.session.get(Lot, lot_id),
               db.session.get(Ingredient, ing_id))
            db.session.commit()

    # its stock: 9 -> 4, below the reorder level of 5
    change(lambda s, u, lot, ing: lot_services.adjust_lot(s, u, lot, quantity_delta=Decimal(-5),
                                                          reason="waste"))
    assert seen() == {"with-stock": 1, "low-count": 1, "expiring-count": 0}
    # its ingredient's in-use period: 7 days, so the vial opened 10 days ago is past it
    change(lambda s, u, lot, ing: ingredients.update_ingredient(s, u, ing, {"in_use_days": 7}))
    assert seen() == {"with-stock": 0, "low-count": 1, "expiring-count": 0}
    # back to 28 days: usable again
    change(lambda s, u, lot, ing: ingredients.update_ingredient(s, u, ing, {"in_use_days": 28}))
    assert seen() == {"with-stock": 1, "low-count": 1, "expiring-count": 0}
    # its status
    change(lambda s, u, lot, ing: lot_services.set_lot_status(s, u, lot, status="quarantined",
                                                              reason="check"))
    assert seen() == {"with-stock": 0, "low-count": 1, "expiring-count": 0}
    change(lambda s, u, lot, ing: lot_services.set_lot_status(s, u, lot, status="available",
                                                              reason="checked"))
    assert seen() == {"with-stock": 1, "low-count": 1, "expiring-count": 0}
    # its expiry date, now within the 90 days the panel counts as expiring
    def expiring_soon(s, u, lot, ing):
        lot.expiry_date = clock.today() + timedelta(days=20)
    change(expiring_soon)
    assert seen() == {"with-stock": 1, "low-count": 1, "expiring-count": 1}


def test_the_stock_panel_and_expiry_chart_drawn_again_when_a_value_shown_changes(app, second_process):
    """The stock panel's template and the expiry chart are drawn again only when a value
    they show differs from the last drawing's (``main.rendered``): a change by another
    process that leaves every count as it was (a lot's quantity, its ingredient's name)
    is on the next view, in the expiring lots and in the chart's value per month."""
    from formulary.auth.models import User
    from formulary.inventory import ingredients
    from formulary.inventory import lots as lot_services
    from formulary.inventory.models import Ingredient

    viewer, writer = second_process
    user_id, session_id, lot_id, ing_id = _stocked_by(
        writer, name="Zinc sulfate", category="mineral", unit="mL", reorder_level=Decimal(2))
    with writer.app_context():  # expiring in 20 days, at 1.50 a mL
        lot = db.session.get(Lot, lot_id)
        lot.expiry_date, lot.unit_cost = clock.today() + timedelta(days=20), Decimal("1.50")
        db.session.commit()
    client = _client_of(viewer, session_id)

    def seen() -> tuple:
        html = client.get("/dashboard").get_data(as_text=True)
        row = re.search(r'<tr data-expiring="V1">.*?</tr>', html, re.S).group(0)
        bars = re.findall(r'<g data-bar="[^"]*" data-value="(\d+)"><rect[^>]*><title>([^<]*)</title>', html)
        return figures(html), " ".join(re.sub(r"<[^>]+>", " ", row).split()), bars

    def change(do) -> None:
        with writer.app_context():
            do(db.session, db.session.get(User, user_id), db.session.get(Lot, lot_id),
               db.session.get(Ingredient, ing_id))
            db.session.commit()

    counts, row, bars = seen()
    assert seen() == (counts, row, bars)  # kept
    assert counts == {"with-stock": 1, "low-count": 0, "expiring-count": 1}
    assert "Zinc sulfate · V1" in row and "10 mL" in row
    assert sum(int(v) for v, _title in bars) == 1 and any("15.00" in t for _v, t in bars)

    change(lambda s, u, lot, ing: lot_services.adjust_lot(s, u, lot, quantity_delta=Decimal(-1),
                                                          reason="waste"))
    now = seen()
    assert now[0] == counts and "9 mL" in now[1] and "10 mL" not in now[1]
    assert any("13.50" in t for _v, t in now[2]) and not any("15.00" in t for _v, t in now[2])

    change(lambda s, u, lot, ing: ingredients.update_ingredient(s, u, ing, {"name": "Zinc gluconate"}))
    now = seen()
    assert now[0] == counts and "Zinc gluconate · V1" in now[1]

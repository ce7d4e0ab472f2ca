"""Benchmark of the inventory pages on a large stock room.

Run: ``.venv/bin/python -m bench.inventory_pages [--requests N]``

Fills a SQLite file with 2,000 ingredients and 50,000 lots with their ledger (bulk
inserts), then measures through the test client, in one run: the baseline page
(``/baseline``: a template, no database beyond the login), the dashboard, the ingredient
list and the lot list; then the dashboard as the first view after a stock change (its
kept panels rendered again) and the stock summary's queries alone. For each: SQL
statements per request, median and 95th percentile of the server time, and the ratio to
the baseline. Goal: every page < 5x at p95.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import event, insert

INGREDIENTS = 2_000
LOTS_PER_INGREDIENT = 25            # 50,000 lots
CURRENT_LOTS = 3                    # lots per ingredient still in stock; the rest are used up
CATEGORIES = ("vitamin", "mineral", "amino_acid", "drug", "anesthetic", "hyaluronic_acid",
              "peptide", "enzyme", "plant_extract", "diluent", "other")
PAGES = ("/baseline", "/dashboard", "/ingredients", "/lots")


def fill(app) -> None:
    from decimal import Decimal

    from formulary.auth import services
    from formulary.extensions import db
    from formulary.inventory.models import Ingredient, Lot, Movement

    now = datetime.now(timezone.utc)
    today = date.today()
    with app.app_context():
        db.create_all()
        services.create_user(db.session, "bench", username="bench", password="bench-password-1",
                             role="pharmacist")
        db.session.commit()
        ingredients = []
        for i in range(1, INGREDIENTS + 1):
            ingredients.append({
                "id": i, "name": f"Ingredient {i:04d}", "name_key": f"ingredient {i:04d}",
                "category": CATEGORIES[i % len(CATEGORIES)], "unit": "mL",
                "strength_amount": Decimal(5), "strength_unit": "mg",
                "reorder_level": Decimal(10 + i % 40), "storage": "room",
                "multi_dose": i % 10 == 0, "in_use_days": None, "active": True, "notes": "",
                "created_at": now, "updated_at": now})
        db.session.execute(insert(Ingredient), ingredients)
        lots, movements = [], []
        lot_id = movement_id = 0
        for i in range(1, INGREDIENTS + 1):
            for k in range(LOTS_PER_INGREDIENT):
                lot_id += 1
                current = k >= LOTS_PER_INGREDIENT - CURRENT_LOTS
                received = now - timedelta(days=(LOTS_PER_INGREDIENT - k) * 30)
                expiry = (today + timedelta(days=15 + (i * 7 + k * 131) % 700) if current
                          else today - timedelta(days=(LOTS_PER_INGREDIENT - k) * 20))
                qty = Decimal(20 + (i + k) % 30)
                on_hand = qty - (i % 7) if current else Decimal(0)
                lots.append({"id": lot_id, "ingredient_id": i, "lot_number": f"L{i:04d}-{k:02d}",
                             "expiry_date": expiry, "supplier": "Bench supplier",
                             "unit_cost": Decimal("0.85"), "quantity_received": qty,
                             "quantity_on_hand": on_hand,
                             "status": "quarantined" if current and i % 97 == 0 else "available",
                             "status_reason": "", "received_at": received,
                             "opened_at": received + timedelta(days=1) if current and i % 10 == 0 and k == LOTS_PER_INGREDIENT - 1 else None,
                             "received_by_id": 1})
                movement_id += 1
                movements.append({"id": movement_id, "lot_id": lot_id, "kind": "receipt",
                                  "reason": None, "quantity_delta": qty, "balance_after": qty,
                                  "note": "", "user_id": 1, "at": received, "batch_id": None})
                if on_hand != qty:
                    movement_id += 1
                    movements.append({"id": movement_id, "lot_id": lot_id, "kind": "adjustment",
                                      "reason": "waste", "quantity_delta": on_hand - qty,
                                      "balance_after": on_hand, "note": "used", "user_id": 1,
                                      "at": received + timedelta(days=5), "batch_id": None})
        db.session.execute(insert(Lot), lots)
        db.session.execute(insert(Movement), movements)
        from formulary.inventory import totals, usage

        totals.rebuild(db.session)  # bulk inserts bypass the session that keeps the totals
        usage.rebuild(db.session)   # and the weekly usage
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        print(f"filled: {INGREDIENTS} ingredients, {len(lots)} lots, {len(movements)} movements")


def measure(app, requests: int) -> dict:
    from formulary.extensions import db

    client = app.test_client()
    with client.session_transaction() as sess:
        with app.app_context():
            from formulary.auth.models import User

            sess["_user_id"] = db.session.execute(db.select(User)).scalar_one().get_id()
    results = {}
    with app.app_context():
        engine = db.engine
    counter = {"n": 0}

    def count(*_args):
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        for url in PAGES:
            for _ in range(10):  # warm up caches and the template
                assert client.get(url).status_code == 200, url
            times, statements = [], set()
            for _ in range(requests):
                counter["n"] = 0
                start = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
                statements.add(counter["n"])
            times.sort()
            results[url] = {"statements": max(statements), "median": statistics.median(times),
                            "p95": times[int(len(times) * 0.95) - 1]}
        # The stock panels are kept until the stock changes (inventory.panel_cache): time the
        # dashboard as the first view after a change too, the revision renewed before each
        # request (outside the timing).
        from formulary.inventory import totals

        times, statements = [], set()
        for i in range(requests + 10):
            with app.app_context():
                totals.new_revision(db.session)
                db.session.commit()
            counter["n"] = 0
            start = time.perf_counter()
            response = client.get("/dashboard")
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status_code == 200
            if i >= 10:
                times.append(elapsed)
                statements.add(counter["n"])
        times.sort()
        results["(dashboard, stock changed)"] = {"statements": max(statements),
                                                 "median": statistics.median(times),
                                                 "p95": times[int(len(times) * 0.95) - 1]}
        # The dashboard shows every area's panels; time the inventory panel on its own too.
        from flask_login import login_user

        from formulary.auth.models import User
        from formulary import clock
        from formulary.inventory import dashboard

        with app.test_request_context("/dashboard"):
            login_user(db.session.execute(db.select(User)).scalar_one())
            times, statements = [], set()
            for i in range(requests + 10):
                counter["n"] = 0
                start = time.perf_counter()
                dashboard.stock_summary(clock.now(), clock.clinic_tz(), 90)
                if i >= 10:
                    times.append((time.perf_counter() - start) * 1000)
                    statements.add(counter["n"] - 1)
            times.sort()
            results["(stock summary alone)"] = {"statements": max(statements),
                                            "median": statistics.median(times),
                                            "p95": times[int(len(times) * 0.95) - 1]}
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    from tests.conftest import make_app

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        app = make_app(f"sqlite:///{path}")
        app.config["PROPAGATE_UNEXPECTED"] = True
        started = time.perf_counter()
        fill(app)
        print(f"fill took {time.perf_counter() - started:.1f} s")
        results = measure(app, args.requests)
        with app.app_context():
            from formulary.extensions import db

            db.engine.dispose()
    base = results["/baseline"]
    print(f"\n{'page':<20}{'statements':>11}{'median ms':>11}{'p95 ms':>9}{'p95 / baseline':>16}")
    for url, r in results.items():
        print(f"{url:<20}{r['statements']:>11}{r['median']:>11.2f}{r['p95']:>9.2f}"
              f"{r['p95'] / base['p95']:>15.1f}x")
    worst = max(r["p95"] / base["p95"] for u, r in results.items() if u.startswith("/") and u != "/baseline")
    print(f"\nworst page p95 = {worst:.1f}x baseline (goal < 5x): {'met' if worst < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()

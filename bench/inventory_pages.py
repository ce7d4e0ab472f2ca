"""Benchmark of the inventory pages on a large stock room.

Run: ``.venv/bin/python -m bench.inventory_pages [--requests N] [--locale fr]``

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

from bench import locales

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


def measure(app, requests: int, locales_: tuple[str, ...] = ("en",)) -> list[dict]:
    """The rows of the table (``bench.picker``'s): each page in each locale, the dashboard
    as the first view after a stock change, and the stock summary's queries alone."""
    from flask_login import login_user

    from bench.picker import _measure, logged_in_client
    from formulary import clock
    from formulary.auth.models import User
    from formulary.extensions import db
    from formulary.inventory import dashboard, totals

    def stock_changed():
        """Outside the timing: a new stock revision, as every commit that wrote a lot or
        a movement makes, so the dashboard renders its kept panels again."""
        totals.new_revision(db.session)
        db.session.commit()

    with app.app_context():
        client = logged_in_client(app, db.session.execute(db.select(User.id)).scalar_one())
        rows = [_measure(client, url, requests, locale=locale, warmup=10)
                for url in PAGES for locale in locales_]
        # The stock panels are kept until the stock changes (inventory.panel_cache): time
        # the dashboard as the first view after a change too.
        rows += [_measure(client, "/dashboard", requests, label="(dashboard, stock changed)",
                          before_each=stock_changed, locale=locale, warmup=10)
                 for locale in locales_]
        # The dashboard shows every area's panels; time the inventory panel's queries alone.
        engine = db.engine
        counter = {"n": 0}

        def count(*_args):
            counter["n"] += 1

        event.listen(engine, "before_cursor_execute", count)
        try:
            with app.test_request_context("/dashboard"):
                login_user(db.session.execute(db.select(User)).scalar_one())
                times, cpu, statements = [], [], set()
                for i in range(requests + 10):
                    counter["n"] = 0
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    dashboard.stock_summary(clock.now(), clock.clinic_tz(), 90)
                    if i >= 10:
                        times.append((time.perf_counter() - start) * 1000)
                        cpu.append((time.thread_time() - start_cpu) * 1000)
                        statements.add(counter["n"] - 1)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        times.sort()
        cpu.sort()
        rows.append({"url": "(stock summary alone)", "median_ms": statistics.median(times),
                     "p95_ms": times[int(len(times) * 0.95) - 1],
                     "cpu_median_ms": statistics.median(cpu),
                     "cpu_p95_ms": cpu[int(len(cpu) * 0.95) - 1], "statements": sorted(statements)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    locales.add_argument(parser)
    args = parser.parse_args()
    from bench.picker import print_ratios
    from tests.conftest import make_app

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        app = make_app(f"sqlite:///{path}")
        app.config["PROPAGATE_UNEXPECTED"] = True
        started = time.perf_counter()
        fill(app)
        print(f"fill took {time.perf_counter() - started:.1f} s")
        rows = measure(app, args.requests, locales.chosen(args))
        with app.app_context():
            from formulary.extensions import db

            db.engine.dispose()
    import os

    print("load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print_ratios(rows, width=34, goal="every page < 5x at p95")
    locales.print_comparison({row["url"]: row for row in rows}, width=34)
    base = rows[0]
    worst = max(r["p95_ms"] / base["p95_ms"] for r in rows
                if r["url"].startswith("/") and not r["url"].startswith("/baseline"))
    print(f"\nworst page p95 = {worst:.1f}x baseline (goal < 5x): {'met' if worst < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()

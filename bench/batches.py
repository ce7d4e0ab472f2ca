"""Benchmark: batches prepared per second on PostgreSQL through gunicorn (4 workers).

    .venv/bin/python -m bench.batches [--seconds 10] [--clients 1,4,16]

A cocktail of 8 components, each stocked in 5 lots with spread expiries (small early
lots, a large last one), so FEFO picking splits across lots as they run out. For each number of concurrent clients the
stock is reset, the clients POST ``/api/v1/batches`` (one keep-alive connection each)
for the given time, and then the books are checked: every lot's on-hand equals its
ledger and is not negative, what the batches took equals what the lots lost, and the
number of batches equals the number of 201 answers (zero oversold).

Uses a throwaway database it creates: ``formulary_bench_batches`` on the local
PostgreSQL (``BENCH_DATABASE_URL`` to change it).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/formulary_bench_batches"
INGREDIENTS = 8
#: Lot sizes, soonest expiry first: the small early lots run out and batches split
#: across lots (5.25 is no multiple of a dose), the last one holds the rest.
LOT_SIZES = tuple(Decimal(q) for q in ("5.25", "10", "20", "50", "3000"))
PER_DOSE = Decimal("0.5")


def ensure_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                            dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (u.database,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{u.database}"')
    conn.close()


def make_bench_app(url: str):
    from config import TestingConfig
    from formulary import create_app

    class BenchConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url

    return create_app(BenchConfig)


def seed(app) -> dict:
    """Empty every table, then stock the cocktail; answers ids and a pharmacist's token."""
    from sqlalchemy import text

    from formulary.auth import services as auth_services
    from formulary.cocktails.models import Cocktail, CocktailVersion, Component
    from formulary.extensions import db
    from formulary.inventory.models import Ingredient, Lot, Movement

    with app.app_context():
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        cocktail = Cocktail(name="Bench eight", name_key="bench eight", status="active")
        version = CocktailVersion(cocktail=cocktail, number=1, area="scalp", storage="fridge",
                                  status="active")
        for i in range(INGREDIENTS):
            ing = Ingredient(name=f"Bench ingredient {i}", name_key=f"bench ingredient {i}",
                             category="vitamin", unit="mL", multi_dose=(i % 4 == 0))
            for j, size in enumerate(LOT_SIZES):
                lot = Lot(ingredient=ing, lot_number=f"B{i}-{j}", status="available",
                          expiry_date=date.today() + timedelta(days=60 + 30 * j),
                          quantity_received=size, quantity_on_hand=size)
                db.session.add_all([lot, Movement(lot=lot, kind="receipt", quantity_delta=size,
                                                  balance_after=size)])
            version.components.append(Component(ingredient=ing, position=i, amount=PER_DOSE,
                                                unit="mL", stock_quantity=PER_DOSE, stock_unit="mL"))
        db.session.add_all([cocktail, version])
        db.session.flush()
        cocktail.active_version = version
        user = auth_services.create_user(db.session, "bench", username="bench",
                                         password="bench password 123", role="pharmacist")
        db.session.flush()
        token, _ = auth_services.create_token(db.session, user, days=1)
        ids = {"cocktail_id": cocktail.id, "token": token}
        db.session.commit()
        db.session.remove()
        return ids


def check_books(app, successes: int) -> dict:
    from sqlalchemy import func, select

    from formulary.compounding.models import Batch, BatchLine
    from formulary.extensions import db
    from formulary.inventory import ledger
    from formulary.inventory.models import Lot

    with app.app_context():
        problems = ledger.check_books(db.session)
        batches = db.session.execute(select(func.count()).select_from(Batch)).scalar_one()
        taken = db.session.execute(select(func.sum(BatchLine.quantity))).scalar() or 0
        lots = db.session.execute(select(Lot)).scalars().all()
        lost = sum(lot.quantity_received - lot.quantity_on_hand for lot in lots)
        negative = [lot.lot_number for lot in lots if lot.quantity_on_hand < 0]
        split = db.session.execute(select(func.count()).select_from(
            select(BatchLine.batch_id).group_by(BatchLine.batch_id)
            .having(func.count() > INGREDIENTS).subquery())).scalar_one()
        db.session.remove()
    oversold = bool(problems or negative or Decimal(str(taken)) != lost or batches != successes)
    return {"batches": batches, "oversold": oversold, "book_problems": len(problems),
            "split_batches": split, "taken": Decimal(str(taken)), "lost": lost}


def run_clients(port: int, ids: dict, clients: int, seconds: float) -> dict:
    body = json.dumps({"cocktail_id": ids["cocktail_id"], "doses": 1})
    headers = {"Authorization": f"Bearer {ids['token']}", "Content-Type": "application/json"}
    counts = {"ok": 0, "short": 0, "other": 0}
    latencies: list[float] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = {"ok": 0, "short": 0, "other": 0}
        lat = []
        start_gate.wait()
        while time.monotonic() < stop_at[0]:
            t = time.monotonic()
            conn.request("POST", "/api/v1/batches", body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            lat.append(time.monotonic() - t)
            if r.status == 201:
                mine["ok"] += 1
            elif r.status == 409 and b"insufficient_stock" in data:
                mine["short"] += 1
            else:
                mine["other"] += 1
        conn.close()
        with lock:
            for k, v in mine.items():
                counts[k] += v
            latencies.extend(lat)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.monotonic() + seconds
    began = time.monotonic()
    start_gate.wait()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0
    return {"clients": clients, "seconds": elapsed, **counts, "per_second": counts["ok"] / elapsed,
            "p50_ms": p(0.5), "p95_ms": p(0.95)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", default="1,4,16")
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    sys.path.insert(0, str(ROOT))
    from tests.serving import Gunicorn

    ensure_database(url)
    app = make_bench_app(url)
    from formulary.extensions import db

    with app.app_context():
        db.drop_all()
        db.create_all()
    results = []
    try:
        with Gunicorn("wsgi:app", env={"DATABASE_URL": url, "FORMULARY_CONFIG": "production",
                                       "SECRET_KEY": "bench-only-secret"},
                      options=("--timeout", "120")) as server:
            for clients in (int(c) for c in args.clients.split(",")):
                ids = seed(app)
                run_clients(server.port, ids, clients, 1.0)  # warm the workers' connections and caches
                ids = seed(app)
                result = run_clients(server.port, ids, clients, args.seconds)
                result.update(check_books(app, result["ok"]))
                results.append(result)
                print(f"{clients:>3} client(s): {result['per_second']:7.1f} batches/s  "
                      f"p50 {result['p50_ms']:6.1f} ms  p95 {result['p95_ms']:6.1f} ms  "
                      f"({result['ok']} batches, {result['short']} short, {result['other']} other; "
                      f"{result['split_batches']} split across lots; "
                      f"oversold: {'YES' if result['oversold'] else 'none'})", flush=True)
    finally:
        with app.app_context():
            db.engine.dispose()
    if len(results) > 1 and results[0]["per_second"]:
        print(f"scaling {results[-1]['clients']} vs {results[0]['clients']} client(s): "
              f"{results[-1]['per_second'] / results[0]['per_second']:.2f}x")
    return 1 if any(r["oversold"] or r["other"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())

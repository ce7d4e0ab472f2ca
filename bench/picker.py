"""Benchmark of the formulation picker (issue 5).

A patient with 30 allergies (ingredients, groups, free text) against 1,000 active
cocktails of 8 components each, bulk-inserted into a SQLite file. Measures, in the same
run, the SQL statements per request and the median / p95 server time of:

- ``/baseline`` (the app's reference page: a template, no query beyond the login),
- the picker page ``/patients/<id>/formulations`` (every area: all 1,000 screened),
- the API ``/api/v1/patients/<id>/formulations`` (every area, 500 per page),
- the picker page as the first view after a formulary change: each request preceded
  (outside the timing) by a write to an allergen group, so the formulary is read again
  (``patients.screen_snapshot``); the other rows are the views between changes.

Each time is also taken as the thread's CPU time: on a loaded machine the wall time
mostly measures the wait for a processor, the CPU time what the request costs.

Run: ``.venv/bin/python -m bench.picker`` (``--requests N``, ``--cocktails N``;
``--locale fr``: each request in English, then in French).
Goal: the picker under 10x the baseline page.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import event, insert, text

from bench import locales
from bench.scale_pages import PAIRED_BLOCK, baseline_block
from config import TestingConfig
from formulary import create_app
from formulary.extensions import db

COMPONENTS = 8
INGREDIENTS = 240
GROUPS = 40
ALLERGIES = 30


def _app(path: Path):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{path}"
        WTF_CSRF_ENABLED = False

    return create_app(Config)


def _seed(cocktails: int) -> tuple[int, str]:
    from formulary.auth import services as auth
    from formulary.cocktails.models import Cocktail, CocktailVersion, Component
    from formulary.db import utcnow
    from formulary.inventory.models import (AllergenGroup, CrossReactivity, Ingredient,
                                            IngredientContraindication,
                                            ingredient_allergen_group)
    from formulary.patients.models import Allergy, Patient, PatientCondition

    rnd = random.Random(5)
    s = db.session
    now = utcnow()
    s.execute(insert(AllergenGroup), [
        {"id": g, "name": f"Group {g}", "name_key": f"group {g}", "description": ""}
        for g in range(1, GROUPS + 1)])
    s.execute(insert(CrossReactivity), [
        {"group_a_id": g, "group_b_id": g + 1, "note": ""} for g in range(1, GROUPS, 3)])
    s.execute(insert(Ingredient), [
        {"id": i, "name": f"Ingredient {i:03d} 10 mg/mL", "name_key": f"ingredient {i:03d} 10 mg/ml",
         "category": "vitamin", "unit": "mL", "storage": "room", "multi_dose": False,
         "active": True, "notes": "", "created_at": now, "updated_at": now}
        for i in range(1, INGREDIENTS + 1)])
    s.execute(insert(ingredient_allergen_group), [
        {"ingredient_id": i, "allergen_group_id": g}
        for i in range(1, INGREDIENTS + 1)
        for g in {rnd.randint(1, GROUPS), rnd.randint(1, GROUPS)}])
    s.execute(insert(IngredientContraindication), [
        {"ingredient_id": i, "condition": "pregnant"} for i in range(1, INGREDIENTS + 1, 17)])
    areas = ("scalp", "face", "neck", "body", "hands")
    s.execute(insert(Cocktail), [
        {"id": c, "name": f"Cocktail {c:04d}", "name_key": f"cocktail {c:04d}", "status": "active",
         "created_at": now} for c in range(1, cocktails + 1)])
    s.execute(insert(CocktailVersion), [
        {"id": c, "cocktail_id": c, "number": 1, "status": "active", "area": areas[c % 5],
         "indication": "benchmark", "storage": "fridge", "notes": "", "created_at": now,
         "approved_at": now} for c in range(1, cocktails + 1)])
    s.execute(Cocktail.__table__.update().values(active_version_id=Cocktail.__table__.c.id))
    s.execute(insert(Component), [
        {"version_id": c, "ingredient_id": ing, "position": n, "amount": Decimal("1"),
         "unit": "mL", "stock_quantity": Decimal("1"), "stock_unit": "mL"}
        for c in range(1, cocktails + 1)
        for n, ing in enumerate(rnd.sample(range(1, INGREDIENTS + 1), COMPONENTS))])
    s.execute(insert(Patient), [{"id": 1, "mrn": "BENCH-1", "first_name": "Bench",
                                 "last_name": "Patient", "allergy_status": "known", "notes": "",
                                 "created_at": now, "updated_at": now}])
    s.execute(insert(PatientCondition), [{"patient_id": 1, "condition": "diabetes"}])
    allergies = []
    for a in range(ALLERGIES):
        row = {"patient_id": 1, "ingredient_id": None, "allergen_group_id": None,
               "substance": None, "severity": "moderate", "reaction": "urticaria",
               "status": "active" if a % 5 else "refuted", "recorded_at": now, "updated_at": now}
        if a % 3 == 0:
            row["ingredient_id"] = rnd.randint(1, INGREDIENTS)
        elif a % 3 == 1:
            row["allergen_group_id"] = 1 + (a * 7) % GROUPS
        else:
            row["substance"] = f"substance {a}"
        allergies.append(row)
    s.execute(insert(Allergy), allergies)
    user = auth.create_user(s, "bench", username="bench", password="bench-password-1",
                            role="practitioner")
    s.flush()
    token, _ = auth.create_token(s, user, days=1)
    s.commit()
    return user.id, token


def _touch_formulary() -> None:
    """A write to the formulary (a group's description set to itself): the formulary
    revision's triggers renew its token, so the next picker reads the formulary again."""
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE allergen_group SET description = description WHERE id = 1"))


def _measure(client, url: str, n: int, headers=None, label: str | None = None,
             before_each=None, locale: str = "en", warmup: int = 2) -> dict:
    engine = db.engine
    headers = locales.headers(locale, headers)
    counts: list[int] = []
    times: list[float] = []
    cpu: list[float] = []
    paired: list[float] = []
    for i in range(n + warmup):
        if i >= warmup and (i - warmup) % PAIRED_BLOCK == 0 and url != "/baseline":
            paired += baseline_block(client)  # see ``scale_pages.PAIRED_BLOCK``
            client.get(url, headers=headers)  # untimed: the /baseline block's leftovers
        if before_each is not None:
            before_each()  # outside the timing
        counter = [0]

        def before(*_a, **_k):
            counter[0] += 1

        event.listen(engine, "before_cursor_execute", before)
        start, start_cpu = time.perf_counter(), time.thread_time()
        response = client.get(url, headers=headers)
        elapsed = time.perf_counter() - start
        elapsed_cpu = time.thread_time() - start_cpu
        event.remove(engine, "before_cursor_execute", before)
        assert response.status_code == 200, (url, response.status_code)
        if i == 0:
            locales.check(response, locale)
        if i >= warmup:  # warm-up requests (caches, templates) are not counted
            times.append(elapsed * 1000)
            cpu.append(elapsed_cpu * 1000)
            counts.append(counter[0])
    return {"url": locales.label(label or url, locale), "median_ms": statistics.median(times), "p95_ms": _p95(times),
            "cpu_median_ms": statistics.median(cpu), "cpu_p95_ms": _p95(cpu),
            "statements": sorted(set(counts)),
            "paired_median_ms": statistics.median(paired or times), "paired_p95_ms": _p95(paired or times)}


def _p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]


def logged_in_client(app, user_id: int):
    """A test client with the user's page session (the benchmarks' pages need a login)."""
    from formulary.auth.models import User

    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = db.session.get(User, user_id).get_id()
        sess["_fresh"] = True
    db.session.remove()
    return client


def print_ratios(rows: list[dict], *, width: int, goal: str | None = None) -> None:
    """The benchmark's table: each request's server time (wall) and CPU time, and their
    ratios to the first row (``/baseline``)."""
    base = rows[0]
    print("Server time (wall) and its CPU time (the thread's, unaffected by other processes")
    print("waiting for the processor); 'x' is the ratio to /baseline, median to median and")
    print("p95 to p95; 'px' is the ratio to the /baseline blocks timed between the row's own")
    print("(paired: the same moment of the box)." + (f" Goal: {goal}." if goal else ""))
    print(f"{'request':{width}} {'median ms':>9} {'p95 ms':>7} {'x med':>6} {'x p95':>6} "
          f"{'cpu med':>8} {'cpu p95':>8} {'x cpu':>6} {'px med':>6} {'px p95':>6} statements")
    for row in rows:
        print(f"{row['url']:{width}} {row['median_ms']:9.1f} {row['p95_ms']:7.1f} "
              f"{row['median_ms'] / base['median_ms']:6.1f} {row['p95_ms'] / base['p95_ms']:6.1f} "
              f"{row['cpu_median_ms']:8.1f} {row['cpu_p95_ms']:8.1f} "
              f"{row['cpu_p95_ms'] / base['cpu_p95_ms']:6.1f} "
              + (f"{row['median_ms'] / row['paired_median_ms']:6.1f} "
                 f"{row['p95_ms'] / row['paired_p95_ms']:6.1f} " if "paired_p95_ms" in row
                 else f"{'-':>6} {'-':>6} ")  # a row that is not a request: none paired
              + f"{row['statements']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--cocktails", type=int, default=1000)
    locales.add_argument(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = _app(Path(tmp) / "bench.db")
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            user_id, token = _seed(args.cocktails)
            print(f"seeded {args.cocktails} active cocktails x {COMPONENTS} components, "
                  f"{ALLERGIES} allergies in {time.perf_counter() - started:.1f} s")
            client = logged_in_client(app, user_id)
            bearer = {"Authorization": f"Bearer {token}"}
            requests = [
                ("/baseline", {}),
                ("/patients/1/formulations", {}),
                ("/patients/1/formulations?area=scalp", {}),
                ("/patients/1/formulations",
                 {"label": "(picker, first view after a formulary change)",
                  "before_each": _touch_formulary}),
                ("/api/v1/patients/1/formulations?per_page=500", {"headers": bearer}),
            ]
            rows = [_measure(client, url, args.requests, locale=locale, **kw)
                    for url, kw in requests for locale in locales.chosen(args)]
            db.engine.dispose()
    print_ratios(rows, width=50)
    locales.print_comparison({row["url"]: row for row in rows})

if __name__ == "__main__":
    main()

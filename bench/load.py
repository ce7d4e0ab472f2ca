"""Load test: a clinic day against gunicorn (4 sync workers) + PostgreSQL, on loopback.

    .venv/bin/python -m bench.load [--users 50] [--minutes 2] [--data demo|year --factor F]

1. Recreates the database ``formulary_load`` (``LOAD_DATABASE_URL`` to change it),
   migrates it (``flask db upgrade``) and loads the demo clinic (``flask demo-data``),
   plus ``--patients`` extra patients and one large lot of every ingredient so batches
   do not run out; or, with ``--data year``, ``formulary.scale.load_year(factor=...)``.
2. Starts gunicorn (``-w 4``, ``SECRET_KEY`` set) on a free loopback port, with the
   login rate limits raised (every simulated person comes from 127.0.0.1).
3. Runs Locust headless (``bench/locustfile.py``) for ``--minutes`` with ``--users``:
   practitioners (6/12: patient search, record, formulation picker, safety API),
   practitioners running courses (2/12: start a course, record the consent, a batch
   prepared for the patient by a pharmacist's token and verified by a second
   pharmacist's, one dose given at the first session, the patient's courses and
   timeline), pharmacists (3/12: receive lots by API, prepare batches by API and by
   the page), a manager (1/12: dashboard, month's batch-log and stock exports); think
   times 2-6 s (manager 5-15 s). Samples the load average every 5 s. ``LOCUST``: the
   locust program to run (default: beside this Python).
4. Reports requests/s, p50 and p95 per group (page, api, export, login) and per request,
   and the errors; then checks the books: every lot's on hand equals its ledger and is
   not negative, every lot lost to batches exactly what the batch lines took, every
   batch has lines for each component of its version, in the amount the version asks,
   no batch gave more doses than it holds, and the audit chain verifies.

Exits 1 when there was any error, or the books are wrong.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/formulary_load"
SECRET = "load-test-only-secret"
BIG_LOT = Decimal("100000")


def recreate_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username,
                         password=u.password, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{u.database}"')


def flask(url: str, *args: str) -> None:
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET)
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)


def make_app(url: str):
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", SECRET)
    from formulary import create_app

    return create_app("development")


def create_missing_tables(app) -> None:
    """Tables of models newer than the last migration (the lead generates migrations at
    the end of an issue): ``create_all`` adds only the tables that do not exist yet."""
    from formulary.extensions import db

    with app.app_context():
        db.create_all()
        db.session.remove()


def add_data(app, extra_patients: int) -> None:
    """Demo clinic plus bulk: extra patients (through the service, audited) and a large
    lot of every ingredient (through the receiving service, so the ledger has it)."""
    from sqlalchemy import select

    from formulary.extensions import db
    from formulary.inventory import lots
    from formulary.inventory.models import Ingredient
    from formulary.patients import services as patients

    first = ("Ana", "Ben", "Chloé", "David", "Emma", "Farid", "Gaia", "Hugo", "Inès", "Jules")
    last = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
            "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Fournier")
    with app.app_context():
        for i in range(extra_patients):
            patients.create_patient(db.session, "load-test", mrn=f"LD{i:06d}",
                                    first_name=first[i % len(first)],
                                    last_name=f"{last[i % len(last)]}-{i // len(last)}",
                                    date_of_birth=date(1950, 1, 1) + timedelta(days=i * 7 % 20000),
                                    allergy_status="none_known" if i % 3 == 0 else "unknown")
            if i % 500 == 499:
                db.session.commit()
        for ing in db.session.execute(select(Ingredient)).scalars():
            lots.receive_lot(db.session, "load-test", ingredient=ing.id, lot_number=f"BULK-{ing.id}",
                             expiry_date=date.today() + timedelta(days=900), quantity=BIG_LOT,
                             supplier="Load test")
        db.session.commit()
        db.session.remove()


def load_year(app, factor: float) -> None:
    from formulary import scale
    from formulary.extensions import db

    with app.app_context():
        scale.load_year(db.session, factor=factor)
        db.session.commit()
        db.session.remove()


def write_config(app, path: Path) -> dict:
    """Ids for the locustfile, and one API token per role."""
    from sqlalchemy import func, select

    from formulary.auth import services as auth
    from formulary.auth.demo import PASSWORD
    from formulary.auth.models import User
    from formulary.cocktails.models import Cocktail
    from formulary.cocktails.models import AREAS
    from formulary.courses.models import ConsentText
    from formulary.extensions import db
    from formulary.inventory.models import Ingredient
    from formulary.patients.models import Patient, PatientCondition

    with app.app_context():
        users: dict[str, list[str]] = defaultdict(list)
        tokens = {}
        for user in db.session.execute(select(User).where(User.active.is_(True)).order_by(User.id)).scalars():
            if user.role in ("practitioner", "pharmacist", "manager"):
                users[user.role].append(user.username)
                if user.role not in tokens:
                    tokens[user.role], _ = auth.create_token(db.session, user, days=1, label="load")
        cocktails = [c.id for c in db.session.execute(
            select(Cocktail).where(Cocktail.status == "active",
                                   Cocktail.active_version_id.is_not(None))).scalars()]
        patients = [{"id": i, "last_name": n} for i, n in db.session.execute(
            select(Patient.id, Patient.last_name).order_by(Patient.id).limit(5000))]
        total = db.session.execute(select(func.count()).select_from(Patient)).scalar_one()
        ingredients = list(db.session.execute(select(Ingredient.id)).scalars())
        # courses: patients without known allergies or conditions (nothing blocks their
        # dose: a pregnancy or an anticoagulant would, rightly), the
        # newest consent text of each area, a second pharmacist to verify (four eyes)
        course_patients = list(db.session.execute(
            select(Patient.id).where(Patient.allergy_status == "none_known",
                                     ~Patient.id.in_(select(PatientCondition.patient_id)))
            .order_by(Patient.id).limit(2000)).scalars())
        consent_texts = {}
        for text in db.session.execute(select(ConsentText).order_by(ConsentText.version)).scalars():
            consent_texts[text.area] = text.id
        verifier = db.session.execute(select(User).where(
            User.role == "pharmacist", User.active.is_(True),
            User.username != users["pharmacist"][0]).order_by(User.id).limit(1)).scalar_one()
        verifier_token, _ = auth.create_token(db.session, verifier, days=1, label="load")
        db.session.commit()
        db.session.remove()
    config = {"password": PASSWORD, "users": users, "tokens": tokens, "cocktails": cocktails,
              "patients": patients, "patient_pages": max(1, min(20, total // 25)),
              "ingredients": ingredients, "areas": list(AREAS),
              "course_patients": course_patients, "consent_texts": consent_texts,
              "verifier_token": verifier_token}
    path.write_text(json.dumps(config))
    return config


def run_locust(port: int, users: int, minutes: float, config: Path, samples: Path) -> list[float]:
    """Runs Locust headless; answers the load averages (1 min) sampled during the run."""
    env = dict(os.environ, LOAD_CONFIG=str(config), LOAD_SAMPLES=str(samples))
    locust = os.environ.get("LOCUST") or str(Path(sys.executable).with_name("locust"))
    cmd = [locust, "-f", str(ROOT / "bench" / "locustfile.py"),
           "--headless", "--host", f"http://127.0.0.1:{port}", "-u", str(users),
           "-r", str(max(1, users // 10)), "-t", f"{int(minutes * 60)}s", "--stop-timeout", "30",
           "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    loads: list[float] = []
    stop = threading.Event()

    def sample():
        while not stop.wait(5):
            loads.append(os.getloadavg()[0])

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    proc.wait()
    stop.set()
    t.join()
    return loads


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def report(samples: Path) -> dict:
    """Figures per group and per request; the rates are over the span from the first
    answer to the last (the ramp-up included, the stop's drain too)."""
    by_group: dict[str, list[float]] = defaultdict(list)
    by_name: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    stamps = []
    for line in samples.read_text().splitlines():
        group, name, ms, ok, at = line.split("\t")
        stamps.append(float(at))
        by_group[group].append(float(ms))
        by_name[name].append(float(ms))
        if ok == "0":
            errors[name] += 1
    total = sum(len(v) for v in by_group.values())
    seconds = max(stamps) - min(stamps) if len(stamps) > 1 else 1.0
    print(f"\n{total} requests in {seconds:.0f} s: {total / seconds:.1f} req/s, "
          f"{sum(errors.values())} errors")
    print(f"{'kind':<34}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'errors':>8}")
    rows = {}
    for title, table in (("group", by_group), ("request", by_name)):
        for name in sorted(table):
            v = table[name]
            err = sum(e for n, e in errors.items() if n == name or n.split(":")[0] == name)
            rows[name] = {"count": len(v), "rps": len(v) / seconds, "p50": pct(v, 0.5),
                          "p95": pct(v, 0.95), "max": max(v), "errors": err}
            r = rows[name]
            print(f"{name:<34}{r['count']:>7}{r['rps']:>8.2f}{r['p50']:>9.0f}{r['p95']:>9.0f}"
                  f"{r['max']:>9.0f}{r['errors']:>8}")
        print()
    steady = steady_state(samples)
    return {"total": total, "rps": total / seconds, "errors": sum(errors.values()), "rows": rows,
            "steady": steady}


def steady_state(samples: Path) -> dict:
    """Per group, the answers after the last login: the ramp-up (every user logging in,
    a deliberately slow password hash, and the login rate limit) left out."""
    lines = [line.split("\t") for line in samples.read_text().splitlines()]
    logins = [float(at) for group, _, _, _, at in lines if group == "login"]
    start = max(logins) if logins else 0.0
    rest = [(g, float(ms), float(at)) for g, _, ms, _, at in lines if float(at) > start]
    if len(rest) < 2:
        return {}
    span = max(at for *_, at in rest) - min(at for *_, at in rest)
    groups: dict[str, list[float]] = defaultdict(list)
    for g, ms, _ in rest:
        groups[g].append(ms)
    out = {g: {"count": len(v), "p50": pct(v, 0.5), "p95": pct(v, 0.95)} for g, v in groups.items()}
    print(f"steady state (after the last login, {span:.0f} s): {len(rest) / span:.1f} req/s; "
          + "; ".join(f"{g} p50 {r['p50']:.0f} / p95 {r['p95']:.0f} ms"
                      for g, r in sorted(out.items())))
    return {"seconds": span, "rps": len(rest) / span, "groups": out}


def check_books(app) -> list[str]:
    """Everything wrong with the books after the run (empty when all is well)."""
    from sqlalchemy import func, select

    from formulary.audit.services import verify_chain
    from formulary.cocktails.models import Component
    from formulary.compounding.models import Batch, BatchLine
    from formulary.extensions import db
    from formulary.inventory import ledger
    from formulary.inventory.models import Lot, Movement

    problems: list[str] = []
    with app.app_context():
        s = db.session
        problems += [str(p) for p in ledger.check_books(s)]
        negative = s.execute(select(Lot.id).where(Lot.quantity_on_hand < 0)).scalars().all()
        problems += [f"lot {i} oversold (negative on hand)" for i in negative]
        taken = dict(s.execute(select(BatchLine.lot_id, func.sum(BatchLine.quantity))
                               .group_by(BatchLine.lot_id)).all())
        lost = dict(s.execute(select(Movement.lot_id, -func.sum(Movement.quantity_delta))
                              .where(Movement.kind == "batch_use").group_by(Movement.lot_id)).all())
        for lot_id in set(taken) | set(lost):
            if Decimal(taken.get(lot_id, 0)) != Decimal(lost.get(lot_id, 0)):
                problems.append(f"lot {lot_id}: batch lines took {taken.get(lot_id, 0)}, "
                                f"the lot lost {lost.get(lot_id, 0)} to batches")
        need = defaultdict(Decimal)
        for version_id, ingredient_id, qty in s.execute(
                select(Component.version_id, Component.ingredient_id, Component.stock_quantity)):
            need[version_id, ingredient_id] += qty
        lines = defaultdict(Decimal)
        for batch_id, ingredient_id, qty in s.execute(
                select(BatchLine.batch_id, BatchLine.ingredient_id, BatchLine.quantity)):
            lines[batch_id, ingredient_id] += qty
        wanted_by_version = defaultdict(dict)
        for (version_id, ingredient_id), qty in need.items():
            wanted_by_version[version_id][ingredient_id] = qty
        batches = s.execute(select(Batch.id, Batch.cocktail_version_id, Batch.doses)).all()
        for batch_id, version_id, doses in batches:
            for ingredient_id, per_dose in wanted_by_version[version_id].items():
                if lines.get((batch_id, ingredient_id), Decimal(0)) != per_dose * doses:
                    problems.append(f"batch {batch_id} incomplete: ingredient {ingredient_id} "
                                    f"has {lines.get((batch_id, ingredient_id), 0)}, "
                                    f"needs {per_dose * doses}")
        from formulary.courses.models import Administration

        given = s.execute(select(Administration.batch_id, func.sum(Administration.doses))
                          .group_by(Administration.batch_id)).all()
        doses_of = {b: d for b, _, d in batches}
        problems += [f"batch {b} over-given: {n} doses given of {doses_of.get(b)}"
                     for b, n in given if n > doses_of.get(b, 0)]
        chain = verify_chain(s)
        problems += [f"audit chain: {p}" for p in chain]
        print(f"books: {len(batches)} batches, {len(taken)} lots used, "
              f"{sum(n for _, n in given)} doses given from {len(given)} batches; "
              f"{'OK' if not problems else f'{len(problems)} PROBLEM(S)'}")
        s.remove()
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--data", choices=("demo", "year"), default="demo")
    parser.add_argument("--factor", type=float, default=0.1, help="with --data year")
    parser.add_argument("--patients", type=int, default=2000, help="extra patients (demo data)")
    args = parser.parse_args(argv)
    url = os.environ.get("LOAD_DATABASE_URL", DEFAULT_URL)
    sys.path.insert(0, str(ROOT))
    from tests.serving import Gunicorn

    t0 = time.monotonic()
    recreate_database(url)
    flask(url, "db", "upgrade")
    app = make_app(url)
    create_missing_tables(app)
    if args.data == "year":
        if importlib.util.find_spec("formulary.scale") is None:
            raise SystemExit("--data year needs formulary/scale.py (load_year); use --data demo")
        load_year(app, args.factor)
    else:
        flask(url, "demo-data")
        add_data(app, args.patients)
    work = Path(tempfile.mkdtemp(prefix="formulary-load-"))
    config, samples = work / "config.json", work / "samples.tsv"
    write_config(app, config)
    print(f"data ready in {time.monotonic() - t0:.0f} s ({args.data})", flush=True)
    # Every simulated person logs in from 127.0.0.1 and several share a demo username:
    # the login rate limits (per address, per username) are raised, not switched off.
    with Gunicorn("wsgi:app", env={"DATABASE_URL": url, "SECRET_KEY": SECRET,
                                   "LOGIN_RATE_PER_IP": "100000",
                                   "LOGIN_RATE_PER_USERNAME": "100000", "FORMULARY_CONFIG": None},
                  options=("--timeout", "120"), log=ROOT / "instance" / "load-gunicorn.log") as server:
        loads = run_locust(server.port, args.users, args.minutes, config, samples)
    result = report(samples)
    if loads:
        print(f"load average (1 min) during the run: min {min(loads):.1f}, "
              f"mean {statistics.mean(loads):.1f}, max {max(loads):.1f}")
    problems = check_books(app)
    for p in problems[:20]:
        print("  " + p)
    (work / "result.json").write_text(json.dumps(
        {"users": args.users, "minutes": args.minutes, "loadavg": loads, **result,
         "book_problems": problems}, default=str))
    print(f"results in {work}")
    return 1 if problems or result["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

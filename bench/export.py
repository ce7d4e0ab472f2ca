"""Benchmark: the batch log export (issue 7).

    .venv/bin/python -m bench.export [--lines 100000] [--repeat 3] [--memory-lines 1000000]

(``--repeat 0`` skips the timings, ``--memory-lines 0`` the memory comparison.)

A SQLite file under a temporary directory gets a batch log of ``--lines`` component lines
(five per batch), inserted in bulk. Then, in the same run, best of ``--repeat``:

- ``ours``: ``write_workbook(batch_log_sheets(...))``, what the page and the API send:
  rows streamed from the database with ``yield_per``, typed cells, number formats, inert
  text, widths, frozen header, filters;
- ``bare``: the same two queries, streamed the same way, appended as plain tuples to a
  write-only openpyxl workbook with no styles (aware datetimes made naive, as openpyxl
  requires): the floor of what openpyxl can do with these rows;
- ``pandas``: the same rows fetched into two DataFrames and written with ``to_excel``
  (skipped when pandas is not installed).

Memory: the export runs in a fresh subprocess for ``--lines`` and for ``--memory-lines``
lines; each reports its peak resident set (``VmHWM``). Goal: ours within 1.5x bare,
faster than pandas, and the 1,000,000-line peak within 100 MB of the 100,000-line peak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

LINES_PER_BATCH = 5
START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
RANGE = (date(2026, 1, 1), date(2099, 12, 31))


def make_app(db_path: Path):
    from config import TestingConfig
    from formulary import create_app

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{db_path}"

    return create_app(Config)


def populate(app, lines: int) -> None:
    """Ingredients, lots, a cocktail, a user and ``lines`` batch lines (bulk inserts)."""
    from sqlalchemy import insert

    from formulary.auth.models import User
    from formulary.cocktails.models import Cocktail, CocktailVersion, Component
    from formulary.compounding.models import Batch, BatchLine
    from formulary.extensions import db
    from formulary.inventory.models import Ingredient, Lot
    from formulary.patients.models import Patient

    with app.app_context():
        db.create_all()
        s = db.session
        user = User(username="bench", password_hash="x", role="pharmacist")
        ings = [Ingredient(name=f"Ingredient {i} 5 mg/mL", name_key=f"ingredient {i} 5 mg/ml",
                           category="vitamin", unit="mL") for i in range(LINES_PER_BATCH)]
        lots = [Lot(ingredient=ing, lot_number=f"LOT-{i:04d}", expiry_date=date(2028, 1, 1),
                    quantity_received=Decimal(10**6), quantity_on_hand=Decimal(10**6))
                for i, ing in enumerate(ings)]
        cocktail = Cocktail(name="Hair boost", name_key="hair boost", status="active")
        version = CocktailVersion(cocktail=cocktail, number=1, area="scalp", status="active")
        version.components = [Component(ingredient=ing, amount=Decimal(1), unit="mL",
                                         stock_quantity=Decimal(1), stock_unit="mL")
                               for ing in ings]
        patients = [Patient(mrn=f"MRN{i:06d}", first_name="A", last_name="B") for i in range(50)]
        s.add_all([user, cocktail, version, *ings, *lots, *patients])
        s.flush()
        cocktail.active_version_id = version.id
        s.commit()
        chunk = 20_000
        batch_id = 0
        for first in range(0, lines, chunk):
            n = min(chunk, lines - first)
            batch_rows, line_rows = [], []
            for _ in range(n // LINES_PER_BATCH):
                batch_id += 1
                at = START + timedelta(minutes=batch_id)
                batch_rows.append({
                    "id": batch_id, "batch_number": f"B{batch_id:09d}", "cocktail_id": cocktail.id,
                    "cocktail_version_id": version.id, "doses": 1 + batch_id % 7,
                    "patient_id": patients[batch_id % 50].id if batch_id % 2 else None,
                    "prepared_by_id": user.id, "prepared_at": at,
                    "beyond_use_at": at + timedelta(hours=24), "status": "prepared",
                    "beyond_use_reason": "",
                    "override_reason": "=reviewed by hand" if batch_id % 10 == 0 else None})
                for k, lot in enumerate(lots):
                    line_rows.append({"batch_id": batch_id, "ingredient_id": lot.ingredient_id,
                                      "lot_id": lot.id, "quantity": Decimal("0.125") * (k + 1),
                                      "unit": "mL"})
            s.execute(insert(Batch), batch_rows)
            s.execute(insert(BatchLine), line_rows)
            s.commit()


def run_ours(app, out) -> None:
    from formulary import clock
    from formulary.extensions import db
    from formulary.reports.batch_log import BatchLogQuery, batch_log_sheets
    from formulary.reports.workbook import write_workbook

    with app.app_context():
        tz = clock.clinic_tz()
        write_workbook(batch_log_sheets(db.session, BatchLogQuery(*RANGE), tz), out, tz=tz)
        db.session.remove()


def _naive(value, tz):
    return value.astimezone(tz).replace(tzinfo=None) if isinstance(value, datetime) else value


def run_bare(app, out) -> None:
    from openpyxl import Workbook

    from formulary import clock
    from formulary.extensions import db
    from formulary.reports.batch_log import (BATCH_COLUMNS, COMPONENT_COLUMNS, BatchLogQuery,
                                             batches_statement, components_statement, stream)

    with app.app_context():
        tz = clock.clinic_tz()
        q = BatchLogQuery(*RANGE)
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Batches")
        ws.append([c.header for c in BATCH_COLUMNS])
        for row in stream(db.session, batches_statement(q, tz)):
            ws.append([_naive(v, tz) for v in row])
        ws = wb.create_sheet("Components")
        ws.append([c.header for c in COMPONENT_COLUMNS])
        for row in stream(db.session, components_statement(q, tz)):
            ws.append(tuple(row))
        wb.save(out)
        db.session.remove()


def run_pandas(app, out) -> None:
    import pandas as pd

    from formulary import clock
    from formulary.extensions import db
    from formulary.reports.batch_log import (BATCH_COLUMNS, COMPONENT_COLUMNS, BatchLogQuery,
                                             batches_statement, components_statement)

    with app.app_context():
        tz = clock.clinic_tz()
        q = BatchLogQuery(*RANGE)
        batches = pd.DataFrame([[_naive(v, tz) for v in row]
                                for row in db.session.execute(batches_statement(q, tz))],
                               columns=[c.header for c in BATCH_COLUMNS])
        components = pd.DataFrame([tuple(row) for row in
                                   db.session.execute(components_statement(q, tz))],
                                  columns=[c.header for c in COMPONENT_COLUMNS])
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            batches.to_excel(writer, sheet_name="Batches", index=False)
            components.to_excel(writer, sheet_name="Components", index=False)
        db.session.remove()


RUNNERS = {"ours": run_ours, "bare": run_bare, "pandas": run_pandas}


def time_once(app, name: str) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds). Everything runs in this process
    (SQLite included), so CPU time is the fair measure on a shared, busy machine."""
    with tempfile.TemporaryFile() as out:
        cpu, wall = time.process_time(), time.perf_counter()
        RUNNERS[name](app, out)
        return time.process_time() - cpu, time.perf_counter() - wall


def peak_rss_mb() -> float:
    """This process's peak resident set in MB. ``VmHWM`` belongs to the process's own
    address space; ``ru_maxrss`` would carry over the parent's peak across fork+exec."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(db_path: str, name: str) -> None:
    """Run one export in this (fresh) process and print its peak RSS in MB."""
    app = make_app(Path(db_path))
    with app.app_context():
        from formulary.extensions import db

        db.session.execute(db.text("SELECT 1"))
    before = peak_rss_mb()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        RUNNERS[name](app, out)
        size = out.tell()
    print(json.dumps({"peak_mb": peak_rss_mb(),
                      "baseline_mb": before, "seconds": time.perf_counter() - started,
                      "bytes": size}))


def measure_memory(db_path: Path, name: str = "ours") -> dict:
    result = subprocess.run([sys.executable, "-m", "bench.export", "--child", str(db_path), name],
                            check=True, capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-lines", type=int, default=1_000_000,
                        help="0 skips the memory comparison")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        memory_child(*args.child)
        return
    try:
        import pandas  # noqa: F401
        names = ["ours", "bare", "pandas"]
    except ImportError:
        names = ["ours", "bare"]
        print("pandas baseline skipped: pandas is not installed")

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        app = make_app(db_path)
        t0 = time.perf_counter()
        populate(app, args.lines)
        print(f"{args.lines:,} batch lines ({args.lines // LINES_PER_BATCH:,} batches) "
              f"inserted in {time.perf_counter() - t0:.1f} s")
        if args.repeat <= 0:
            names = []
        best = {name: float("inf") for name in names}
        wall = {name: float("inf") for name in names}
        for _ in range(args.repeat):           # interleaved, so a busy moment hits all
            for name in names:
                cpu_s, wall_s = time_once(app, name)
                best[name] = min(best[name], cpu_s)
                wall[name] = min(wall[name], wall_s)
        if names:
            print(f"best of {args.repeat}, CPU seconds (wall seconds):")
            for name in names:
                print(f"  {name:7s} {best[name]:7.2f} s CPU ({wall[name]:6.2f} s wall)  "
                      f"{best[name] / best['bare']:.2f}x bare")
            verdict = best["ours"] <= 1.5 * best["bare"]
            print(f"ours within 1.5x bare: {'yes' if verdict else 'NO'}")
            if "pandas" in best:
                print(f"ours faster than pandas: {'yes' if best['ours'] < best['pandas'] else 'NO'}")

        if args.memory_lines:
            small = measure_memory(db_path)
            print(f"memory, {args.lines:,} lines: peak RSS {small['peak_mb']:.0f} MB "
                  f"(process before export {small['baseline_mb']:.0f} MB), {small['seconds']:.1f} s")
            big_path = Path(tmp) / "bench-big.db"
            big_app = make_app(big_path)
            populate(big_app, args.memory_lines)
            big = measure_memory(big_path)
            print(f"memory, {args.memory_lines:,} lines: peak RSS {big['peak_mb']:.0f} MB, "
                  f"{big['seconds']:.1f} s, file {big['bytes'] / 2**20:.0f} MB")
            growth = big["peak_mb"] - small["peak_mb"]
            print(f"peak grows by {growth:.0f} MB: within 100 MB: {'yes' if growth <= 100 else 'NO'}")


if __name__ == "__main__":
    os.environ.setdefault("FORMULARY_CONFIG", "testing")
    main()

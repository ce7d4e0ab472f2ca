"""Benchmark: a batch-log export as a background job (issue 18).

    python -m bench export_job [--lines 1000000] [--load-seconds 30] [--clients 2]
                               [--database-url postgresql://...  [--redis-url redis://...]]

A database (a SQLite file by default; ``--database-url`` names an empty PostgreSQL
database of your own, emptied first) gets a batch log of ``--lines`` component lines (five
per batch, so the export writes ``lines * 1.2`` rows: the Batches and Components sheets),
inserted in bulk. The app is served by gunicorn (2 sync workers) and a ``flask worker``
process runs beside it, as in production (its queue on huey's SQLite file, or on Redis
with ``--redis-url``, under a queue name of its own). In the same run:

1. baseline: ``--clients`` threads load the pages (dashboard, lots, ingredients, batches,
   cocktails) for ``--load-seconds``; the p95 of each page is taken;
2. the whole batch log is asked for through the API (202, a job); while the worker writes
   it, the same load runs again until the job is done. Meanwhile the job's row is read
   every 0.2 s and the worker's resident memory every 0.6 s;
3. the same load again for ``--load-seconds`` after the job (the machine may have got
   busier or quieter meanwhile: both baselines are shown).

Progress: the longest time between two changes of the job's row as the page shows it
(rows written, or the step it says it is in: "Saving the file: N MB written" while the
workbook is compressed after its last row), from the moment the job started
(``started_at``) to the moment it was done; goal <= 2 s. Memory: the worker's RSS in the
first and the last quarter of the job (goal: flat). Pages: p95 during the export within
1.5x of the baseline's. The load average is printed at each step (a shared machine).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("/dashboard", "/lots", "/ingredients", "/batches", "/cocktails/")
PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20)[-1]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_app(url: str):
    from config import TestingConfig
    from formulary import create_app

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url

    return create_app(Config)


def setup(url: str, lines: int) -> None:
    from sqlalchemy import text

    from bench.export import populate
    from formulary.auth import services
    from formulary.extensions import db

    app = make_app(url)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE"))
            db.session.execute(text("CREATE SCHEMA public"))
            db.session.commit()
        db.create_all()
    populate(app, lines)
    with app.app_context():
        services.create_user(db.session, "bench-setup", username="boss", password=PASSWORD,
                             role="admin")
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # The planner's statistics, as autovacuum would have them on a live database.
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        db.engine.dispose()


def login(base: str):
    import requests

    s = requests.Session()
    html = s.get(f"{base}/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    r = s.post(f"{base}/login", data={"username": "boss", "password": PASSWORD,
                                      "csrf_token": token})
    r.raise_for_status()
    return s


def load(base: str, clients: int, until, timings: dict) -> None:
    def client():
        s = login(base)
        i = 0
        while not until():
            page = PAGES[i % len(PAGES)]
            t = time.perf_counter()
            r = s.get(f"{base}{page}")
            elapsed = time.perf_counter() - t
            if r.status_code == 200:
                timings.setdefault(page, []).append(elapsed)
            i += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def timed_load(base: str, clients: int, seconds: float) -> dict:
    timings: dict = {}
    stop_at = time.monotonic() + seconds
    load(base, clients, lambda: time.monotonic() > stop_at, timings)
    return timings


def progress_gaps(samples: list[tuple[float, int, str, str | None]], started: float,
                  finished: float) -> list[tuple[float, float, str]]:
    """(gap seconds, at seconds since start, what came next) between the moments the job's
    row changed as the page shows it (rows written, or the step's text), from its start
    to its end."""
    moments = [(started, "start")]
    last = None
    for at, rows, status, summary in samples:
        if status != "running" or at < started:
            continue
        shown = (rows, summary)
        if shown != last:
            if last is not None or rows or summary:
                moments.append((at, f"{rows} rows" + (f", {summary}" if summary else "")))
            last = shown
    moments.append((finished, "done"))
    return [(b - a, a - started, what) for (a, _), (b, what) in zip(moments, moments[1:])]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--load-seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--database-url", help="an empty PostgreSQL database of your own "
                        "(emptied first); default: a SQLite file in a temporary directory")
    parser.add_argument("--redis-url", help="the worker's queue on Redis (default: huey's "
                        "SQLite file)")
    args = parser.parse_args()
    import requests
    from sqlalchemy import create_engine, text

    tmp = Path(tempfile.mkdtemp(prefix="bench-export-job-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    backend = url.split(":", 1)[0].split("+", 1)[0]
    print(f"{args.lines:,} lines on {backend}, queue on "
          f"{'Redis' if args.redis_url else 'SQLite (huey)'}; load average {load_average()}",
          flush=True)
    t = time.perf_counter()
    setup(url, args.lines)
    print(f"database: {args.lines:,} lines in {time.perf_counter() - t:.0f} s", flush=True)
    env = dict(os.environ, DATABASE_URL=url, FORMULARY_CONFIG="development",
               JOB_QUEUE_PATH=str(tmp / "queue.db"), JOB_FILES_DIR=str(tmp / "files"),
               JOB_QUEUE_NAME=f"bench-export-{uuid.uuid4().hex[:8]}",
               JOB_WORKERS="1", LOGIN_RATE_PER_IP="0", LOGIN_RATE_PER_USERNAME="0")
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                               "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    engine = create_engine(url)
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/login", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        # warm-up (discarded): every gunicorn worker has made the app and read the pages
        timed_load(base, args.clients, 3)
        # 1. baseline
        load_before = load_average()
        baseline = timed_load(base, args.clients, args.load_seconds)

        # 2. the export as a job, under the same load
        token = requests.post(f"{base}/api/v1/tokens",
                              json={"username": "boss", "password": PASSWORD}).json()["token"]
        asked = time.perf_counter()
        r = requests.post(f"{base}/api/v1/jobs/exports",
                          headers={"Authorization": f"Bearer {token}"},
                          json={"report": "batch_log", "from": "2026-01-01", "to": "2035-12-31"})
        assert r.status_code == 202, r.text
        answer_seconds = time.perf_counter() - asked
        job_id = r.json()["id"]
        done = threading.Event()
        samples: list[tuple[float, int, str, str | None]] = []
        memory: list[int] = []
        loads: list[str] = []

        def watch():
            with engine.connect() as conn:
                while not done.is_set():
                    row = conn.execute(text("SELECT rows_done, status, summary FROM job "
                                            "WHERE id = :id"), {"id": job_id}).one()
                    conn.rollback()  # a fresh snapshot at every read
                    samples.append((time.time(), row[0], row[1], row[2]))
                    if len(samples) % 3 == 0:
                        memory.append(rss_kb(worker.pid))
                    if len(samples) % 150 == 0:
                        loads.append(load_average())
                    if row[1] in ("done", "failed"):
                        done.set()
                    time.sleep(0.2)

        watcher = threading.Thread(target=watch)
        watcher.start()
        during: dict = {}
        load(base, args.clients, done.is_set, during)
        watcher.join()
        load_job_end = load_average()
        # 3. the same load after the job
        after = timed_load(base, args.clients, args.load_seconds)
        load_after = load_average()

        with engine.connect() as conn:
            job = conn.execute(text("SELECT status, rows_done, rows_total, started_at, "
                                    "finished_at, error FROM job WHERE id = :id"),
                               {"id": job_id}).one()
        status, rows, total, started_at, finished_at, error = job
        started = _epoch(started_at)
        finished = _epoch(finished_at) if finished_at else samples[-1][0]
        elapsed = finished - started
        gaps = progress_gaps(samples, started, finished)
        longest = max(gaps)
        first_rows = next((g for g in gaps if g[2] != "done"), gaps[0])
        saving = [at for at, _r, st, summary in samples if st == "running" and summary]
        q = max(1, len(memory) // 4)
        print(f"asked (POST, counts the rows): answered 202 in {answer_seconds:.1f} s")
        print(f"job {job_id}: {status}{' (' + error + ')' if error else ''}, {rows:,} of "
              f"{total:,} rows in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s)")
        print(f"progress: {len(gaps) - 1} changes seen, first after {first_rows[0]:.2f} s, "
              f"longest gap {longest[0]:.2f} s at {longest[1]:.0f} s (before: {longest[2]}) "
              f"(goal <= 2 s); saving the file after the last row: "
              f"{(finished - min(saving)) if saving else 0:.1f} s")
        print(f"worker memory (RSS): first quarter {statistics.mean(memory[:q]) / 1024:.0f} MB, "
              f"last quarter {statistics.mean(memory[-q:]) / 1024:.0f} MB, "
              f"peak {max(memory) / 1024:.0f} MB ({len(memory)} samples)")
        print(f"load average: before {load_before}; during {'; '.join(loads) or '-'}; "
              f"job end {load_job_end}; after {load_after}")
        print(f"{'page':14} {'p95 before':>10} {'during':>8} {'after':>8} {'during/before':>14} "
              f"{'during/after':>13}  (n before/during/after)")
        for page in PAGES:
            a, b, c = (p95(x.get(page, [])) for x in (baseline, during, after))
            print(f"{page:14} {a * 1000:8.0f}ms {b * 1000:6.0f}ms {c * 1000:6.0f}ms {b / a:14.2f} "
                  f"{b / c:13.2f}  ({len(baseline.get(page, []))}/{len(during.get(page, []))}"
                  f"/{len(after.get(page, []))})")
    finally:
        engine.dispose()
        for proc, sig in ((worker, signal.SIGINT), (server, signal.SIGTERM)):
            proc.send_signal(sig)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _epoch(value) -> float:
    """A datetime from the job's row (UTC; naive on SQLite) as seconds since the epoch."""
    if isinstance(value, str):
        from datetime import datetime

        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


if __name__ == "__main__":
    main()

"""Benchmark: a batch-log export as a background job (issue 18).

    python -m bench export_job [--lines 1000000] [--load-seconds 20] [--clients 2]

A SQLite file gets a batch log of ``--lines`` component lines (five per batch, so the
export writes ``lines * 1.2`` rows: the Components and Batches sheets). The app is served
by gunicorn (2 sync workers) and a ``flask worker`` process runs beside it, as in
production. In the same run:

1. baseline: ``--clients`` threads load the pages (dashboard, lots, ingredients, batches,
   cocktails) for ``--load-seconds``; the p95 of each page is taken;
2. the whole batch log is asked for through the API (202, a job); while the worker writes
   it, the same load runs again until the job is done. Meanwhile the job's row is read
   every 0.2 s (the longest time between two progress changes is reported: goal <= 2 s)
   and the worker's resident memory every 0.5 s (goal: flat, the last quarter of the run
   within a few MB of the first quarter).

Goal: the pages' p95 during the export within 1.5x of the baseline's.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
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


def setup(db_path: Path, lines: int) -> None:
    from bench.export import make_app, populate
    from formulary.auth import services
    from formulary.extensions import db

    app = make_app(db_path)
    with app.app_context():
        db.create_all()
    populate(app, lines)
    with app.app_context():
        services.create_user(db.session, "bench-setup", username="boss", password=PASSWORD,
                             role="admin")
        db.session.commit()
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--load-seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    import requests

    tmp = Path(tempfile.mkdtemp(prefix="bench-export-job-"))
    db_path = tmp / "bench.db"
    t = time.perf_counter()
    setup(db_path, args.lines)
    print(f"database: {args.lines} lines in {time.perf_counter() - t:.0f} s ({db_path})")
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db_path}", FORMULARY_CONFIG="development",
               JOB_QUEUE_PATH=str(tmp / "queue.db"), JOB_FILES_DIR=str(tmp / "files"),
               JOB_WORKERS="1", LOGIN_RATE_PER_IP="0", LOGIN_RATE_PER_USERNAME="0")
    env.pop("REDIS_URL", None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                               "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/login", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        # warm-up (discarded): every gunicorn worker has made the app and read the pages
        warm_until = time.monotonic() + 3
        load(base, args.clients, lambda: time.monotonic() > warm_until, {})
        # 1. baseline
        baseline: dict = {}
        stop_at = time.monotonic() + args.load_seconds
        load(base, args.clients, lambda: time.monotonic() > stop_at, baseline)

        # 2. the export as a job, under the same load
        token = requests.post(f"{base}/api/v1/tokens",
                              json={"username": "boss", "password": PASSWORD}).json()["token"]
        r = requests.post(f"{base}/api/v1/jobs/exports",
                          headers={"Authorization": f"Bearer {token}"},
                          json={"report": "batch_log", "from": "2026-01-01", "to": "2035-12-31"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        done = threading.Event()
        samples: list[tuple[float, int, str]] = []
        memory: list[int] = []

        def watch():
            conn = sqlite3.connect(db_path, timeout=30)
            while not done.is_set():
                row = conn.execute("SELECT rows_done, status FROM job WHERE id = ?", (job_id,)).fetchone()
                samples.append((time.monotonic(), row[0], row[1]))
                if len(samples) % 3 == 0:
                    memory.append(rss_kb(worker.pid))
                if row[1] in ("done", "failed"):
                    done.set()
                time.sleep(0.2)
            conn.close()

        watcher = threading.Thread(target=watch)
        started = time.monotonic()
        watcher.start()
        during: dict = {}
        load(base, args.clients, done.is_set, during)
        watcher.join()
        elapsed = time.monotonic() - started
        status = samples[-1][2]
        rows = samples[-1][1]

        # progress: longest time between two changes of rows_done while running
        changes = [t for (t, n), (_, m) in zip(((s[0], s[1]) for s in samples[1:]),
                                                 ((s[0], s[1]) for s in samples[:-1])) if n != m]
        running = [s for s in samples if s[2] == "running"]
        first_run = running[0][0] if running else started
        gaps = [b - a for a, b in zip([first_run] + changes, changes)]
        q = max(1, len(memory) // 4)
        print(f"job {job_id}: {status}, {rows} rows in {elapsed:.1f} s "
              f"({rows / elapsed:,.0f} rows/s)")
        print(f"progress: {len(changes)} updates seen, longest gap {max(gaps or [0]):.2f} s "
              f"(goal <= 2 s)")
        print(f"worker memory (RSS): first quarter {statistics.mean(memory[:q]) / 1024:.0f} MB, "
              f"last quarter {statistics.mean(memory[-q:]) / 1024:.0f} MB, "
              f"peak {max(memory) / 1024:.0f} MB")
        print(f"{'page':14} {'p95 alone':>10} {'p95 during':>11} {'ratio':>6}  (n alone/during)")
        for page in PAGES:
            a, b = p95(baseline.get(page, [])), p95(during.get(page, []))
            print(f"{page:14} {a * 1000:9.1f}ms {b * 1000:10.1f}ms {b / a:6.2f}  "
                  f"({len(baseline.get(page, []))}/{len(during.get(page, []))})")
    finally:
        for proc, sig in ((worker, signal.SIGINT), (server, signal.SIGTERM)):
            proc.send_signal(sig)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()

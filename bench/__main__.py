"""``python -m bench NAME [args]``: run one benchmark; with no name, list them.

Each benchmark prints its figures as ratios against a baseline measured in the same run;
``bench/README.md`` holds the latest figures.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "inventory_pages": "dashboard, ingredient and lot lists on 2,000 ingredients / 50,000 lots",
    "picker": "formulation picker: 30 allergies x 1,000 cocktails",
    "batches": "batches/s through gunicorn + PostgreSQL, 1/4/16 clients",
    "export": "batch-log export of 100,000 lines vs bare openpyxl and pandas",
    "timeline": "a patient's timeline with 40 sessions (API; the page with --page URL)",
    "export_job": "a 1,000,000-line export as a job: progress, worker memory, pages' p95 beside it",
    "scale_pages": "every list page on a year-scale database (give its URL)",
    "load": "a clinic day with Locust (needs requirements-bench.txt)",
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print("usage: python -m bench NAME [args]\n")
        for name, what in BENCHMARKS.items():
            print(f"  {name:16} {what}")
        sys.exit(0 if len(sys.argv) < 2 else 2)
    name = sys.argv.pop(1)
    module = importlib.import_module(f"bench.{name}")
    module.main()


if __name__ == "__main__":
    main()

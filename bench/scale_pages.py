"""Time every list page and API list once over on a year-scale database.

Run: ``.venv/bin/python -m bench.scale_pages DATABASE_URL [--requests N] [--locale fr]``

The database is one filled by ``flask --app wsgi demo-data --scale year`` (about 200
ingredients, 5,000 lots, 20,000 patients, 50,000 batches, 400,000 lot lines). Requests go
through the test client as the demo admin (every permission; the API through a bearer
token made for the run and revoked after it); for each URL: SQL statements per request,
median and 95th percentile of the server time and the ratio to ``/baseline`` (a
template, no database beyond the login: to its own row, and to the ``/baseline`` blocks
timed between the row's own, "paired": ``PAIRED_BLOCK``), and the median CPU time of the request's thread
(SQLite's work included, PostgreSQL's not). Only reads: apart from the token and the audit
entries of the patient views (the record of who looked), nothing is changed.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import event

from bench import locales

PAGES = ("/baseline", "/dashboard", "/ingredients", "/lots", "/cocktails/", "/patients",
         "/patients?q=mar", "/patients?q=HELENE", "/patients?q=h%C3%A9l%C3%A8ne%20mar",
         "/patients?q=MRN-31234", "/patients?q={born}", "/patients?q=zz",
         "/patients/{patient}/formulations", "/batches", "/batches?sort=patient",
         "/batches?sort=-mrn", "/batches?sort=cocktail", "/batches?sort=patient&page=1000",
         "/batches?sort=patient&page=700", "/batches?sort=patient&page=500", "/batches?sort=-mrn&page=400",
         "/lots/{lot}/trace", "/audit/")
API = ("ingredients", "lots", "cocktails", "cocktails?per_page=500", "patients", "patients?q=mar",
       "batches", "batches?sort=-patient", "users", "courses", "adverse-events", "patients/{patient}/timeline",
       "lots/{lot}/trace")


def admin_again(db):
    from formulary.auth.models import User

    return db.session.execute(db.select(User).where(User.username == "admin")).scalar_one()


#: The requests of a row are timed in blocks of this many, each after as many /baseline
#: requests ("paired"): the two share the box's moment. The first request of each block
#: is not timed, so that neither block pays the other's leftovers (the garbage collector's
#: debt of a 400 KB answer): each pays its own, as when timed one after another.
PAIRED_BLOCK = 5


def baseline_block(client) -> list[float]:
    """``PAIRED_BLOCK`` /baseline requests timed (ms), after one that is not."""
    client.get("/baseline")
    out = []
    for _ in range(PAIRED_BLOCK):
        start = time.perf_counter()
        assert client.get("/baseline").status_code == 200
        out.append((time.perf_counter() - start) * 1000)
    return out


def measure(app, requests: int, only: tuple[str, ...] = (),
            locales_: tuple[str, ...] = ("en",)) -> dict:
    from formulary.auth import services
    from formulary.auth.models import ApiToken, User
    from formulary.extensions import db
    from formulary.patients.models import Patient

    with app.app_context():
        admin = db.session.execute(db.select(User).where(User.username == "admin")).scalar_one()
        token, row = services.create_token(db.session, admin, days=1, label="bench.scale_pages")
        patient = db.session.execute(db.select(Patient.id).where(Patient.allergy_status == "known")
                                     .order_by(Patient.id).limit(1)).scalar_one()
        born = db.session.execute(db.select(Patient.date_of_birth)
                                  .where(Patient.date_of_birth.is_not(None))
                                  .order_by(Patient.id).limit(1)).scalar_one()
        from formulary.compounding.models import BatchLine

        lot = db.session.execute(db.select(BatchLine.lot_id).group_by(BatchLine.lot_id)
                                 .order_by(db.func.count().desc(), BatchLine.lot_id)
                                 .limit(1)).scalar_one()
        db.session.commit()
        token_id, user_id = row.id, admin.get_id()
        engine = db.engine
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = user_id
        sess["_fresh"] = True
    headers = {"Authorization": f"Bearer {token}"}
    fill = {"patient": patient, "lot": lot, "born": f"{born:%d/%m/%Y}"}
    urls = [(u.format(**fill), {}) for u in PAGES]
    urls += [(f"/api/v1/{name.format(**fill)}", headers) for name in API]
    counter = {"n": 0}

    def count(*_args):
        counter["n"] += 1

    results = {}

    def stock_changed():
        """Outside the timing: a new stock revision, as every commit that wrote a lot or
        a movement makes (a batch, a receipt), so the dashboard renders its panels again."""
        from formulary.inventory import totals

        with app.app_context():
            totals.new_revision(db.session)
            db.session.commit()

    urls.insert(2, ("/dashboard#first view after a stock change", {}))
    if only:  # /baseline always, for the ratios
        urls = [(u, h) for u, h in urls if u == "/baseline" or any(o in u for o in only)]
    event.listen(engine, "before_cursor_execute", count)
    try:
        for (url, plain), locale in ((u, loc) for u in urls for loc in locales_):
            hdrs = locales.headers(locale, plain)
            before = stock_changed if url.endswith("#first view after a stock change") else None
            for _ in range(3):  # warm up caches and the template
                if before:
                    before()
                response = client.get(url, headers=hdrs)
                assert response.status_code == 200, url
            locales.check(response, locale)
            times, cpu, statements, paired = [], [], set(), []
            for i in range(requests):
                if i % PAIRED_BLOCK == 0 and url != "/baseline":
                    paired += baseline_block(client)
                    client.get(url, headers=hdrs)  # untimed: the /baseline block's leftovers
                if before:
                    before()
                counter["n"] = 0
                start, start_cpu = time.perf_counter(), time.thread_time()
                response = client.get(url, headers=hdrs)
                times.append((time.perf_counter() - start) * 1000)
                cpu.append((time.thread_time() - start_cpu) * 1000)
                assert response.status_code == 200, url
                statements.add(counter["n"])
            times.sort()
            cpu.sort()
            paired = sorted(paired) or times
            shown = url.replace(f"/{patient}/", "/<id>/").replace(f"/{lot}/", "/<lot>/")
            results[locales.label(shown.replace(fill["born"], "<dd/mm/yyyy>"), locale)] = {
                "statements": max(statements), "median": statistics.median(times),
                "p95": times[max(0, int(len(times) * 0.95) - 1)],
                "cpu": statistics.median(cpu), "cpu_p95": cpu[max(0, int(len(cpu) * 0.95) - 1)],
                "paired_median": statistics.median(paired),
                "paired_p95": paired[max(0, int(len(paired) * 0.95) - 1)]}
    finally:
        event.remove(engine, "before_cursor_execute", count)
        with app.app_context():
            services.revoke_token(db.session, admin_again(db), db.session.get(ApiToken, token_id))
            db.session.commit()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--only", action="append", default=[],
                        help="time only the URLs holding this text (and /baseline); repeatable")
    locales.add_argument(parser)
    args = parser.parse_args()
    from tests.conftest import make_app

    app = make_app(args.database_url)
    results = measure(app, args.requests, tuple(args.only), locales.chosen(args))
    base = results["/baseline"]
    import os

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.database_url.split('://')[0]}, {args.requests} requests each; load average {load}")
    # the CPU time of the request's thread (the app's Python, and SQLite's work, not
    # PostgreSQL's): what a request costs, where the wall time on a loaded box is mostly
    # the wait for a processor
    # "x med", "x p95": against the /baseline row, timed before every other row (as in
    # the rounds before 9); "px med", "px p95": against the /baseline blocks timed between
    # the row's own blocks (``PAIRED_BLOCK``), so both share the box's moment: a shared
    # box slows down for seconds at a time, and a slow spell during one row made that
    # row's ratio alone 1.5-2x higher (bench/README.md, round 9)
    print(f"{'page':<49}{'statements':>11}{'median ms':>11}{'p95 ms':>9}{'x med':>7}{'x p95':>7}"
          f"{'cpu ms':>8}{'cpu p95':>8}{'x cpu':>7}{'px med':>8}{'px p95':>8}")
    for url, r in results.items():
        print(f"{url:<49}{r['statements']:>11}{r['median']:>11.1f}{r['p95']:>9.1f}"
              f"{r['median'] / base['median']:>6.1f}x{r['p95'] / base['p95']:>6.1f}x"
              f"{r['cpu']:>8.1f}{r['cpu_p95']:>8.1f}{r['cpu'] / base['cpu']:>6.1f}x"
              f"{r['median'] / r['paired_median']:>7.1f}x{r['p95'] / r['paired_p95']:>7.1f}x")
    locales.print_comparison(results, cpu="cpu", wall="median", cpu_p95="cpu_p95", width=44)


if __name__ == "__main__":
    main()

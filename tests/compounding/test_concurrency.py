"""Two pharmacists preparing at once never take more than a lot holds (SPEC §7).

16 preparations start together, from separate connections (threads, each with its own
app context and session; then 4 gunicorn worker processes over HTTP), against a lot that
can serve only 10 of them. Exactly 10 succeed, the other 6 get ``insufficient_stock``, the
lot ends at zero and its ledger sums to it. On PostgreSQL the lots are locked in a fixed
order; on SQLite (a file, shared by every connection) the write transaction is taken first.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func, select

from formulary.auth.models import User
from formulary.cocktails.models import Cocktail
from formulary.compounding import services
from formulary.compounding.models import Batch
from formulary.domain.errors import IdempotencyMismatch, InsufficientStock
from formulary.extensions import db
from formulary.inventory.ledger import check_books, ledger_sum
from formulary.inventory.models import Lot
from tests.compounding.conftest import TZ
from tests.conftest import seed_cocktail
from tests.serving import Gunicorn

CLIENTS = 16
SERVES = 10


def seed() -> dict:
    """A scarce lot (10 mL, 1 mL a dose) and a plentiful one (100 mL, 2 mL a dose) behind
    one active cocktail, and a pharmacist with an API token. Committed."""
    ids = seed_cocktail([("Scarce", str(SERVES), "SCARCE-1", "1"), ("Plenty", "100", "PLENTY-1", "2")],
                        cocktail="Race", username="racer")
    ids["scarce_lot"], ids["plenty_lot"] = ids["lot_ids"]
    return ids


def check_outcome(outcomes: list[str], ids: dict) -> None:
    db.session.expire_all()
    assert sorted(outcomes) == ["ok"] * SERVES + ["short"] * (CLIENTS - SERVES), outcomes
    scarce = db.session.get(Lot, ids["scarce_lot"])
    plenty = db.session.get(Lot, ids["plenty_lot"])
    assert scarce.quantity_on_hand == 0 and ledger_sum(db.session, scarce.id) == 0
    assert plenty.quantity_on_hand == 100 - 2 * SERVES  # all or nothing: no half-batch
    assert ledger_sum(db.session, plenty.id) == plenty.quantity_on_hand
    assert check_books(db.session) == []
    assert db.session.execute(select(func.count()).select_from(Batch)).scalar_one() == SERVES
    numbers = db.session.execute(select(Batch.batch_number)).scalars().all()
    assert len(set(numbers)) == SERVES


def race_threads(app, ids: dict, key: str | None = None) -> list[str]:
    barrier = threading.Barrier(CLIENTS)
    outcomes: list[str] = []

    def worker():
        with app.app_context():
            try:
                barrier.wait()  # before any statement: on SQLite the first one takes the write lock
                user = db.session.get(User, ids["user_id"])
                cocktail = db.session.get(Cocktail, ids["cocktail_id"])
                batch = services.prepare_batch(db.session, user, cocktail=cocktail, doses=1, tz=TZ,
                                               idempotency_key=key)
                db.session.commit()
                outcomes.append("replayed" if batch.replayed else "ok")
            except InsufficientStock:
                db.session.rollback()
                outcomes.append("short")
            except Exception as exc:  # noqa: BLE001 - reported by the assertion
                db.session.rollback()
                outcomes.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes


def test_concurrent_preparations_never_oversell(race_app):
    app, _ = race_app
    ids = seed()
    outcomes = race_threads(app, ids)
    check_outcome(outcomes, ids)


def test_concurrent_retries_with_one_key_make_one_batch(race_app):
    app, _ = race_app
    ids = seed()
    outcomes = race_threads(app, ids, key="double-click")
    assert sorted(outcomes) == ["ok"] + ["replayed"] * (CLIENTS - 1), outcomes
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(Batch)).scalar_one() == 1
    assert db.session.get(Lot, ids["scarce_lot"]).quantity_on_hand == SERVES - 1
    assert check_books(db.session) == []


def test_concurrent_retries_with_one_key_and_other_doses_are_refused(race_app):
    """The same key sent at once with 1 dose by half the clients and 2 by the other half:
    one batch; the clients that asked for its doses get it, the others 409
    idempotency_mismatch (whichever step of the preparation they met the batch at)."""
    app, _ = race_app
    ids = seed()
    barrier = threading.Barrier(CLIENTS)
    outcomes: list[tuple[int, str]] = []

    def worker(doses: int):
        with app.app_context():
            try:
                barrier.wait(60)
                user = db.session.get(User, ids["user_id"])
                cocktail = db.session.get(Cocktail, ids["cocktail_id"])
                batch = services.prepare_batch(db.session, user, cocktail=cocktail, doses=doses,
                                               tz=TZ, idempotency_key="one-key")
                db.session.commit()
                outcomes.append((doses, "replayed" if batch.replayed else "ok"))
            except IdempotencyMismatch:
                db.session.rollback()
                outcomes.append((doses, "mismatch"))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion
                db.session.rollback()
                outcomes.append((doses, repr(exc)))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(1 + n % 2,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    made = [d for d, outcome in outcomes if outcome == "ok"]
    assert len(made) == 1, outcomes
    others = [1 + n % 2 for n in range(CLIENTS)]
    others.remove(made[0])
    assert sorted(outcomes) == sorted([(made[0], "ok")] + [
        (d, "replayed" if d == made[0] else "mismatch") for d in others]), outcomes
    db.session.expire_all()
    assert db.session.execute(select(Batch.doses)).scalars().all() == made
    assert db.session.get(Lot, ids["scarce_lot"]).quantity_on_hand == SERVES - made[0]
    assert check_books(db.session) == []


@pytest.mark.slow
def test_concurrent_preparations_through_gunicorn(race_app, tmp_path):
    app, url = race_app
    ids = seed()
    with Gunicorn.testing(url, tmp_path, options=("--timeout", "60"), start_timeout=30) as server:
        base = server.base
        started = time.monotonic()
        barrier = threading.Barrier(CLIENTS)
        outcomes: list[str] = []
        body = json.dumps({"cocktail_id": ids["cocktail_id"], "doses": 1}).encode()

        def post():
            req = urllib.request.Request(f"{base}/api/v1/batches", data=body, method="POST", headers={
                "Authorization": f"Bearer {ids['token']}", "Content-Type": "application/json"})
            barrier.wait()
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    outcomes.append("ok" if r.status == 201 else f"status {r.status}")
            except urllib.error.HTTPError as exc:
                code = json.loads(exc.read() or b"{}").get("error", {}).get("code")
                outcomes.append("short" if code == "insufficient_stock" else f"{exc.code} {code}")

        threads = [threading.Thread(target=post) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        elapsed = time.monotonic() - started
    check_outcome(outcomes, ids)
    assert elapsed < 60, f"{CLIENTS} requests took {elapsed:.1f} s"

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
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func, select, text

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


def test_a_preparation_waits_for_the_lot_lock(race_app, backend):
    """On PostgreSQL a preparation queues on the lock of a lot it may take from: while
    another transaction holds ``SELECT ... FOR UPDATE`` on the lot, PostgreSQL shows the
    preparation blocked by it, and the batch is made only after the holder ends (the
    order of events, not a duration)."""
    if backend != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite queues whole write transactions)")
    app, _ = race_app
    ids = seed()
    events: list[str] = []

    def prepare():
        with app.app_context():
            try:
                user = db.session.get(User, ids["user_id"])
                cocktail = db.session.get(Cocktail, ids["cocktail_id"])
                services.prepare_batch(db.session, user, cocktail=cocktail, doses=1, tz=TZ)
                db.session.commit()
                events.append("prepared")
            except Exception as exc:  # noqa: BLE001 - reported by the assertion
                db.session.rollback()
                events.append(repr(exc))
            finally:
                db.session.remove()

    with db.engine.connect() as holder:
        holder_pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
        holder.execute(text("SELECT id FROM lot WHERE id = :id FOR UPDATE"), {"id": ids["scarce_lot"]})
        thread = threading.Thread(target=prepare, daemon=True)
        thread.start()
        blocked = []
        for _ in range(1200):  # a bound, not a measure: the waiter usually shows at once
            blocked = holder.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))"),
                {"holder": holder_pid}).scalars().all()
            if blocked or not thread.is_alive():
                break
            thread.join(0.05)
        assert len(blocked) == 1, events
        assert holder.execute(text("SELECT count(*) FROM batch")).scalar_one() == 0
        events.append("released")
        holder.rollback()
    thread.join(60)
    assert not thread.is_alive()
    assert events == ["released", "prepared"]
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(Batch)).scalar_one() == 1
    assert db.session.get(Lot, ids["scarce_lot"]).quantity_on_hand == SERVES - 1


@pytest.mark.slow
def test_concurrent_preparations_through_gunicorn(race_app, tmp_path):
    """Through 4 worker processes: the same outcome, every request answered, and no worker
    timed out or was replaced while the requests queued on the locks (gunicorn's log and
    its workers' process ids, rather than a measured duration)."""
    app, url = race_app
    ids = seed()
    with Gunicorn.testing(url, tmp_path, options=("--timeout", "60"), start_timeout=30) as server:
        base = server.base
        workers = sorted(server.worker_pids())
        barrier = threading.Barrier(CLIENTS)
        outcomes: list[str] = []
        body = json.dumps({"cocktail_id": ids["cocktail_id"], "doses": 1}).encode()

        def post():
            req = urllib.request.Request(f"{base}/api/v1/batches", data=body, method="POST", headers={
                "Authorization": f"Bearer {ids['token']}", "Content-Type": "application/json"})
            barrier.wait(60)
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    outcomes.append("ok" if r.status == 201 else f"status {r.status}")
            except urllib.error.HTTPError as exc:
                code = json.loads(exc.read() or b"{}").get("error", {}).get("code")
                outcomes.append("short" if code == "insufficient_stock" else f"{exc.code} {code}")
            except OSError as exc:  # no answer: a dropped connection, a worker killed
                outcomes.append(f"no answer: {exc!r}")

        threads = [threading.Thread(target=post) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert not any(t.is_alive() for t in threads), "a request never answered"
        assert sorted(server.worker_pids()) == workers  # none timed out and was replaced
    log = (tmp_path / "gunicorn.log").read_text()
    assert "WORKER TIMEOUT" not in log and "Traceback" not in log, log
    check_outcome(outcomes, ids)

"""Helpers of the fault tests: a seeded clinic, the books a fault must not break, and a
gunicorn server on loopback serving the app from a database shared with the test."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.audit.services import verify_chain
from formulary.cocktails.models import Component
from formulary.compounding.models import Batch, BatchLine
from formulary.extensions import db
from formulary.inventory.ledger import check_books
from formulary.inventory.models import Lot, Movement
from tests import serving
from tests.conftest import database_other_processes_open, seed_cocktail

ROOT = Path(__file__).resolve().parents[2]


def seed(stock: str = "100000") -> dict:
    """Two ingredients with a large lot each, one active cocktail (1 mL + 2 mL a dose) and
    a pharmacist with an API token. Committed; no transaction left open."""
    return seed_cocktail([("Fault A", stock, "A-1", "1"), ("Fault B", stock, "B-1", "2")],
                         cocktail="Fault mix", username="faulty")


def counts() -> dict:
    """Rows of every table a request of these tests may write."""
    result = {m.__name__: db.session.execute(select(func.count()).select_from(m)).scalar_one()
              for m in (Lot, Movement, Batch, BatchLine, AuditEntry)}
    db.session.rollback()  # no transaction left open (on SQLite it would hold the write lock)
    return result


def book_problems() -> list[str]:
    """Everything a crash could have left half-written, as readable problems (none: clean).

    - every lot's on hand equals the sum of its ledger and is not negative, and every
      ingredient's total on hand the sum of its lots (``check_books``);
    - every lot's quantity received equals the sum of its receipt movements;
    - every batch has all its lines: per ingredient, doses x the component's stock
      quantity; and its lots' ``batch_use`` movements take exactly its lines;
    - the audit hash chain verifies.
    """
    db.session.expire_all()
    problems = [str(p) for p in check_books(db.session)]
    receipts = dict(db.session.execute(
        select(Movement.lot_id, func.sum(Movement.quantity_delta)).where(Movement.kind == "receipt")
        .group_by(Movement.lot_id)).all())
    q = Decimal("0.000001")
    for lot_id, received in db.session.execute(select(Lot.id, Lot.quantity_received)):
        if Decimal(str(receipts.get(lot_id, 0))).quantize(q) != received.quantize(q):
            problems.append(f"lot {lot_id}: received {received} vs receipts {receipts.get(lot_id)}")
    lines = defaultdict(Decimal)
    line_lots = defaultdict(Decimal)
    for batch_id, ing_id, lot_id, qty in db.session.execute(
            select(BatchLine.batch_id, BatchLine.ingredient_id, BatchLine.lot_id, BatchLine.quantity)):
        lines[batch_id, ing_id] += qty
        line_lots[batch_id, lot_id] += qty
    uses = defaultdict(Decimal)
    for batch_id, lot_id, delta in db.session.execute(
            select(Movement.batch_id, Movement.lot_id, Movement.quantity_delta).where(Movement.kind == "batch_use")):
        uses[batch_id, lot_id] -= delta
    components = defaultdict(list)
    for version_id, ing_id, stock_qty in db.session.execute(
            select(Component.version_id, Component.ingredient_id, Component.stock_quantity)):
        components[version_id].append((ing_id, stock_qty))
    for batch_id, version_id, doses in db.session.execute(
            select(Batch.id, Batch.cocktail_version_id, Batch.doses)):
        for ing_id, stock_qty in components[version_id]:
            if lines[batch_id, ing_id].quantize(q) != (stock_qty * doses).quantize(q):
                problems.append(f"batch {batch_id}: {lines[batch_id, ing_id]} of ingredient {ing_id}, "
                                f"wants {stock_qty * doses}")
    for key in set(line_lots) | {k for k in uses if k[0] is not None}:
        if line_lots[key].quantize(q) != uses[key].quantize(q):
            problems.append(f"batch {key[0]} lot {key[1]}: lines {line_lots[key]} vs movements {uses[key]}")
    problems += [f"audit {p.seq}: {p.problem}" for p in verify_chain(db.session)]
    db.session.rollback()
    return problems


@pytest.fixture
def shared_app(backend, tmp_path, request):
    """``(app, url)``: an app whose database other processes can open too: the PostgreSQL
    test database (the ``app`` fixture's, emptied) or a SQLite file."""
    yield from database_other_processes_open(backend, tmp_path, request, "faults.db")


# --- gunicorn on loopback ----------------------------------------------------------------

def fault_server(url: str, tmp_path: Path, workers: int = 3) -> serving.Gunicorn:
    """``with fault_server(url, tmp_path) as server: server.base``: the app on ``url``,
    preloaded (the workers forked from one master, as in production)."""
    return serving.Gunicorn.testing(url, tmp_path, workers=workers, start_timeout=30, options=(
        "--timeout", "30", "--graceful-timeout", "5", "--preload"))


def call(base: str, token: str, method: str, path: str, body: dict | None = None,
         timeout: float = 30) -> tuple[int | str, dict]:
    """One API call; ``(status, json)``, or ``("dropped", {})`` when the connection broke."""
    req = urllib.request.Request(f"{base}/api/v1/{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            data = json.loads(exc.read() or b"{}")
        except ValueError:
            data = {}
        data["_retry_after"] = exc.headers.get("Retry-After")
        return exc.code, data
    except (OSError, http_client_errors()) as exc:  # RemoteDisconnected, ConnectionReset, ...
        return "dropped", {"error": repr(exc)}


def http_client_errors():
    import http.client

    return http.client.HTTPException

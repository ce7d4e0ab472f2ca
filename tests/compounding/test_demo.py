"""The demo clinic's batches are made through the service and keep the books right."""

from __future__ import annotations

from sqlalchemy import select

from formulary.cli import load_demo
from formulary.compounding.models import Batch
from formulary.inventory.ledger import check_books


def test_demo_batches(session):
    ctx = load_demo(session)
    session.commit()
    batches = session.execute(select(Batch)).scalars().all()
    assert len(batches) >= 20 and len(ctx["batches"]) == len(batches)
    statuses = [b.status for b in batches]
    assert statuses.count("discarded") == 1 and statuses.count("verified") >= 10
    assert all(b.verified_by_id == ctx["users"]["pharmacist2"].id for b in batches if b.verified_by_id)
    overrides = [b for b in batches if b.override_reason]
    assert len(overrides) == 1 and overrides[0].patient_id and overrides[0].safety_verdict == "blocked"
    assert check_books(session) == []

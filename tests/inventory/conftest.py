"""Fixtures of the inventory tests."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from formulary.extensions import db
from tests.conftest import make_app

BIOTIN_GTIN = "09506000134352"   # GS1's example GTIN: valid check digit
TABLES = ("ingredient", "ingredient_gtin", "ingredient_allergen_group",
          "ingredient_contraindication", "allergen_group", "cross_reactivity", "lot",
          "movement", "audit_entry")


def in_days(n: int) -> date:
    return date.today() + timedelta(days=n)


def yymmdd(d: date) -> str:
    return d.strftime("%y%m%d")


@pytest.fixture
def pharmacist(make_user):
    return make_user("pharmacist")


@pytest.fixture
def biotin(make_ingredient):
    return make_ingredient("Biotin 5 mg/mL", unit="mL", strength=(5, "mg"), gtins=[BIOTIN_GTIN],
                           reorder_level=10, max_dose=(20, "mg"))


@pytest.fixture
def snapshot(app):
    """Everything the inventory area stores, to assert that a refusal changed nothing."""

    def take():
        db.session.expire_all()
        out = {}
        for table in TABLES:
            rows = db.session.execute(text(f"SELECT * FROM {table}")).all()
            out[table] = sorted(tuple(str(v) for v in row) for row in rows)
        db.session.rollback()
        return out

    return take


@pytest.fixture
def books(app):
    """Assert that every lot's on-hand quantity equals the sum of its ledger."""
    from formulary.inventory.ledger import check_books

    def check():
        db.session.expire_all()
        problems = check_books(db.session)
        db.session.rollback()
        assert problems == []

    return check


@pytest.fixture
def shared_app(backend, app, tmp_path):
    """An app whose database every thread reaches through its own connection (SQLite: a
    file, not the shared in-memory database)."""
    if backend != "sqlite":
        yield app
        return
    file_app = make_app(f"sqlite:///{tmp_path / 'shared.db'}")
    with file_app.app_context():
        db.create_all()
    yield file_app
    with file_app.app_context():
        db.engine.dispose()

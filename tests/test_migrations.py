"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text

from formulary.extensions import db
from tests.conftest import make_app

ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "").strip()


def _diff(app):
    with app.app_context():
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, db.metadata)


def _round_trip(url):
    app = make_app(url)
    with app.app_context():
        upgrade(directory="migrations")
    assert _diff(app) == []
    with app.app_context():
        downgrade(directory="migrations", revision="base")
        upgrade(directory="migrations")
        db.engine.dispose()


def test_migrations_on_sqlite(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'migrated.db'}")


@pytest.mark.postgres
def test_migrations_on_postgresql():
    if not ADMIN_URL:
        pytest.skip("PostgreSQL migration test skipped: TEST_POSTGRES_ADMIN_URL is not set")
    name = f"formulary_migr_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _round_trip(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

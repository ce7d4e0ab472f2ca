"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
import warnings
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import IntegrityError

from formulary.extensions import db
from tests import tools
from tests.conftest import make_app

ADMIN_URL = tools.POSTGRES_ADMIN_URL


def _diff(app):
    with app.app_context():
        with db.engine.connect() as conn:
            from formulary.patients import search

            ctx = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_name": search.not_in_metadata})
            with warnings.catch_warnings():
                # SQLAlchemy cannot reflect SQLite's expression indexes (the patient's
                # order, ix_patient_*_order): it says so and leaves them out of the
                # comparison; _round_trip checks them itself (_expression_indexes)
                warnings.filterwarnings("ignore", "Skipped unsupported reflection of "
                                        "expression-based index", sa_exc.SAWarning)
                warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified "
                                        "expression-based index", UserWarning)
                return compare_metadata(ctx, db.metadata)


#: The expression indexes (7c1d3e5f9a20), which SQLAlchemy cannot reflect on SQLite: each
#: one's expressions as the database writes them back, spaces and quotes taken out.
EXPRESSION_INDEXES = {"ix_patient_name_order": "lower(last_name),lower(first_name)",
                      "ix_patient_mrn_order": "lower(mrn)"}


def _expression_indexes(conn) -> dict:
    if conn.dialect.name == "sqlite":
        sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN :names"
    else:
        sql = "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN :names"
    from sqlalchemy import bindparam

    found = conn.execute(text(sql).bindparams(bindparam("names", expanding=True)),
                         {"names": list(EXPRESSION_INDEXES)}).all()
    out = {}
    for name, definition in found:
        inner = definition[definition.index("(", definition.upper().index(" ON ")) + 1:
                           definition.rindex(")")]
        out[name] = (inner.replace(" ", "").replace('"', "").replace("::text", "")
                     .replace("((", "(").replace("))", ")"))
    return out


def _round_trip(url):
    from formulary import append_only
    from formulary.cocktails import revision

    app = make_app(url)
    with app.app_context():
        upgrade(directory="migrations")
        # the append-only ledger and audit log (a7c41e2d9b10), as create_all makes them
        assert append_only.missing_triggers(db.session.connection()) == []
        for statement in ("UPDATE audit_entry SET summary = 'changed'", "DELETE FROM audit_entry"):
            db.session.execute(text(
                "INSERT INTO audit_entry (seq, at, username, action, object_type, object_id, "
                "summary, prev_hash, hash) VALUES (1, :t, 'x', 'a', 'o', '1', 's', 'p', 'h')"),
                {"t": "2026-12-01 09:00:00"})
            with pytest.raises(IntegrityError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        # the formulary revision's triggers (5b0e7c3f9a21), as create_all makes them
        assert revision.missing_triggers(db.session.connection()) == []
        before = revision.token(db.session)
        db.session.execute(text(
            "INSERT INTO allergen_group (name, name_key, description) VALUES ('x', 'x', '')"))
        assert revision.token(db.session) not in (before, None)
        db.session.rollback()
        # the patient search's index (3c9e51b7d2a4), as create_all makes it
        from formulary.patients import search

        assert search.missing(db.session.connection()) == []
        assert _expression_indexes(db.session.connection()) == EXPRESSION_INDEXES
        db.session.remove()
    assert _diff(app) == []
    with app.app_context():
        downgrade(directory="migrations", revision="5b0e7c3f9a21")
        with db.engine.connect() as conn:
            assert len(append_only.missing_triggers(conn)) == 4
            conn.rollback()
        downgrade(directory="migrations", revision="ddc8664d1994")
        with db.engine.connect() as conn:
            assert len(revision.missing_triggers(conn)) == len(revision.WATCHED) * (
                3 if conn.dialect.name == "sqlite" else 4)
            conn.rollback()
        downgrade(directory="migrations", revision="base")
        upgrade(directory="migrations")
        db.engine.dispose()


def _totals_filled_from_lots(url):
    """Upgrading a database that already holds lots gives every ingredient its total on
    hand (ddc8664d1994), as the sum of its lots."""
    app = make_app(url)
    with app.app_context():
        upgrade(directory="migrations", revision="e37e002494d1")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO ingredient (id, name, name_key, category, unit, storage, multi_dose, "
                "active, notes, created_at, updated_at) VALUES "
                "(1, 'Biotin', 'biotin', 'vitamin', 'mL', 'room', false, true, '', :t, :t), "
                "(2, 'Zinc', 'zinc', 'mineral', 'mL', 'room', false, true, '', :t, :t)"),
                {"t": "2026-11-01 09:00:00"})
            conn.execute(text(
                "INSERT INTO lot (id, ingredient_id, lot_number, expiry_date, supplier, "
                "quantity_received, quantity_on_hand, status, status_reason, received_at) VALUES "
                "(1, 1, 'A', '2027-06-30', '', 10, 2.5, 'available', '', :t), "
                "(2, 1, 'B', '2027-07-31', '', 10, 0.125, 'quarantined', '', :t), "
                "(3, 1, 'C', '2025-01-31', '', 10, 0, 'available', '', :t)"),
                {"t": "2026-11-01 09:00:00"})
        upgrade(directory="migrations")
        from formulary.inventory.models import IngredientStock
        from formulary.inventory.totals import check_totals

        totals = dict(db.session.execute(
            db.select(IngredientStock.ingredient_id, IngredientStock.on_hand)).all())
        assert totals == {1: Decimal("2.625"), 2: Decimal(0)}
        assert check_totals(db.session) == []
        db.session.remove()
        db.engine.dispose()


def test_migrations_on_sqlite(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'migrated.db'}")


def test_stock_totals_are_filled_on_upgrade_sqlite(tmp_path):
    _totals_filled_from_lots(f"sqlite:///{tmp_path / 'totals.db'}")


@pytest.mark.postgres
@pytest.mark.parametrize("check", [_round_trip, _totals_filled_from_lots])
def test_migrations_on_postgresql(check):
    if not ADMIN_URL:
        pytest.skip(tools.POSTGRES_ADMIN_SKIP)
    name = f"formulary_migr_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        check(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_outstanding_batches_are_filled_on_upgrade_sqlite(tmp_path):
    """Upgrading a database that already holds batches (5b8e2d4f7a19) flags each
    outstanding batch and counts them, as a recount by the rule; the courses revision
    gets its first token."""
    from formulary.cli import load_demo
    from formulary.compounding import tally
    from formulary.compounding.models import Batch
    from formulary.courses import revision as courses_revision
    from formulary.inventory.models import Lot

    app = make_app(f"sqlite:///{tmp_path / 'tally.db'}")
    with app.app_context():
        upgrade(directory="migrations")
        load_demo(db.session)
        db.session.commit()
        # one batch not outstanding by each cause: discarded, and held by a quarantined lot
        first, second = db.session.execute(db.select(Batch).order_by(Batch.id).limit(2)).scalars()
        first.status = "discarded"
        db.session.get(Lot, second.lines[0].lot_id).status = "quarantined"
        db.session.commit()
        assert tally.check_tally(db.session) == []
        kept = db.session.execute(db.select(tally.tally_statement())).scalar_one()
        outstanding = dict(db.session.execute(db.select(Batch.id, Batch.outstanding)).all())
        assert 0 < kept < len(outstanding)
        db.session.remove()
        downgrade(directory="migrations", revision="b8e2d4f6a1c9")
        upgrade(directory="migrations")
        assert dict(db.session.execute(db.select(Batch.id, Batch.outstanding)).all()) == outstanding
        assert db.session.execute(db.select(tally.tally_statement())).scalar_one() == kept
        assert tally.check_tally(db.session) == []
        assert courses_revision.revision(db.session) is not None
        db.session.remove()
        db.engine.dispose()

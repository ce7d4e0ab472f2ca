"""patient search and weekly usage

``patient.search_text``: what a patient is found by (last name, first name, MRN, date of
birth; case and accents dropped), kept by the ORM on every write
(``formulary.patients.models``), filled here from the rows already there. Indexed for
substring search: ``pg_trgm`` and a trigram GIN index on PostgreSQL; on SQLite an FTS5
table with the trigram tokenizer over the column (``content='patient'``) and the three
triggers that keep it (the same DDL as ``formulary.patients.search``). A btree index
serves the list's order.

``ix_component_version_order``: each version's ingredient ids in component order, read
from the index alone by the safety screen's reading of the formulary.

``weekly_usage``: what batches drew of each ingredient per week of the clinic (Monday to
Sunday in its time zone), in millionths of the ingredient's unit, kept by
``formulary.inventory.usage`` at every commit that wrote batch_use movements; filled here
from the ledger.

Revision ID: 3c9e51b7d2a4
Revises: fd760c365946
Create Date: 2026-12-05 15:30:00

"""
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
import os
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

from formulary.domain.text import search_key


# revision identifiers, used by Alembic.
revision = '3c9e51b7d2a4'
down_revision = 'e3599e9284c0'
branch_labels = None
depends_on = None

FTS = [
    "DROP TABLE IF EXISTS patient_search",
    "CREATE VIRTUAL TABLE patient_search USING fts5(search_text, content='patient', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS patient_search_insert AFTER INSERT ON patient BEGIN "
    "INSERT INTO patient_search (rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS patient_search_delete AFTER DELETE ON patient BEGIN "
    "INSERT INTO patient_search (patient_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS patient_search_update AFTER UPDATE OF search_text ON patient BEGIN "
    "INSERT INTO patient_search (patient_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO patient_search (rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO patient_search (patient_search) VALUES ('rebuild')",
]


def _clinic_tz():
    try:
        from flask import current_app
        return ZoneInfo(current_app.config["CLINIC_TIMEZONE"])
    except (ImportError, RuntimeError, KeyError):
        return ZoneInfo(os.environ.get("CLINIC_TIMEZONE", "Europe/Paris"))


def _search_text(mrn, first_name, last_name, born):
    if isinstance(born, str):
        born = born[:10]
    elif isinstance(born, date):
        born = born.isoformat()
    return " ".join(search_key(str(v or ""))[:cut] for v, cut in
                    ((last_name, 250), (first_name, 250), (mrn, 80), (born, 10))).strip()


def _fill_search(conn):
    rows = conn.execute(sa.text(
        "SELECT id, mrn, first_name, last_name, date_of_birth FROM patient")).all()
    values = [{"i": r[0], "s": _search_text(r[1], r[2], r[3], r[4])} for r in rows]
    for start in range(0, len(values), 2000):
        conn.execute(sa.text("UPDATE patient SET search_text = :s WHERE id = :i"),
                     values[start:start + 2000])


def _fill_usage(conn):
    tz = _clinic_tz()
    sums = defaultdict(lambda: [0, 0])
    result = conn.execute(sa.text(
        "SELECT lot.ingredient_id, movement.at, movement.quantity_delta FROM movement "
        "JOIN lot ON lot.id = movement.lot_id WHERE movement.kind = 'batch_use'")
        .execution_options(yield_per=5000))
    for ingredient_id, at, delta in result:
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        local = at.replace(tzinfo=timezone.utc).astimezone(tz).date()
        entry = sums[(ingredient_id, local - timedelta(days=local.weekday()))]
        entry[0] += int((-Decimal(str(delta)) * 1_000_000).to_integral_value())
        entry[1] += 1
    rows = [{"i": i, "w": w, "q": q, "d": d} for (i, w), (q, d) in sorted(sums.items())]
    for start in range(0, len(rows), 2000):
        conn.execute(sa.text(
            "INSERT INTO weekly_usage (ingredient_id, week_start, quantity_micro, draws) "
            "VALUES (:i, :w, :q, :d)"), rows[start:start + 2000])


def upgrade():
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    op.create_table('weekly_usage',
    sa.Column('ingredient_id', sa.Integer(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('quantity_micro', sa.BigInteger(), nullable=False),
    sa.Column('draws', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['ingredient_id'], ['ingredient.id'], name=op.f('fk_weekly_usage_ingredient_id_ingredient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ingredient_id', 'week_start', name=op.f('pk_weekly_usage'))
    )
    with op.batch_alter_table('weekly_usage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_weekly_usage_week_start'), ['week_start'], unique=False)
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.String(length=600), server_default='', nullable=False))
    _fill_search(conn)
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_search_text'), ['search_text'], unique=False)
    if sqlite:
        for statement in FTS:
            op.execute(statement)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX IF NOT EXISTS ix_patient_search_trgm ON patient "
                   "USING gin (search_text gin_trgm_ops)")
    _fill_usage(conn)
    # the safety screen reads each version's ingredients in order from this index alone
    # (not in batch mode: SQLite makes an index without copying the table, whose
    # formulary-revision triggers stay)
    op.create_index('ix_component_version_order', 'component',
                    ['version_id', 'position', 'id', 'ingredient_id'], unique=False)


def downgrade():
    conn = op.get_bind()
    op.drop_index('ix_component_version_order', table_name='component')
    if conn.dialect.name == "sqlite":
        for name in ("patient_search_insert", "patient_search_delete", "patient_search_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS patient_search")
    else:
        op.execute("DROP INDEX IF EXISTS ix_patient_search_trgm")
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_search_text'))
        batch_op.drop_column('search_text')
    with op.batch_alter_table('weekly_usage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_weekly_usage_week_start'))
    op.drop_table('weekly_usage')

"""each batch carries its patient's sort keys, kept by triggers

``batch.patient_last_key``, ``patient_first_key`` and ``patient_mrn_key``: ``lower()`` of the
batch's patient's last name, first name and MRN (NULL for a batch of no patient), with
an index per order of the batch list (``ix_batch_patient_name_order``,
``ix_batch_patient_mrn_order``), filled from the patients, then kept by the database's
triggers (``compounding.patient_order``, which holds the same DDL): the batch list sorted
by patient pages through an index instead of walking the join to every patient.

Revision ID: 5f3b8d2a7c41
Revises: 2d7a9c4e6f18
Create Date: 2026-12-06 06:10:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '5f3b8d2a7c41'
down_revision = '2d7a9c4e6f18'
branch_labels = None
depends_on = None

KEYS = ("patient_last_key", "patient_first_key", "patient_mrn_key")
SOURCES = ("last_name", "first_name", "mrn")


def _triggers(dialect: str) -> list[str]:
    """``compounding.patient_order.trigger_statements`` as of this revision."""
    keys, names = ", ".join(KEYS), ", ".join(SOURCES)

    def from_patient(patient_id):
        return ", ".join(f"{k} = (SELECT lower({s}) FROM patient WHERE id = {patient_id})"
                         for k, s in zip(KEYS, SOURCES))

    if dialect == "sqlite":
        differs = " OR ".join(f"NEW.{k} IS NOT (SELECT lower({s}) FROM patient "
                              "WHERE id = NEW.patient_id)" for k, s in zip(KEYS, SOURCES))
        return [
            "CREATE TRIGGER IF NOT EXISTS batch_patient_order_insert AFTER INSERT ON batch "
            "FOR EACH ROW WHEN NEW.patient_id IS NOT NULL "
            f"BEGIN UPDATE batch SET {from_patient('NEW.patient_id')} WHERE id = NEW.id; END",
            f"CREATE TRIGGER IF NOT EXISTS batch_patient_order_update AFTER UPDATE OF patient_id, "
            f"{keys} ON batch FOR EACH ROW WHEN {differs} "
            f"BEGIN UPDATE batch SET {from_patient('NEW.patient_id')} WHERE id = NEW.id; END",
            f"CREATE TRIGGER IF NOT EXISTS batch_patient_order_patient AFTER UPDATE OF {names} "
            "ON patient FOR EACH ROW BEGIN UPDATE batch SET "
            + ", ".join(f"{k} = lower(NEW.{s})" for k, s in zip(KEYS, SOURCES))
            + " WHERE patient_id = NEW.id; END",
        ]
    changed = " OR ".join(f"NEW.{s} IS DISTINCT FROM OLD.{s}" for s in SOURCES)
    return [
        "CREATE OR REPLACE FUNCTION batch_patient_order_of_batch() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN IF NEW.patient_id IS NULL THEN "
        + " ".join(f"NEW.{k} := NULL;" for k in KEYS)
        + f" ELSE SELECT {', '.join(f'lower({s})' for s in SOURCES)} INTO "
        + ", ".join(f"NEW.{k}" for k in KEYS)
        + " FROM patient WHERE id = NEW.patient_id FOR SHARE; END IF; RETURN NEW; END $$",
        "CREATE OR REPLACE TRIGGER batch_patient_order_of_batch BEFORE INSERT OR UPDATE OF "
        f"patient_id, {keys} ON batch FOR EACH ROW EXECUTE FUNCTION batch_patient_order_of_batch()",
        "CREATE OR REPLACE FUNCTION batch_patient_order_of_patient() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN IF {changed} THEN UPDATE batch SET "
        + ", ".join(f"{k} = lower(NEW.{s})" for k, s in zip(KEYS, SOURCES))
        + " WHERE patient_id = NEW.id; END IF; RETURN NULL; END $$",
        f"CREATE OR REPLACE TRIGGER batch_patient_order_of_patient AFTER UPDATE OF {names} "
        "ON patient FOR EACH ROW EXECUTE FUNCTION batch_patient_order_of_patient()",
    ]


def upgrade():
    for key in KEYS:
        op.add_column("batch", sa.Column(key, sa.Text(), nullable=True))
    op.execute("UPDATE batch SET " + ", ".join(
        f"{k} = (SELECT lower({s}) FROM patient WHERE patient.id = batch.patient_id)"
        for k, s in zip(KEYS, SOURCES)) + " WHERE patient_id IS NOT NULL")
    op.create_index("ix_batch_patient_name_order", "batch",
                    ["patient_last_key", "patient_first_key", "id"])
    op.create_index("ix_batch_patient_mrn_order", "batch", ["patient_mrn_key", "id"])
    for statement in _triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for name in ("batch_patient_order_insert", "batch_patient_order_update",
                     "batch_patient_order_patient"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS batch_patient_order_of_batch ON batch")
        op.execute("DROP TRIGGER IF EXISTS batch_patient_order_of_patient ON patient")
        op.execute("DROP FUNCTION IF EXISTS batch_patient_order_of_batch()")
        op.execute("DROP FUNCTION IF EXISTS batch_patient_order_of_patient()")
    op.drop_index("ix_batch_patient_mrn_order", table_name="batch")
    op.drop_index("ix_batch_patient_name_order", table_name="batch")
    for key in reversed(KEYS):  # in place, no table copy (SQLite 3.35+, as 8e4f2a6c1b37)
        op.execute(f"ALTER TABLE batch DROP COLUMN {key}")

"""append-only ledger and audit log

The database refuses an UPDATE or a DELETE of a row of ``movement`` (the stock ledger)
or ``audit_entry`` (the audit log), whoever sends it (``formulary.append_only``). The
DDL is spelt out here, not imported, so that this migration stays what it was whatever
the module becomes.

Revision ID: a7c41e2d9b10
Revises: 5b0e7c3f9a21
Create Date: 2026-12-04 19:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7c41e2d9b10'
down_revision = '5b0e7c3f9a21'
branch_labels = None
depends_on = None

TABLES = ("movement", "audit_entry")
EVENTS = ("UPDATE", "DELETE")
NAME = "formulary_append_only"


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for event in EVENTS:
                op.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {NAME}_{table}_{event.lower()} BEFORE {event} "
                    f"ON {table} FOR EACH ROW BEGIN SELECT RAISE(ABORT, "
                    f"'{table} is append-only: {event} refused'); END")
    else:
        op.execute(
            f"CREATE OR REPLACE FUNCTION {NAME}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP "
            "USING ERRCODE = 'restrict_violation'; END $$")
        for table in TABLES:
            op.execute(
                f"CREATE OR REPLACE TRIGGER {NAME} BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {NAME}()")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {NAME}_{table}_{event.lower()}")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {NAME} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {NAME}()")

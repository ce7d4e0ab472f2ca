"""text length limits

The longest free texts the app keeps, in the database too (issue 16): the services and
the forms refuse longer ones; these constraints refuse them from anywhere else.

PostgreSQL: CHECK constraints (``ALTER TABLE ... ADD CONSTRAINT``, no rebuild). SQLite
cannot add a constraint without rebuilding the table (which would drop the triggers of
the formulary revision on three of them), so the same rule is a pair of triggers per
column that abort an INSERT or UPDATE with the constraint's name; a database made by
``create_all`` has the CHECK constraints of the models. The DDL is spelt out here.

Revision ID: c4e8a1f0b6d2
Revises: fd760c365946
Create Date: 2026-12-05 15:45:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c4e8a1f0b6d2'
down_revision = '0ea036483598'
branch_labels = None
depends_on = None

#: (table, column, longest)
LIMITS = (
    ("patient", "notes", 2000),
    ("batch", "override_reason", 2000),
    ("batch", "discard_reason", 2000),
    ("lot", "status_reason", 500),
    ("ingredient", "notes", 4000),
    ("allergen_group", "description", 2000),
    ("cocktail_version", "notes", 2000),
)


def _name(table, column):
    return f"ck_{table}_{column}_length"


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, longest in LIMITS:
        name = _name(table, column)
        if sqlite:
            for event, when in (("insert", "INSERT"), ("update", f"UPDATE OF {column}")):
                op.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {name}_{event} BEFORE {when} ON {table} "
                    f"FOR EACH ROW WHEN length(NEW.{column}) > {longest} "
                    f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END")
        else:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} "
                       f"CHECK (length({column}) <= {longest})")


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, _ in LIMITS:
        name = _name(table, column)
        if sqlite:
            for event in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {name}_{event}")
        else:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")

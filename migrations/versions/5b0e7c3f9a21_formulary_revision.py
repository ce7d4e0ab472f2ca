"""formulary revision

``formulary_revision`` holds the token under which the formulation picker keeps what it
reads of the formulary (``formulary.patients.screen_snapshot``), and triggers renew it
at every write to the tables the safety screen reads (``formulary.cocktails.revision``).
The DDL is spelt out here, not imported, so that this migration stays what it was
whatever the module becomes.

Revision ID: 5b0e7c3f9a21
Revises: ddc8664d1994
Create Date: 2026-11-30 23:05:00

"""
import uuid

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b0e7c3f9a21'
down_revision = 'ddc8664d1994'
branch_labels = None
depends_on = None

TABLES = ("allergen_group", "cross_reactivity", "ingredient", "ingredient_allergen_group",
          "ingredient_contraindication", "cocktail", "cocktail_version", "component")
EVENTS = ("insert", "update", "delete")
FUNCTION = "formulary_revision_renew"


def upgrade():
    op.create_table('formulary_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_formulary_revision'))
    )
    op.execute(sa.text("INSERT INTO formulary_revision (id, token) VALUES (1, :token)")
               .bindparams(token=uuid.uuid4().hex))
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for event in EVENTS:
                op.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {FUNCTION}_{table}_{event} AFTER {event.upper()} "
                    f"ON {table} FOR EACH ROW BEGIN INSERT OR REPLACE INTO formulary_revision "
                    f"(id, token) VALUES (1, lower(hex(randomblob(16)))); END")
    else:
        op.execute(
            f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN INSERT INTO formulary_revision (id, token) "
            "VALUES (1, replace(gen_random_uuid()::text, '-', '')) "
            "ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token; RETURN NULL; END $$")
        for table in TABLES:
            op.execute(
                f"CREATE OR REPLACE TRIGGER {FUNCTION} BEFORE INSERT OR UPDATE OR DELETE OR "
                f"TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {FUNCTION}_{table}_{event}")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {FUNCTION} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    op.drop_table('formulary_revision')

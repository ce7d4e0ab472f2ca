"""the outstanding batches and their tally

``batch.outstanding`` (doses left, no lot on hold, not discarded) and ``batch_tally``
(one row: how many are), kept by ``compounding.tally`` at every commit that changes a
batch, its administrations, its lines or its lots' status: the dashboard's "expired, not
given" is the tally less the outstanding batches still within their beyond-use instant
(few), instead of a count over every batch ever made. Both are filled here from the
existing batches.

Revision ID: 5b8e2d4f7a19
Revises: 9d4b2f6a1c83
Create Date: 2026-12-05 18:40:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '5b8e2d4f7a19'
down_revision = '9d4b2f6a1c83'
branch_labels = None
depends_on = None

OUTSTANDING = """
    status <> 'discarded'
    AND (SELECT coalesce(sum(a.doses), 0) FROM administration a WHERE a.batch_id = batch.id) < batch.doses
    AND NOT EXISTS (SELECT 1 FROM batch_line bl JOIN lot l ON l.id = bl.lot_id
                    WHERE bl.batch_id = batch.id AND l.status IN ('quarantined', 'recalled'))
"""


def upgrade():
    op.add_column("batch", sa.Column("outstanding", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.create_table(
        "batch_tally",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("outstanding", sa.Integer(), nullable=False),
    )
    op.execute(f"UPDATE batch SET outstanding = ({OUTSTANDING})")
    op.execute("INSERT INTO batch_tally (id, outstanding) "
               "SELECT 1, count(*) FROM batch WHERE outstanding")


def downgrade():
    op.drop_table("batch_tally")
    with op.batch_alter_table("batch") as batch_op:
        batch_op.drop_column("outstanding")

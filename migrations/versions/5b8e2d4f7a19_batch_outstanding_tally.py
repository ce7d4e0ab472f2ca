"""the outstanding batches and their tally; the courses revision

``batch.outstanding`` (doses left, no lot on hold, not discarded) and ``batch_tally``
(one row: how many are), kept by ``compounding.tally`` at every commit that changes a
batch, its administrations, its lines or its lots' status: the dashboard's "expired, not
given" is the tally less the outstanding batches still within their beyond-use instant
(few), instead of a count over every batch ever made. Both are filled here from the
existing batches.

``course_revision`` (one row: a random token renewed at every commit that writes a course
or a session, ``courses.revision``): the dashboard's counts of sessions due and overdue
are kept for one token and one clinic day; its first token is drawn here (the courses
already there are counted once, then kept).

Revision ID: 5b8e2d4f7a19
Revises: b8e2d4f6a1c9
Create Date: 2026-12-05 18:40:00

"""
import uuid

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '5b8e2d4f7a19'
down_revision = 'b8e2d4f6a1c9'
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
    op.create_table(
        "course_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token", sa.String(32), nullable=False),
    )
    op.execute(f"INSERT INTO course_revision (id, token) VALUES (1, '{uuid.uuid4().hex}')")
    op.execute(f"UPDATE batch SET outstanding = ({OUTSTANDING})")
    op.execute("INSERT INTO batch_tally (id, outstanding) "
               "SELECT 1, count(*) FROM batch WHERE outstanding")


def downgrade():
    op.drop_table("course_revision")
    op.drop_table("batch_tally")
    # no table copy (other tables refer to batch): SQLite 3.35+ drops a column in place
    op.execute("ALTER TABLE batch DROP COLUMN outstanding")

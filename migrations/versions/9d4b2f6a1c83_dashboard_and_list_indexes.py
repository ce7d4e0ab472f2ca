"""dashboard and list indexes

``ix_batch_status_beyond_use`` (status, beyond-use instant): the dashboard's batches
awaiting verification (prepared, within their beyond-use instant) and those past it are
counted from the index instead of a scan of every batch (on PostgreSQL the scan's
estimate, with the doses given summed per batch, also started the JIT compiler: 300 ms).

``ix_course_session_due`` (status, planned day, course): the sessions due today and
overdue, counted from the index alone.

``ix_administration_batch_doses`` (batch, doses): the doses given per batch summed from
the index alone (the batches past their beyond-use instant that were fully given).

Revision ID: 9d4b2f6a1c83
Revises: 3c9e51b7d2a4
Create Date: 2026-12-05 16:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '9d4b2f6a1c83'
down_revision = '3c9e1f7a2b64'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_batch_status_beyond_use", "batch", ["status", "beyond_use_at"])
    op.create_index("ix_course_session_due", "course_session",
                    ["status", "planned_on", "course_id"])
    op.create_index("ix_administration_batch_doses", "administration", ["batch_id", "doses"])


def downgrade():
    op.drop_index("ix_administration_batch_doses", table_name="administration")
    op.drop_index("ix_course_session_due", table_name="course_session")
    op.drop_index("ix_batch_status_beyond_use", table_name="batch")

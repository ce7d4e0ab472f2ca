"""the patient's name and MRN in the order the batch list sorts them

``ix_patient_name_order`` (lower(last_name), lower(first_name)) and ``ix_patient_mrn_order``
(lower(mrn)): the batch list sorted by patient or MRN (page and API) chooses its page by
walking patients in this order and their batches by ``ix_batch_patient_id``
(``compounding.queries.batch_list_page``), instead of joining and sorting every batch:
120-130 ms at 50,000 batches, now about a millisecond. Expression indexes, on both
databases (SQLite has had them since 3.9).

Revision ID: 7c1d3e5f9a20
Revises: 5b8e2d4f7a19
Create Date: 2026-12-06 01:45:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '7c1d3e5f9a20'
down_revision = '5b8e2d4f7a19'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_patient_name_order", "patient",
                    [sa.text("lower(last_name)"), sa.text("lower(first_name)")])
    op.create_index("ix_patient_mrn_order", "patient", [sa.text("lower(mrn)")])


def downgrade():
    op.drop_index("ix_patient_mrn_order", table_name="patient")
    op.drop_index("ix_patient_name_order", table_name="patient")

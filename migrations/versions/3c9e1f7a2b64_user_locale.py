"""user locale: the language a user chose in their profile (SPEC §13)

Revision ID: 3c9e1f7a2b64
Revises: 3c9e51b7d2a4
Create Date: 2026-12-05 15:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c9e1f7a2b64'
down_revision = '3c9e51b7d2a4'
branch_labels = None
depends_on = None


def upgrade():
    # NULL: no choice made, the browser's language decides
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=10), nullable=True))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('locale')

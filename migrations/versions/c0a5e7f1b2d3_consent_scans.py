"""consent scans

The scanned signed form of a consent (SPEC §11), a blob in its own table.

Revision ID: c0a5e7f1b2d3
Revises: fd760c365946
Create Date: 2026-12-05 15:30:00

"""
from alembic import op
import sqlalchemy as sa

import formulary.db


revision = 'c0a5e7f1b2d3'
down_revision = 'fd760c365946'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('consent_scan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consent_id', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', formulary.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('size > 0 AND size <= 10485760', name=op.f('ck_consent_scan_size')),
    sa.ForeignKeyConstraint(['consent_id'], ['consent.id'], name=op.f('fk_consent_scan_consent_id_consent')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_consent_scan_uploaded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_scan')),
    sa.UniqueConstraint('consent_id', name=op.f('uq_consent_scan_consent_id'))
    )


def downgrade():
    op.drop_table('consent_scan')

"""purpose_withdrawals: one purpose of a consent withdrawn, with its signed receipt"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import create_table, public_id

revision = '0006'
down_revision = '0005'

upgrade, downgrade = create_table(
    'purpose_withdrawals',
    public_id(),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('consent_id', sa.String(length=40), nullable=False),
    sa.Column('purpose_id', sa.String(length=40), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=False),
    sa.Column('receipt', sa.JSON(), nullable=False),
    sa.Column('receipt_signature', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['consent_id'], ['consents.id']),
    sa.ForeignKeyConstraint(['purpose_id'], ['purposes.id']),
    indexed=['subject_id'],
)

"""purpose_withdrawals: one purpose of a consent withdrawn, with its signed receipt"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'


def upgrade() -> None:
    op.create_table(
        'purpose_withdrawals',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('consent_id', sa.String(length=40), nullable=False),
        sa.Column('purpose_id', sa.String(length=40), nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(), nullable=False),
        sa.Column('receipt', sa.JSON(), nullable=False),
        sa.Column('receipt_signature', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['consent_id'], ['consents.id']),
        sa.ForeignKeyConstraint(['purpose_id'], ['purposes.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_purpose_withdrawals_subject_id', 'purpose_withdrawals', ['subject_id'])


def downgrade() -> None:
    op.drop_index('ix_purpose_withdrawals_subject_id', table_name='purpose_withdrawals')
    op.drop_table('purpose_withdrawals')

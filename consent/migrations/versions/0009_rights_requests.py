"""rights_requests: requests to exercise a right, with their 30-day deadline"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'


def upgrade() -> None:
    op.create_table(
        'rights_requests',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=True),
        sa.Column('subject_ref', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('channel', sa.String(length=50), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('due_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('answered_at', sa.DateTime(), nullable=True),
        sa.Column('answered_by', sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_rights_requests_subject_id', 'rights_requests', ['subject_id'])
    op.create_index('ix_rights_requests_due_at', 'rights_requests', ['due_at'])


def downgrade() -> None:
    op.drop_index('ix_rights_requests_due_at', table_name='rights_requests')
    op.drop_index('ix_rights_requests_subject_id', table_name='rights_requests')
    op.drop_table('rights_requests')

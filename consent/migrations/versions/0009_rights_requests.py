"""rights_requests: requests to exercise a right, with their 30-day deadline"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import create_table, public_id

revision = '0009'
down_revision = '0008'

upgrade, downgrade = create_table(
    'rights_requests',
    public_id(),
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
    indexed=['subject_id', 'due_at'],
)

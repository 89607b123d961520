"""match_reviews and review_votes: candidates confirmed or rejected by verifiers"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import combine, create_table, public_id

revision = '0012'
down_revision = '0011'

upgrade, downgrade = combine(
    create_table(
        'match_reviews',
        public_id(),
        sa.Column('operation', sa.String(length=20), nullable=False),
        sa.Column('purpose_id', sa.String(length=40), nullable=False),
        sa.Column('searcher_key_id', sa.String(length=40), nullable=False),
        sa.Column('candidate', sa.String(length=64), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('confirmations_required', sa.Integer(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        indexed=['candidate', 'status'],
    ),
    create_table(
        'review_votes',
        sa.Column('review_id', sa.String(length=40), nullable=False),
        sa.Column('verifier_key_id', sa.String(length=40), nullable=False),
        sa.Column('decision', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['review_id'], ['match_reviews.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('review_id', 'verifier_key_id'),
    ),
)

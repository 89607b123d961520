"""match_reviews and review_votes: candidates confirmed or rejected by verifiers"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'


def upgrade() -> None:
    op.create_table(
        'match_reviews',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('operation', sa.String(length=20), nullable=False),
        sa.Column('purpose_id', sa.String(length=40), nullable=False),
        sa.Column('searcher_key_id', sa.String(length=40), nullable=False),
        sa.Column('candidate', sa.String(length=64), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('confirmations_required', sa.Integer(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_match_reviews_candidate', 'match_reviews', ['candidate'])
    op.create_index('ix_match_reviews_status', 'match_reviews', ['status'])
    op.create_table(
        'review_votes',
        sa.Column('review_id', sa.String(length=40), nullable=False),
        sa.Column('verifier_key_id', sa.String(length=40), nullable=False),
        sa.Column('decision', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['review_id'], ['match_reviews.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('review_id', 'verifier_key_id'),
    )


def downgrade() -> None:
    op.drop_table('review_votes')
    op.drop_index('ix_match_reviews_status', table_name='match_reviews')
    op.drop_index('ix_match_reviews_candidate', table_name='match_reviews')
    op.drop_table('match_reviews')

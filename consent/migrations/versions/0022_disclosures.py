"""disclosures: each disclosure of a subject's export, its legal basis and document (BIPA 15(d))"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'


def upgrade() -> None:
    op.create_table(
        'disclosures',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('subject_ref', sa.String(length=64), nullable=False),
        sa.Column('recipient', sa.String(length=200), nullable=False),
        sa.Column('legal_basis', sa.String(length=30), nullable=False),
        sa.Column('document_reference', sa.String(length=200), nullable=False),
        sa.Column('disclosed_at', sa.DateTime(), nullable=False),
        sa.Column('disclosed_by', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_disclosures_subject_ref', 'disclosures', ['subject_ref'])


def downgrade() -> None:
    op.drop_index('ix_disclosures_subject_ref', table_name='disclosures')
    op.drop_table('disclosures')

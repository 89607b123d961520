"""disclosures: each disclosure of a subject's export, its legal basis and document (BIPA 15(d))"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import create_table, public_id

revision = '0022'
down_revision = '0021'

upgrade, downgrade = create_table(
    'disclosures',
    public_id(),
    sa.Column('subject_ref', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=200), nullable=False),
    sa.Column('legal_basis', sa.String(length=30), nullable=False),
    sa.Column('document_reference', sa.String(length=200), nullable=False),
    sa.Column('disclosed_at', sa.DateTime(), nullable=False),
    sa.Column('disclosed_by', sa.String(length=40), nullable=False),
    indexed=['subject_ref'],
)

"""erased_credentials and erasure_receipt_codes: what an erased person can still be told or get"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import cascading_reference, combine, create_table

revision = '0015'
down_revision = '0014'

upgrade, downgrade = combine(
    create_table('erased_credentials',
                 sa.Column('credential_hash', sa.String(64), primary_key=True),
                 cascading_reference('tombstone_id', 'tombstones', nullable=False),
                 indexed=['tombstone_id']),
    create_table('erasure_receipt_codes',
                 sa.Column('code_hash', sa.String(64), primary_key=True),
                 cascading_reference('tombstone_id', 'tombstones', nullable=False),
                 sa.Column('expires_at', sa.DateTime(), nullable=False),
                 sa.Column('fetches_left', sa.Integer(), nullable=False),
                 indexed=['tombstone_id']),
)

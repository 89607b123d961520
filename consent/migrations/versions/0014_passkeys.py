"""passkeys: credentials, one-time links, ceremonies; signed probe consents; dated age brackets

Plain ADD COLUMN for the existing tables (no batch copy: see 0003 on why a copy of consents
would cascade), new tables for the WebAuthn state.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import (
    add_columns,
    cascading_reference,
    combine,
    create_table,
    public_id,
)

revision = '0014'
down_revision = '0013'

upgrade, downgrade = combine(
    add_columns('subjects', sa.Column('age_declared_on', sa.Date(), nullable=True),
                sa.Column('own_consent_requested_at', sa.DateTime(), nullable=True)),
    add_columns('subject_tokens', sa.Column('capacity', sa.String(30), nullable=False,
                                            server_default='self')),
    add_columns('consents', sa.Column('withdrawal_receipt', sa.JSON(), nullable=True),
                sa.Column('withdrawal_signature', sa.String(200), nullable=True)),
    add_columns('probe_consents', sa.Column('probe_sha256', sa.String(64), nullable=True),
                sa.Column('researcher_key_id', sa.String(40), nullable=True),
                sa.Column('receipt', sa.JSON(), nullable=True),
                sa.Column('receipt_signature', sa.String(200), nullable=True)),
    create_table(
        'passkey_credentials',
        sa.Column('id', sa.String(1400), primary_key=True),
        cascading_reference('subject_id', 'subjects', nullable=True),
        sa.Column('capacity', sa.String(30), nullable=False),
        sa.Column('public_key', sa.LargeBinary(), nullable=False),
        sa.Column('sign_count', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        indexed=['subject_id'],
    ),
    create_table(
        'one_time_links',
        public_id(),
        sa.Column('kind', sa.String(20), nullable=False),
        cascading_reference('subject_id', 'subjects', nullable=True),
        sa.Column('capacity', sa.String(30), nullable=False),
        sa.Column('secret_hash', sa.String(64), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('created_by', sa.String(40), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        indexed=['subject_id'],
    ),
    create_table(
        'ceremonies',
        public_id(),
        sa.Column('kind', sa.String(20), nullable=False),
        cascading_reference('subject_id', 'subjects', nullable=True),
        sa.Column('link_id', sa.String(40), nullable=True),
        sa.Column('challenge', sa.String(200), nullable=False),
        sa.Column('statement', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('evidence', sa.JSON(), nullable=True),
        sa.Column('consumed_at', sa.DateTime(), nullable=True),
        indexed=['subject_id'],
    ),
)

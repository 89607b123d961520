"""passkeys: credentials, one-time links, ceremonies; signed probe consents; dated age brackets

Plain ADD COLUMN for the existing tables (no batch copy: see 0003 on why a copy of consents
would cascade), new tables for the WebAuthn state.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'


def upgrade() -> None:
    op.add_column('subjects', sa.Column('age_declared_on', sa.Date(), nullable=True))
    op.add_column('subjects', sa.Column('own_consent_requested_at', sa.DateTime(),
                                        nullable=True))
    op.add_column('subject_tokens', sa.Column('capacity', sa.String(30), nullable=False,
                                              server_default='self'))
    op.add_column('consents', sa.Column('withdrawal_receipt', sa.JSON(), nullable=True))
    op.add_column('consents', sa.Column('withdrawal_signature', sa.String(200), nullable=True))
    op.add_column('probe_consents', sa.Column('probe_sha256', sa.String(64), nullable=True))
    op.add_column('probe_consents', sa.Column('researcher_key_id', sa.String(40), nullable=True))
    op.add_column('probe_consents', sa.Column('receipt', sa.JSON(), nullable=True))
    op.add_column('probe_consents', sa.Column('receipt_signature', sa.String(200),
                                              nullable=True))
    op.create_table(
        'passkey_credentials',
        sa.Column('id', sa.String(1400), primary_key=True),
        sa.Column('subject_id', sa.Integer(),
                  sa.ForeignKey('subjects.id', ondelete='CASCADE'), nullable=True),
        sa.Column('capacity', sa.String(30), nullable=False),
        sa.Column('public_key', sa.LargeBinary(), nullable=False),
        sa.Column('sign_count', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_passkey_credentials_subject_id', 'passkey_credentials', ['subject_id'])
    op.create_table(
        'one_time_links',
        sa.Column('id', sa.String(40), primary_key=True),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('subject_id', sa.Integer(),
                  sa.ForeignKey('subjects.id', ondelete='CASCADE'), nullable=True),
        sa.Column('capacity', sa.String(30), nullable=False),
        sa.Column('secret_hash', sa.String(64), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('created_by', sa.String(40), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
    )
    op.create_index('ix_one_time_links_subject_id', 'one_time_links', ['subject_id'])
    op.create_table(
        'ceremonies',
        sa.Column('id', sa.String(40), primary_key=True),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('subject_id', sa.Integer(),
                  sa.ForeignKey('subjects.id', ondelete='CASCADE'), nullable=True),
        sa.Column('link_id', sa.String(40), nullable=True),
        sa.Column('challenge', sa.String(200), nullable=False),
        sa.Column('statement', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('evidence', sa.JSON(), nullable=True),
        sa.Column('consumed_at', sa.DateTime(), nullable=True),
    )
    op.create_index('ix_ceremonies_subject_id', 'ceremonies', ['subject_id'])


def downgrade() -> None:
    op.drop_table('ceremonies')
    op.drop_table('one_time_links')
    op.drop_table('passkey_credentials')
    for table, column in (('probe_consents', 'receipt_signature'), ('probe_consents', 'receipt'),
                          ('probe_consents', 'researcher_key_id'),
                          ('probe_consents', 'probe_sha256'),
                          ('consents', 'withdrawal_signature'), ('consents', 'withdrawal_receipt'),
                          ('subject_tokens', 'capacity'),
                          ('subjects', 'own_consent_requested_at'),
                          ('subjects', 'age_declared_on')):
        op.drop_column(table, column)

"""admin_passkeys: an admin key's second factor, its passkey and its current step-up

The passkey's public key lives in passkey_credentials like a person's; this table binds it to
one admin key and keeps the keyed hash (never the token) of the key's step-up
(consent.admin_mfa). Empty until an admin registers a passkey.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'


def upgrade() -> None:
    op.create_table(
        'admin_passkeys',
        sa.Column('api_key_id', sa.String(40), sa.ForeignKey('api_keys.id'), nullable=False),
        sa.Column('credential_id', sa.String(1400), sa.ForeignKey('passkey_credentials.id'),
                  nullable=False),
        sa.Column('registered_at', sa.DateTime(), nullable=False),
        sa.Column('step_up_hash', sa.String(64), nullable=True),
        sa.Column('step_up_expires_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('api_key_id'),
        sa.UniqueConstraint('credential_id'),
    )


def downgrade() -> None:
    op.drop_table('admin_passkeys')

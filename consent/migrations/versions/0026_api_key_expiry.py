"""api_key_expiry: an API key may expire (a break-glass key does, after hours)

NULL is no expiry: every key made before, and every key but a break-glass one
(:mod:`consent.break_glass`). A plain ADD COLUMN, nullable, so no table is copied. Going back,
the code before knows no expiry: a key that has one is revoked at its expiry first, so a downgrade
never turns a break-glass key into a permanent one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'


def upgrade() -> None:
    op.add_column('api_keys', sa.Column('expires_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE api_keys SET revoked_at = expires_at"
               " WHERE expires_at IS NOT NULL AND revoked_at IS NULL")
    op.drop_column('api_keys', 'expires_at')

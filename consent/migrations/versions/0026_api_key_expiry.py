"""api_key_expiry: an API key may expire (a break-glass key does, after hours)

NULL is no expiry: every key made before, and every key but a break-glass one
(:mod:`consent.break_glass`). A plain ADD COLUMN, nullable, so no table is copied. Going back,
the code before knows no expiry: a key that has one is revoked first, at its expiry if that has
passed and otherwise now (never at a time still to come), so a downgrade never turns a
break-glass key into a permanent one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'


def upgrade() -> None:
    op.add_column('api_keys', sa.Column('expires_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    keys = sa.table('api_keys', sa.column('id', sa.String), sa.column('expires_at', sa.DateTime),
                    sa.column('revoked_at', sa.DateTime))
    bind = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)  # the ledger keeps UTC without its offset
    expiring = bind.execute(sa.select(keys.c.id, keys.c.expires_at).where(
        keys.c.expires_at.is_not(None), keys.c.revoked_at.is_(None))).all()
    for key_id, expires_at in expiring:
        bind.execute(keys.update().where(keys.c.id == key_id).values(
            revoked_at=min(expires_at, now)))
    op.drop_column('api_keys', 'expires_at')

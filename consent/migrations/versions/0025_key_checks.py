"""key_checks: a check value of the HMAC and rotation secrets the ledger's data were made with

Neither can be told from the data otherwise: the HMAC key's hashes are of secrets the ledger
does not keep, and a foreign rotation only makes every search miss. A ledger from before this
revision records the keys it starts with next.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'


def upgrade() -> None:
    op.create_table(
        'key_checks',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('value', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('key_checks')

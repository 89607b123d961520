"""row_seals: a keyed seal on the rows that grant something

A passkey credential, a subject's opt-in to 1:N search and a register declaration each get a
seal, HMAC-SHA256 under the key store's HMAC key over the fields that grant something
(consent.row_seals), so that a row written into the database without the key store grants
nothing. Plain ADD COLUMNs, nullable: the migration holds no key, so the rows present are
sealed at the service's first start after it, once, chained as ``row_seals_adopted``.

Downgrade: the older schema has nowhere to keep a seal, so the columns go. Upgrading again does
not seal the rows anew (the adoption is chained once, and is what stops a later copy of the
database from having its planted rows sealed): every passkey, opt-in and declaration then
present grants nothing until registered, opted in or declared again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'

_SEALED = (('passkey_credentials', 'seal'), ('subjects', 'searchable_seal'),
           ('register_declarations', 'seal'))


def upgrade() -> None:
    for table, column in _SEALED:
        op.add_column(table, sa.Column(column, sa.String(64), nullable=True))


def downgrade() -> None:
    for table, column in _SEALED:
        op.drop_column(table, column)

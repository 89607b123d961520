"""row_seals: a keyed seal on the rows that grant something

A passkey credential, a subject's opt-in to 1:N search, a register declaration, a template and
an API key each get a seal, HMAC-SHA256 under the key store's HMAC key over the fields that
grant something (consent.row_seals), so that a row written into the database without the key
store grants nothing. A template also gets the tombstone hash of the subject it was enrolled
for, indexed: that subject's erasure finds it by it, wherever its ``subject_id`` was moved.
A subject also gets the time of its opt-in, which the opt-in's seal covers: a search finds no one
whose journaled opt-out is later (an older sealed row copied back after it).
Plain ADD COLUMNs, nullable: the migration holds no key, so the rows present are sealed at the
service's first start after it, once, chained as ``row_seals_adopted`` (or, if that start finds
the log not what its witness signed, never: ``row_seals_not_adopted``).

Downgrade: the older schema has nowhere to keep a seal, so the columns go. Upgrading again does
not seal the rows anew (the adoption is chained once, and is what stops a later copy of the
database from having its planted rows sealed): every passkey, opt-in, declaration, template and
API key then present grants nothing until registered, opted in, declared, enrolled or created
again (break-glass gives the operator an admin key to start over).
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns, add_index, combine

revision = '0030'
down_revision = '0029'

_SEALED = (('passkey_credentials', 'seal'), ('subjects', 'searchable_seal'),
           ('register_declarations', 'seal'), ('templates', 'seal'), ('api_keys', 'seal'))

upgrade, downgrade = combine(
    *(add_columns(table, sa.Column(column, sa.String(64), nullable=True))
      for table, column in _SEALED),
    add_columns('templates', sa.Column('owner_hash', sa.String(64), nullable=True)),
    add_index('templates', 'owner_hash'),
    add_columns('subjects', sa.Column('searchable_since', sa.DateTime(), nullable=True)),
)

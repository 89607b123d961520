"""log_seals: a keyed seal on each audit event

Whoever writes the database can append events at the log's tail, chained correctly; the next
checkpoint signs them and the witness keeps it. Each event the service appends now carries
``keyed_seal``, HMAC-SHA256 under the key store's HMAC key of its chain hash (consent.log_seals),
which a database writer without the key store cannot make.
A plain ADD COLUMN, nullable: the migration holds no key, so the events present are vouched for
at the service's first start after it, once, chained as ``log_seals_adopted`` with the last
unsealed sequence number (or, if that start finds the log not what its witness signed, never:
``log_seals_not_adopted``). Nothing is written into the old events.

Downgrade: the older schema has nowhere to keep a seal, so the column goes. Upgrading again does
not adopt anew (the adoption is chained once, and is what stops a later start from vouching for
events appended by SQL): ``optinface audit verify`` with the key store then reports every event
past the first adoption, those the older version wrote included, as carrying no keyed seal.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0031'
down_revision = '0030'

upgrade, downgrade = add_columns(
    'audit_events', sa.Column('keyed_seal', sa.String(64), nullable=True))

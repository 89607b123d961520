"""subject_token_seals: a keyed seal on what a subject token grants, and whose it is

A subject token is a bearer credential that acts for one person: it reads their record (their
template's vectors too), erases them and begins their signed acts. Its row said whom it acts
for by ``subject_id`` alone, which a database writer could point at anyone (red team 3,
finding 1). It gets a seal, HMAC-SHA256 under the key store's HMAC key (consent.row_seals, kind
``subject-token``), over its secret's hash, its subject's pseudonym, capacity and expiry, and
the tombstone hash of that subject (``owner_hash``), by which the subject's erasure deletes it
wherever its ``subject_id`` was moved. Plain ADD COLUMNs, nullable: the migration holds no key,
so the tokens present are sealed at the service's first start after it, once, chained as
``token_seals_adopted`` (or, if that start finds the log not what its witness signed, or the
row seals were never adopted, never: ``token_seals_not_adopted``).

Downgrade: the older schema has nowhere to keep the seal, so the columns go. Upgrading again
does not seal the tokens anew (the adoption is chained once): each token then present
authenticates no one until the operator seals it again with the key store
(``optinface keys reseal``), or the person signs in again.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns, add_index, combine

revision = '0036'
down_revision = '0035'

upgrade, downgrade = combine(
    add_columns('subject_tokens', sa.Column('seal', sa.String(64), nullable=True),
                sa.Column('owner_hash', sa.String(64), nullable=True)),
    add_index('subject_tokens', 'owner_hash'),
)

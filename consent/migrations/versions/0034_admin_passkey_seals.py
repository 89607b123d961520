"""admin_passkey_seals: the binding of an admin key to its passkey carries a row seal

An admin key's second factor (consent.admin_mfa) is the ``admin_passkeys`` row binding it to a
passkey, with the key's current step-up (a keyed hash and its expiry). Without a seal, whoever
writes the database bound a person's passkey to an admin key, or moved a step-up's expiry
forward. The row now carries a seal, HMAC-SHA256 under the key store's HMAC key over the key,
the passkey, the binding's time and the step-up's hash and expiry (consent.row_seals), made by
the service at every write and checked at every use. A plain ADD COLUMN, nullable: the
migration holds no key, so the bindings present are sealed at the service's first start after
it, once, chained as ``admin_passkeys_adopted`` (only those naming a passkey registered as an
admin's; never where that start finds the log not as its witness signed it:
``admin_passkeys_not_adopted``).

Downgrade: the column goes. Upgrading again does not seal the bindings anew (the adoption is
chained once): each admin key then registers its passkey again on the operator's link, or the
operator seals them with ``optinface keys reseal``.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0034'
down_revision = '0033'

upgrade, downgrade = add_columns('admin_passkeys', sa.Column('seal', sa.String(64), nullable=True))

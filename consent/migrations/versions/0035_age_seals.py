"""age_seals: a keyed seal on what decides who consents for a subject

A subject's age bracket, the day it was declared and its jurisdiction decide whether the
person or the holder of parental authority consents for them (P-39.1 s. 4.1, GDPR art. 8,
BIPA's legal representative). They get a seal, HMAC-SHA256 under the key store's HMAC key
(consent.row_seals, kind ``age``), so that a child made an adult in the database alone consents
for no one. A plain ADD COLUMN, nullable: the migration holds no key, so the subjects present
are sealed at the service's first start after it, once, chained as ``age_seals_adopted`` (or,
if that start finds the log not what its witness signed, or the row seals were never adopted,
never: ``age_seals_not_adopted``).

Downgrade: the older schema has nowhere to keep the seal, so the column goes. Upgrading again
does not seal the subjects anew (the adoption is chained once): each subject then present
decides no capacity until the operator seals them again with the key store
(``optinface keys reseal``).
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0035'
down_revision = '0034'

upgrade, downgrade = add_columns('subjects', sa.Column('age_seal', sa.String(64), nullable=True))

"""consents.end_receipt, end_signature: the signed receipt of a consent's templates destroyed at its end

A consent that ends by itself (its expiry, its purposes' retention, a guardian's at the
person's coming of age) while another keeps its subject has its templates destroyed by the
sweep (``consent.erasure.destroy_ended_templates``); the person now holds a receipt of it,
signed by the service's receipt key (``consent.end_receipts``), kept with the consent like a
withdrawal's. NULL for a consent that has not ended so, for those that ended before this
revision (their ``consent_ended`` event stays in the log and the person's export), and once the
subject is erased (the receipt names the pseudonym).

Downgrade: the older schema has nowhere to keep the receipts, so they go; the chained events
stay.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0043'
down_revision = '0042'

# Plain ALTER TABLE (see 0003): a batch copy of consents would cascade into its links.
upgrade, downgrade = add_columns('consents',
                                 sa.Column('end_receipt', sa.JSON(), nullable=True),
                                 sa.Column('end_signature', sa.String(200), nullable=True))

"""audit_events.pruned_leaf: the Merkle leaf kept when retention removes an event's content"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0013'
down_revision = '0012'

# Plain ALTER TABLE (see 0003): the log is append-only and large, never copied.
upgrade, downgrade = add_columns(
    'audit_events', sa.Column('pruned_leaf', sa.String(length=64), nullable=True))

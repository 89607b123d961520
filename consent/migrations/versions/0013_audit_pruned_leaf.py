"""audit_events.pruned_leaf: the Merkle leaf kept when retention removes an event's content"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'


def upgrade() -> None:
    # Plain ALTER TABLE (see 0003): the log is append-only and large, never copied.
    op.add_column('audit_events', sa.Column('pruned_leaf', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('audit_events', 'pruned_leaf')

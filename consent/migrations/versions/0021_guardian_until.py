"""consents.guardian_until: a guardian's consent ends a grace period after its person comes of age

NULL for the person's own consents and for those given before: a guardian's consent given
before this revision keeps its expiry and its purposes' retention as its only limits.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'


def upgrade() -> None:
    op.add_column('consents', sa.Column('guardian_until', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('consents', 'guardian_until')

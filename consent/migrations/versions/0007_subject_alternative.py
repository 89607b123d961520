"""subjects.alternative_chosen_at: the person chose the non-biometric alternative"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'


def upgrade() -> None:
    # Plain ALTER TABLE (see 0003): subjects is pointed at by every other table.
    op.add_column('subjects', sa.Column('alternative_chosen_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('subjects', 'alternative_chosen_at')

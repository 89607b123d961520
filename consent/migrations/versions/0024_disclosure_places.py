"""disclosures: where each recipient is, the area the data left, and the document allowing it

A communication outside Québec needs an assessment first (P-39.1 s. 17), a transfer out of the
EEA a safeguard (GDPR chapter V): the four columns record where the recipient is, which area
the disclosure took the person's data out of, and the controller's document. NULL for
disclosures recorded before this revision, whose recipient's place was not asked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'

COLUMNS = (
    sa.Column('recipient_country', sa.String(length=2), nullable=True),
    sa.Column('recipient_region', sa.String(length=200), nullable=True),
    sa.Column('area_left', sa.String(length=20), nullable=True),
    sa.Column('transfer_assessment', sa.String(length=200), nullable=True),
)


def upgrade() -> None:
    with op.batch_alter_table('disclosures') as table:
        for column in COLUMNS:
            table.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table('disclosures') as table:
        for column in reversed(COLUMNS):
            table.drop_column(column.name)

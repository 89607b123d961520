"""erased_credentials and erasure_receipt_codes: what an erased person can still be told or get"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'


def _tombstone() -> sa.Column[int]:
    return sa.Column('tombstone_id', sa.Integer(),
                     sa.ForeignKey('tombstones.id', ondelete='CASCADE'), nullable=False)


def upgrade() -> None:
    op.create_table('erased_credentials',
                    sa.Column('credential_hash', sa.String(64), primary_key=True), _tombstone())
    op.create_table('erasure_receipt_codes',
                    sa.Column('code_hash', sa.String(64), primary_key=True), _tombstone(),
                    sa.Column('expires_at', sa.DateTime(), nullable=False),
                    sa.Column('fetches_left', sa.Integer(), nullable=False))
    for table in ('erased_credentials', 'erasure_receipt_codes'):
        op.create_index(f'ix_{table}_tombstone_id', table, ['tombstone_id'])


def downgrade() -> None:
    op.drop_table('erasure_receipt_codes')
    op.drop_table('erased_credentials')

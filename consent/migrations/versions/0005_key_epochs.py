"""subject_keys.epoch and key_epochs: subject keys wrapped under rotating epoch keys

Keys wrapped before this revision were wrapped under the single master key, which the key store
adopts as epoch 1 (``consent.keystore.adopt_legacy_keys``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'


def upgrade() -> None:
    # Plain ALTER TABLE (see 0003): no batch copy of a table other tables point at.
    op.add_column('subject_keys', sa.Column('epoch', sa.Integer(), nullable=False,
                                            server_default='1'))
    op.create_index('ix_subject_keys_epoch', 'subject_keys', ['epoch'], unique=False)
    op.create_table(
        'key_epochs',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('destroyed_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('key_epochs')
    op.drop_index('ix_subject_keys_epoch', table_name='subject_keys')
    op.drop_column('subject_keys', 'epoch')

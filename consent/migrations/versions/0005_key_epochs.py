"""subject_keys.epoch and key_epochs: subject keys wrapped under rotating epoch keys

Keys wrapped before this revision were wrapped under the single master key, which the key store
adopts as epoch 1 (``consent.keystore.adopt_legacy_keys``).
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns, add_index, combine, create_table

revision = '0005'
down_revision = '0004'

upgrade, downgrade = combine(
    # Plain ALTER TABLE (see 0003): no batch copy of a table other tables point at.
    add_columns('subject_keys', sa.Column('epoch', sa.Integer(), nullable=False,
                                          server_default='1')),
    add_index('subject_keys', 'epoch'),
    create_table(
        'key_epochs',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('destroyed_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    ),
)

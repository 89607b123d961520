"""declarations keep the register's material hash and period; regulator orders

Declarations recorded before this revision have no material hash: they no longer cover the
register, so matching needs a new declaration (LCCJTI art. 45 asks for one on any change, and
these were never checked against one).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy (see 0003).
    op.add_column('register_declarations',
                  sa.Column('material_sha256', sa.String(length=64), nullable=True))
    op.add_column('register_declarations',
                  sa.Column('period_days', sa.Integer(), nullable=False, server_default='60'))
    op.create_table(
        'regulator_orders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.Column('recorded_by', sa.String(length=40), nullable=True),
        sa.Column('lifted_at', sa.DateTime(), nullable=True),
        sa.Column('templates_destroyed', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('regulator_orders')
    with op.batch_alter_table('register_declarations') as batch_op:
        batch_op.drop_column('period_days')
        batch_op.drop_column('material_sha256')

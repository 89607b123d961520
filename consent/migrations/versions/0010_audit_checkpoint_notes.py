"""audit_checkpoints.note: checkpoints are C2SP signed notes over an RFC 6962 tree

Rows signed before this revision keep note NULL: they were signatures by the receipt key over
(seq, chain hash), which the verifier no longer trusts for checkpoints. The first start after
the upgrade signs a note over the whole log and copies it to the witness folder.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'


def upgrade() -> None:
    op.add_column('audit_checkpoints', sa.Column('note', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.drop_column('note')

"""subject_token_scope: a token a sign-in issued while the witness was stalled ends processing only

While the witness folder refuses the audit log's checkpoints, the service does no new act but
those that end processing (``consent.witness_gate``, ``consent.ending_acts``). A person not yet
signed in could not reach them: a sign-in is a new act. A sign-in asked meanwhile now signs a
statement saying that the token it issues may only end processing, and the token keeps that
limit in ``subject_tokens.scope`` (``ends_processing``; NULL: everything a person's token may
do), covered by the token's seal where set (``consent.row_seals``), so no write to the database
lifts it. A plain nullable ADD COLUMN: every token issued before is unlimited, as it was, and
keeps its seal.

Downgrade: the older schema has nowhere to keep the limit, so the limited tokens go with the
column (their people sign in again); every other token still authenticates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0042'
down_revision = '0041'


def upgrade() -> None:
    op.add_column('subject_tokens', sa.Column('scope', sa.String(length=20), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM subject_tokens WHERE scope IS NOT NULL")
    op.drop_column('subject_tokens', 'scope')

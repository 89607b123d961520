"""index on audit_events (actor_key_id, action, at) for the daily identify quota"""

from __future__ import annotations

from alembic import op

revision = '0002'
down_revision = '0001'


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(
            'ix_audit_events_actor_action_at', ['actor_key_id', 'action', 'at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_actor_action_at')

"""index on audit_events (actor_key_id, action, at) for the daily identify quota"""

from __future__ import annotations

from optinface.consent.migrations.steps import add_index

revision = '0002'
down_revision = '0001'

upgrade, downgrade = add_index('audit_events', 'actor_key_id', 'action', 'at',
                               name='ix_audit_events_actor_action_at')

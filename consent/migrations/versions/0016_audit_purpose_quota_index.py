"""index on audit_events (purpose, action, at) for the purpose's daily matching quota

Without it the purpose's count went through the index on ``action`` alone: every search ever
made was read, twice per search, so a search got slower with the age of the log.
"""

from __future__ import annotations

from optinface.consent.migrations.steps import add_index

revision = '0016'
down_revision = '0015'

upgrade, downgrade = add_index('audit_events', 'purpose', 'action', 'at',
                               name='ix_audit_events_purpose_action_at')

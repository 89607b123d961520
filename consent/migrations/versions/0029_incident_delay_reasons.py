"""incident_delay_reasons: why the regulator was notified of an incident after 72 hours

GDPR art. 33(1): a notification after 72 hours comes with the reasons for the delay. They are
kept on the incident (consent.incidents) and, like the notification itself, in its
``incident_notified`` audit event. A plain ADD COLUMN, nullable: NULL for a notification in time,
and for one recorded before this revision, which had no reason to give.

Downgrade: the older schema has nowhere to keep a reason, so the column goes; each reason stays
in the audit chain (an incident's event is never pruned), and upgrading again takes it back from
there: the latest notification of the regulator gives each incident its reason, as it did.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'


def upgrade() -> None:
    op.add_column('incidents', sa.Column('regulator_delay_reason', sa.Text(), nullable=True))
    events = sa.table('audit_events', sa.column('seq', sa.Integer),
                      sa.column('action', sa.String), sa.column('details', sa.JSON))
    incidents = sa.table('incidents', sa.column('id', sa.String),
                         sa.column('regulator_delay_reason', sa.Text))
    bind = op.get_bind()
    latest: dict[str, str | None] = {}
    for (details,) in bind.execute(sa.select(events.c.details).where(
            events.c.action == 'incident_notified').order_by(events.c.seq)):
        if details and details.get('audience') == 'regulator':
            latest[details['incident_id']] = details.get('delay_reason')
    for incident_id, reason in latest.items():
        if reason is not None:
            bind.execute(incidents.update().where(incidents.c.id == incident_id).values(
                regulator_delay_reason=reason))


def downgrade() -> None:
    op.drop_column('incidents', 'regulator_delay_reason')

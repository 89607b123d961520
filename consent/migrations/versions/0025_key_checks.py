"""key_checks: a check value of the HMAC and rotation secrets the ledger's data were made with

Neither can be told from the data otherwise: the HMAC key's hashes are of secrets the ledger
does not keep, and a foreign rotation only makes every search miss. A ledger that was re-keyed
gets the fingerprint its last re-key event names (the rotation its templates are under, even if
the re-key's key was never put in place); what it still lacks is recorded at its next start.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'

LAST_REKEY = sa.text("SELECT details FROM audit_events WHERE action = 'templates_rekeyed'"
                     " ORDER BY seq DESC LIMIT 1")


def upgrade() -> None:
    key_checks = op.create_table(
        'key_checks',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('value', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    details = op.get_bind().execute(LAST_REKEY).scalar()
    if details is not None:  # JSON text on SQLite, already a dict from PostgreSQL
        fingerprint = (json.loads(details) if isinstance(details, str) else details)[
            'new_fingerprint']
        op.bulk_insert(key_checks, [{'name': 'rotation', 'value': fingerprint}])


def downgrade() -> None:
    op.drop_table('key_checks')

"""consents.retained_until: the end of the purposes' retention, enforced like expiry

Existing consents get obtained_at + the longest retention of their purposes, which is what the
sweeper computed for them until now.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'

_consents = sa.table(
    'consents',
    sa.column('id', sa.String),
    sa.column('obtained_at', sa.DateTime),
    sa.column('retained_until', sa.DateTime),
)
_EPOCH = datetime(1970, 1, 1)  # naive: how the ledger's DateTime columns store UTC
_links = sa.table('consent_purposes', sa.column('consent_id'), sa.column('purpose_id'))
_purposes = sa.table('purposes', sa.column('id'), sa.column('retention_days', sa.Integer))


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch table copy: with foreign keys on, dropping the old
    # consents table during a copy would cascade into consent_purposes and lose every link.
    # NOT NULL needs a default for the rows already there; each gets its real value below
    # (a consent without a purpose, which never authorised anything, keeps the epoch).
    op.add_column('consents', sa.Column('retained_until', sa.DateTime(), nullable=False,
                                        server_default=str(_EPOCH)))
    bind = op.get_bind()
    longest = bind.execute(
        sa.select(_consents.c.id, _consents.c.obtained_at,
                  sa.func.max(_purposes.c.retention_days))
        .join(_links, _links.c.consent_id == _consents.c.id)
        .join(_purposes, _purposes.c.id == _links.c.purpose_id)
        .group_by(_consents.c.id, _consents.c.obtained_at)
    ).all()
    for consent_id, obtained_at, days in longest:
        bind.execute(_consents.update().where(_consents.c.id == consent_id)
                     .values(retained_until=obtained_at + timedelta(days=days)))


def downgrade() -> None:
    op.drop_column('consents', 'retained_until')

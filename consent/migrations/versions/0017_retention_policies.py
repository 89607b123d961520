"""retention_policies, and consents.retention_policy_sha256: the policy version each person signs

Consents given before have no signed policy and keep NULL: their receipts never named one.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns, combine, create_table

revision = '0017'
down_revision = '0016'

upgrade, downgrade = combine(
    create_table('retention_policies',
                 sa.Column('sha256', sa.String(64), primary_key=True),
                 sa.Column('policy_url', sa.String(500), nullable=False),
                 sa.Column('rules', sa.JSON(), nullable=False),
                 sa.Column('published_at', sa.DateTime(), nullable=False)),
    # Plain ALTER TABLE, never a batch table copy (see 0003); no foreign key, so that the
    # downgrade can drop the column the same way.
    add_columns('consents', sa.Column('retention_policy_sha256', sa.String(64), nullable=True)),
)

"""index_changes: the change feed that keeps several workers' index replicas current"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import create_table

revision = '0008'
down_revision = '0007'

upgrade, downgrade = create_table(
    'index_changes',
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=10), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sqlite_autoincrement=True,
)

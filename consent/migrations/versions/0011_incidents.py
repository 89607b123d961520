"""incidents: the register of confidentiality incidents"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import create_table, public_id

revision = '0011'
down_revision = '0010'

upgrade, downgrade = create_table(
    'incidents',
    public_id(),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('circumstances', sa.Text(), nullable=False),
    sa.Column('occurred_from', sa.DateTime(), nullable=False),
    sa.Column('occurred_until', sa.DateTime(), nullable=True),
    sa.Column('became_aware_at', sa.DateTime(), nullable=False),
    sa.Column('data_categories', sa.JSON(), nullable=False),
    sa.Column('subjects_affected', sa.Integer(), nullable=True),
    sa.Column('affected_is_estimate', sa.Boolean(), nullable=False),
    sa.Column('quebec_residents', sa.Integer(), nullable=True),
    sa.Column('involves_templates', sa.Boolean(), nullable=False),
    sa.Column('risk_of_serious_injury', sa.Boolean(), nullable=False),
    sa.Column('risk_assessment', sa.Text(), nullable=False),
    sa.Column('downgrade_reason', sa.Text(), nullable=True),
    sa.Column('measures_taken', sa.Text(), nullable=False),
    sa.Column('measures_suggested', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=40), nullable=True),
    sa.Column('keep_until', sa.DateTime(), nullable=False),
    sa.Column('regulator_notified_at', sa.DateTime(), nullable=True),
    sa.Column('subjects_notified_at', sa.DateTime(), nullable=True),
)

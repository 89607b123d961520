"""audit_events.subject_seals: each subject's salted hash, covered by the chain in their place

NULL for the events written before: they hash their pseudonyms and keep them after an erasure.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0019'
down_revision = '0018'

upgrade, downgrade = add_columns(
    'audit_events', sa.Column('subject_seals', sa.JSON(), nullable=True))

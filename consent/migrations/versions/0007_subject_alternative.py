"""subjects.alternative_chosen_at: the person chose the non-biometric alternative"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0007'
down_revision = '0006'

# Plain ALTER TABLE (see 0003): subjects is pointed at by every other table.
upgrade, downgrade = add_columns(
    'subjects', sa.Column('alternative_chosen_at', sa.DateTime(), nullable=True))

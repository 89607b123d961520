"""consents.guardian_until: a guardian's consent ends a grace period after its person comes of age

NULL for the person's own consents and for those given before: a guardian's consent given
before this revision keeps its expiry and its purposes' retention as its only limits.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0021'
down_revision = '0020'

upgrade, downgrade = add_columns(
    'consents', sa.Column('guardian_until', sa.DateTime(), nullable=True))

"""rights_requests.refusal_ground and refusal_reasons: a refusal is reasoned (GDPR art. 12(5))

NULL for answers, and for every request closed before: refusals did not exist.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0020'
down_revision = '0019'

upgrade, downgrade = add_columns('rights_requests',
                                 sa.Column('refusal_ground', sa.String(30), nullable=True),
                                 sa.Column('refusal_reasons', sa.Text(), nullable=True))

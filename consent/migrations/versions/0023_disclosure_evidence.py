"""disclosures.evidence: the person's signature of a disclosure on their own grounds

The WebAuthn assertion over the ``disclose`` statement, kept like a consent receipt's
``subjectSignature``; NULL on the controller's grounds, for disclosures recorded before this
revision, and once the subject is erased.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0023'
down_revision = '0022'

upgrade, downgrade = add_columns('disclosures', sa.Column('evidence', sa.JSON(), nullable=True))

"""probe_consents.subject_ref: a verify's probe consent is signed by the subject compared with

NULL for the probe consents of identifications, and for those made before: a verify refuses
them (``not_signed_by_the_subject``).
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0018'
down_revision = '0017'

upgrade, downgrade = add_columns(
    'probe_consents', sa.Column('subject_ref', sa.String(64), nullable=True))

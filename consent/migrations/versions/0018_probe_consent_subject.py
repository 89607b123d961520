"""probe_consents.subject_ref: a verify's probe consent is signed by the subject compared with

NULL for the probe consents of identifications, and for those made before: a verify refuses
them (``not_signed_by_the_subject``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'


def upgrade() -> None:
    op.add_column('probe_consents', sa.Column('subject_ref', sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column('probe_consents', 'subject_ref')

"""key_client_certificates: a relying party's key bound to its client certificate

The SHA-256 of the certificate (of its DER), never the certificate; NULL for keys made before
and for every key not bound (consent.client_certificates).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'


def upgrade() -> None:
    # Plain ALTER TABLE (see 0003): no batch copy of a table other tables may point at.
    op.add_column('api_keys', sa.Column('client_cert_sha256', sa.String(length=64),
                                        nullable=True))


def downgrade() -> None:
    op.drop_column('api_keys', 'client_cert_sha256')

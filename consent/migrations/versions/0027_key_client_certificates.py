"""key_client_certificates: a relying party's key bound to its client certificate

The SHA-256 of the certificate (of its DER), never the certificate; NULL for keys made before
and for every key not bound (consent.client_certificates). Going back, the code before knows
no binding: a bound key still in use is revoked first, now, so a downgrade never turns a key
that worked only with its certificate into a bearer key that works anywhere (as 0026 revokes
an expiring key rather than make it permanent).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'


def upgrade() -> None:
    # Plain ALTER TABLE (see 0003): no batch copy of a table other tables may point at.
    op.add_column('api_keys', sa.Column('client_cert_sha256', sa.String(length=64),
                                        nullable=True))


def downgrade() -> None:
    keys = sa.table('api_keys', sa.column('client_cert_sha256', sa.String),
                    sa.column('revoked_at', sa.DateTime))
    now = datetime.now(UTC).replace(tzinfo=None)  # the ledger keeps UTC without its offset
    op.get_bind().execute(keys.update().where(keys.c.client_cert_sha256.is_not(None),
                                              keys.c.revoked_at.is_(None)).values(revoked_at=now))
    op.drop_column('api_keys', 'client_cert_sha256')

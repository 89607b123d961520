"""admin_passkeys: an admin key's second factor, its passkey and its current step-up

The passkey's public key lives in passkey_credentials like a person's; this table binds it to
one admin key and keeps the keyed hash (never the token) of the key's step-up
(consent.admin_mfa). Empty until an admin registers a passkey.

Downgrade: the older schema has no second factor, so every binding goes with the table, and with
it the passkeys of capacity admin-passkey (no subject's, and nothing else names them) and the
one-time links and ceremonies of the admin kinds; left, they would be credentials no rule
governs. While any key is bound it is refused, so that no operator turns the admins' second
factor off without meaning to, unless asked for: ``alembic -x drop_admin_mfa=1 downgrade 0027``.
The admins then register again, on the operator's links, once upgraded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = '0028'
down_revision = '0027'


def upgrade() -> None:
    op.create_table(
        'admin_passkeys',
        sa.Column('api_key_id', sa.String(40), sa.ForeignKey('api_keys.id'), nullable=False),
        sa.Column('credential_id', sa.String(1400), sa.ForeignKey('passkey_credentials.id'),
                  nullable=False),
        sa.Column('registered_at', sa.DateTime(), nullable=False),
        sa.Column('step_up_hash', sa.String(64), nullable=True),
        sa.Column('step_up_expires_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('api_key_id'),
        sa.UniqueConstraint('credential_id'),
    )


def downgrade() -> None:
    bound = op.get_bind().execute(sa.text('SELECT count(*) FROM admin_passkeys')).scalar()
    if bound and context.get_x_argument(as_dictionary=True).get('drop_admin_mfa') != '1':
        raise RuntimeError(
            f'{bound} admin key(s) have a passkey, which migrating below 0028 drops: pass'
            ' -x drop_admin_mfa=1 to drop them (their admins register again once upgraded)')
    op.drop_table('admin_passkeys')
    op.execute("DELETE FROM ceremonies WHERE kind IN ('admin_step_up', 'admin_replace')"
               " OR link_id IN (SELECT id FROM one_time_links WHERE kind = 'admin-passkey')")
    op.execute("DELETE FROM one_time_links WHERE kind = 'admin-passkey'")
    op.execute("DELETE FROM passkey_credentials WHERE capacity = 'admin-passkey'")

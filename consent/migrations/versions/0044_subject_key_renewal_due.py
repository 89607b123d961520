"""subject_keys.renewal_due: the keys made before destructions renewed them, renewed once

Before revision 0044's version, a template destroyed while its subject stayed (a consent that
ended or was withdrawn while another kept them, a template replaced, the alternative chosen)
left the subject's data key in force, and each epoch rotation wrapped that same key again: a
copy of the ledger made before such a destruction (a backup, a snapshot) kept the destroyed
template under a key that lived on. Each destruction now renews the key
(``consent.key_renewal``). Every key that exists when this revision runs is marked due, and the
next start renews each once (``consent.key_renewal.renew_due``, chained as
``subject_keys_renewed``), so those copies' templates fall with their epoch as an erasure's do.
Keys made after are not marked.

Downgrade: the mark goes; a key not yet renewed stays as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0044'
down_revision = '0043'


def upgrade() -> None:
    op.add_column('subject_keys', sa.Column('renewal_due', sa.Boolean(), nullable=False,
                                            server_default=sa.false()))
    keys = sa.table('subject_keys', sa.column('renewal_due', sa.Boolean()))
    op.execute(keys.update().values(renewal_due=True))


def downgrade() -> None:
    op.drop_column('subject_keys', 'renewal_due')

"""subject_token_issuers: which passkey issued each subject token

A person who fears a copied API token revokes it from the portal or over the API
(consent.subject_tokens), and to tell their tokens apart they see, for each, the passkey whose
sign-in or signed ``subject_token`` act issued it, by the keyed hash the log and the receipts
name passkeys by (``consent.passkeys.audit_reference``). Nothing recorded that per token, so
``subject_tokens.credential_hash`` keeps it; a token issued since is sealed with it
(``consent.row_seals``, ``issuedBy``). A plain nullable ADD COLUMN: a token issued before is
left as it was sealed, its passkey shown as not recorded.

Downgrade: the older schema has nowhere to keep it, so the column goes; every token issued
since then no longer matches its seal and authenticates no one until the operator seals it
again (``optinface keys reseal``) or its person signs in again.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0039'
down_revision = '0038'

upgrade, downgrade = add_columns(
    'subject_tokens', sa.Column('credential_hash', sa.String(64), nullable=True))

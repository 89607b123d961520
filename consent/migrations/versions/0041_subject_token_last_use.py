"""subject_token_last_use: the day each subject token last authenticated

A person looking at their token list (the portal's, ``GET /v1/subjects/{s}/tokens``) could not
tell a token a thief is using from one lying unused: nothing recorded a token's use. The day
(UTC) it last authenticated is kept in ``subject_tokens.last_used_on``, written at most once a
day per token (``consent.token_use``): a day, never a time of day, an address or a route. A
plain nullable ADD COLUMN: a token issued before is shown as not used since. No seal covers it
(``consent.row_seals``: it grants nothing), so every token keeps its seal.

Downgrade: the older schema has nowhere to keep it, so the column goes; every token still
authenticates, its last use forgotten.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0041'
down_revision = '0040'

upgrade, downgrade = add_columns(
    'subject_tokens', sa.Column('last_used_on', sa.Date(), nullable=True))

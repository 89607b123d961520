"""operator_texts: the operator's French for the English texts it typed that consent forms show

Québec's Law 25 and the Charter of the French language: a French-speaking person consents in
French. A purpose's name, description and legal basis, the recipients and the transfer
safeguards were typed once, in English; this table holds their translations, one row per
language and English text (keyed by the text's SHA-256, see consent.operator_texts). A new table,
nothing to carry over: every text starts untranslated, and French consent forms say so.

Downgrade: the older schema shows English only, so the table goes, and with it the translations
(each was chained in the audit log, ``operator_text_translated``, by the SHA-256 of its text);
the consents signed in French keep, in their receipts, the French text their persons signed.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import create_table

revision = '0032'
down_revision = '0031'

upgrade, downgrade = create_table(
    'operator_texts',
    sa.Column('language', sa.String(20), primary_key=True),
    sa.Column('source_sha256', sa.String(64), primary_key=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
)

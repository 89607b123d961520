"""page_sessions: the pages' signed-in sessions, kept in the ledger for every worker

Before this revision each worker kept its pages' sessions in memory: several workers needed
sticky sessions, and a restart ended every session. The table holds, per session, the SHA-256
of its id (the cookie's value), its area and expiry, what it carries sealed under a key derived
from its id (consent.page_sessions), and its subject's tombstone hash for erasure. A new table,
nothing to carry over: the sessions held in memory ended with the old workers.

Downgrade: the table goes, and with it every open session; people and reviewers sign in again.
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import create_table

revision = '0033'
down_revision = '0032'

upgrade, downgrade = create_table(
    'page_sessions',
    sa.Column('id_hash', sa.String(64), primary_key=True),
    sa.Column('area', sa.String(20), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('nonce', sa.LargeBinary(), nullable=True),
    sa.Column('sealed', sa.LargeBinary(), nullable=True),
    sa.Column('subject_hash', sa.String(64), nullable=True),
    sa.Column('erased', sa.Boolean(), nullable=False),
    indexed=['expires_at', 'subject_hash'],
)

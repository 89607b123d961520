"""A start replays the whole erasure journal, which nothing compacts: every revocation and
portal log-out, withdrawal, erasure and purpose withdrawal adds a line for good. Each set of
ids it reads the ledger for is bound a chunk at a time (``db.in_chunks``), so a journal past
the database's limit on bound values (SQLite's ``SQLITE_LIMIT_VARIABLE_NUMBER``, lowered here
for the test's connections; PostgreSQL's 65,535) still starts (review 21a #7)."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from optinface.consent import erasure_journal
from optinface.consent.apikeys import SUBJECT_TOKEN_PREFIX
from optinface.consent.db import IN_CHUNK
from optinface.consent.roles import Role
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.tables import ApiKey
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, make_world, outside_sql, row_count

LINES_OF_EACH_KIND = 70_000
"""Past PostgreSQL's 65,535 parameters a statement and the SQLite limit below."""
SQLITE_VARIABLES = 2 * IN_CHUNK
"""SQLite's limit on a statement's bound values, for this test's connections: below the
journal's sets, above a chunk (the default build's 32,766 or Debian's 250,000 would need
millions of lines to show the same)."""


@contextmanager
def sqlite_variables_limited() -> Iterator[None]:
    """Every SQLite connection opened meanwhile binds at most :data:`SQLITE_VARIABLES` values a
    statement (Python 3.11's ``setlimit``); PostgreSQL's connections are left as they are."""
    def limit(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQLITE_VARIABLES)

    event.listen(Pool, "connect", limit)
    try:
        yield
    finally:
        event.remove(Pool, "connect", limit)


def _journal_of_many(service: OptinFace, clock: FakeClock) -> None:
    """:data:`LINES_OF_EACH_KIND` lines of each kind whose ids a start reads the ledger for,
    naming rows this ledger never held (ids as the service makes them: random)."""
    now = clock.now()
    many = range(LINES_OF_EACH_KIND)
    erasure_journal.record(
        service.runtime,
        *(erasure_journal.KeyRevoked(key_id=(SUBJECT_TOKEN_PREFIX if n % 2 else "k_")
                                     + secrets.token_hex(8), at=now) for n in many),
        *(erasure_journal.Withdrawal(consent_id=secrets.token_hex(16), at=now) for _ in many),
        *(erasure_journal.JournalEntry(subject_hash=secrets.token_hex(32),
                                       reason=ErasureReason.REQUEST, at=now) for _ in many),
        *(erasure_journal.PurposeWithdrawn(consent_id=secrets.token_hex(16),
                                           purpose_id=secrets.token_hex(16), at=now)
          for _ in many))


@pytest.mark.slow
@both_backends
def test_a_start_replays_a_journal_longer_than_one_statement_may_bind(
    open_service: Callable[[], OptinFace], clock: FakeClock,
) -> None:
    """A key revoked, then put back by a restored copy, among 70,000 revocations and as many
    withdrawals, erasures and purpose withdrawals: the start replays them all and revokes the
    key again."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        leaked = service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="leaked")
        service.revoke_api_key(actor=world.admin, key_id=leaked.key_id)
        _journal_of_many(service, clock)
        outside_sql(service, "UPDATE api_keys SET revoked_at = NULL WHERE id = :id",
                    id=leaked.key_id)  # the row as a copy from before the revocation holds it

    with sqlite_variables_limited(), closing(open_service()) as service:
        assert row_count(service, ApiKey, ApiKey.id == leaked.key_id,
                         ApiKey.revoked_at.is_not(None)) == 1

"""The day a subject token last authenticated, so its person can spot one they did not use.

A subject token is a bearer credential: whoever copied one acts as the person, and nothing in
their token list told a token a thief is using from one lying in a drawer. So each token keeps
the UTC day it last authenticated (``subject_tokens.last_used_on``), shown in the portal's list
and the API's (``last_used_on``).

Coarse on purpose, and written at most once per token per day:

- a day, never a time of day, an address or a route: enough to say "used today, and I did not",
  and no trail of where and when the person (or their guardian) goes with their token;
- a write is a write transaction, serialised with every other on the ledger (SQLite's write
  lock, PostgreSQL's ledger lock): one on every request would put each authentication behind
  the ledger's writers, and grow the WAL, for a date that changes once a day. The day is read
  with the token in the authentication's own read; a token used today already writes nothing.

The column grants nothing: no seal covers it (:func:`consent.row_seals.subject_token_sealed`),
so whoever edits it in the database opens no token and refuses none; they can only make the
person's list say something false about its use, which they could as well by deleting rows.

Best effort: the record is not the authentication. A write that fails (a read-only replica, the
database gone between the read and the write, on PostgreSQL a ledger lock held by another
writer past :data:`LOCK_WAIT_SECONDS`, a restored copy's replay still running past the wait every
transaction makes for it) leaves the authentication as it was decided, is logged
once per process, and is tried again at the token's next use. On SQLite a token's first use
of the day waits for a writer holding the lock as any write does (one process writes there).
"""

from __future__ import annotations

import logging
from datetime import UTC, date

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from optinface.consent.db import failure_summary
from optinface.consent.errors import LedgerRestored
from optinface.consent.runtime import Runtime
from optinface.consent.tables import SubjectToken

logger = logging.getLogger(__name__)
LOCK_WAIT_SECONDS = 2.0
"""How long, on PostgreSQL, a last use waits for the ledger's lock: a request must not queue
behind another worker's long write (a sweep, an erasure) for a date."""


def _today(runtime: Runtime) -> date:
    """The UTC day on ``runtime``'s clock: the one last use is recorded as."""
    return runtime.clock.now().astimezone(UTC).date()


def note_use(runtime: Runtime, token_id: str, *, last_used_on: date | None) -> None:
    """Record that token ``token_id``, whose row said ``last_used_on``, authenticated today;
    nothing when it says today already. Two requests of the same token that both read another
    day write it once: the second's ``UPDATE`` finds today there and changes no row."""
    day = _today(runtime)
    if last_used_on == day:
        return
    try:
        with runtime.db.bounded_lock_waits(LOCK_WAIT_SECONDS), runtime.db.transaction() as session:
            session.execute(update(SubjectToken).where(
                SubjectToken.id == token_id,
                SubjectToken.last_used_on.is_distinct_from(day)).values(last_used_on=day))
    except (SQLAlchemyError, LedgerRestored) as error:
        runtime.error_once(logger, ("token_use",),
                           "a subject token's last use could not be recorded (%s): tokens"
                           " authenticate as before, their list shows an older day",
                           failure_summary(error) if isinstance(error, DBAPIError)
                           else type(error).__name__)

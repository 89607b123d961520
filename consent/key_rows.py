"""The API-key rows authentication reads, kept between requests while no one writes them.

Every request checks its secret against the row its key id names: the keyed hash the row stores,
the role, the revocation, the expiry, the client certificate a relying party's key is bound to.
Reading that row is a transaction of its own per request, and, being a read of the ledger, it
sends the API's guard to a worker thread.
:class:`KeyRows` keeps the rows it has read until the ``api_keys`` table is written through this
process's engine (:class:`consent.table_writes.TableWrites`, as the register's reads do): a new
key, a revocation, whoever issues it (the service, the CLI in process, plain SQL), and the end of
the transaction that wrote, so a write rolled back is not kept either. Only what the row stores is
kept (the keyed hash, never a secret); the hash of the presented secret is still compared with it
on every request.

With other processes writing the ledger (PostgreSQL workers, :attr:`consent.db.Database.shared`)
a revocation by another worker would go unseen: nothing is kept, every authentication reads.
On SQLite one process serves a data folder (:mod:`consent.lock`); a write to ``api_keys`` from
outside it (a ``sqlite3`` shell) goes unseen here, unlike the register's rows, whose gate reads a
digest in its transaction (:mod:`consent.table_fingerprint`): a kept row answers on the event
loop, with no read to compare. Such a write has no key store, so it breaks the row's seal: a key
revoked, widened or un-revoked from outside is refused once read, and the kept row only goes on
saying what the service last wrote (``tests/consent/test_outside_writes.py``). A whole ledger
restored behind the service (SQLite's ``.restore``) drops every kept row once the running
service finds it (:meth:`KeyRows.forget`, from :mod:`consent.live_replay`).
Subject tokens are always read too: their row says nothing without the subject's pseudonym,
which an erasure ends, and their expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from optinface.consent.db import Database
from optinface.consent.table_writes import TableWrites
from optinface.consent.tables import ApiKey

_ROW = select(ApiKey.name, ApiKey.secret_hash, ApiKey.role, ApiKey.revoked_at,
              ApiKey.expires_at, ApiKey.client_cert_sha256, ApiKey.seal
              ).where(ApiKey.id == bindparam("key_id"))


@dataclass(frozen=True, slots=True)
class KeyRow:
    """What authentication needs of one ``api_keys`` row: all its seal covers
    (:func:`consent.row_seals.api_key_sealed`), and the seal."""

    name: str
    secret_hash: str
    role: str
    revoked_at: datetime | None
    # Kept with the row: an expiry is compared with the clock on every use, so a kept row of a
    # key that expired meanwhile refuses it as a read would.
    expires_at: datetime | None
    client_cert_sha256: str | None
    seal: str | None


class KeyRows:
    """The key rows read since the last write to ``api_keys`` (nothing where the ledger is
    shared). Rows of keys that do not exist are not kept: a guessed id costs a read, which the
    API's failure throttle already limits, and never memory."""

    def __init__(self, db: Database) -> None:
        self._writes = None if db.shared else TableWrites(db.engine, (ApiKey.__tablename__,))
        # One generation for all the rows: replaced whole (never mutated), so a reader on
        # another thread sees either the old mapping or the new one.
        self._kept: tuple[int, dict[str, KeyRow]] = (-1, {})

    def kept(self, key_id: str) -> KeyRow | None:
        """``key_id``'s row as read before, if ``api_keys`` was not written since; None when
        only :meth:`read` can tell."""
        if self._writes is None:
            return None
        generation, rows = self._kept
        return rows.get(key_id) if generation == self._writes.generation else None

    def forget(self) -> None:
        """Keep no row from here: the ledger was found restored behind the service, a write
        to ``api_keys`` this engine never saw (:mod:`consent.live_replay`)."""
        self._kept = (-1, {})

    def read(self, session: Session, key_id: str) -> KeyRow | None:
        """``key_id``'s row as of ``session``'s transaction (None if there is none), kept for
        :meth:`kept`."""
        # Taken before reading: a write meanwhile moves it, so the row is never kept past it.
        generation = None if self._writes is None else self._writes.generation
        found = session.execute(_ROW, {"key_id": key_id}).one_or_none()
        if found is None:
            return None
        row = KeyRow(**found._asdict())
        if generation is not None:
            kept_generation, rows = self._kept
            same = kept_generation == generation
            self._kept = (generation, {**rows, key_id: row} if same else {key_id: row})
        return row

"""A SQLite ledger held locked by a process outside optinface, as an operator's ``sqlite3``
shell in an exclusive transaction holds it: every optinface process takes the data directory's
lock first, so only such a tool can keep a reader out of the ledger."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path


@contextmanager
def held_locked(database: Path) -> Iterator[None]:
    """No other connection reads ``database`` until the block ends, the readers of a WAL-mode
    ledger included: in exclusive locking mode the holder's lock on the file is taken at its
    first read and kept."""
    with closing(sqlite3.connect(database, isolation_level=None)) as holder:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("SELECT count(*) FROM sqlite_master").fetchall()
        try:
            yield
        finally:
            holder.execute("ROLLBACK")

"""A counter of the writes to some tables through one engine, for caches of what they hold.

:class:`TableWrites` listens to every statement the engine runs, whoever issues it (the ORM's
flushes, ``session.execute(update(...))``, ``exec_driver_sql``): an ``INSERT``, ``UPDATE``,
``DELETE`` or ``REPLACE`` that names one of the tables moves :attr:`TableWrites.generation`,
and so does the end (commit or rollback) of the transaction that ran it, so that a value read
inside that transaction, before it committed or rolled back, is not kept either. SQLAlchemy
tells of a commit just before the driver's commit lands, and a read that waits for no writer
(:meth:`consent.db.Database.reading`, a snapshot) may read in between, before the write is
visible: so the generation moves once more when the connection that wrote goes back to the
pool, after its commit landed. A cache that stores the generation it saw before reading, and
reads again whenever the generation moved, never serves rows older than the last write.

It sees only this process's engine: another process writing the same database (PostgreSQL
workers) goes unseen, so callers keep nothing where :attr:`consent.db.Database.shared` is set.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

_WRITE = re.compile(r"^\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class TableWrites:
    """``generation`` moves at each write to ``tables`` and at the end of its transaction."""

    def __init__(self, engine: Engine, tables: Iterable[str]) -> None:
        names = "|".join(re.escape(name) for name in tables)
        # Any mention of a table's name in a write: a column of the same name in another table
        # only costs a needless re-read, never a missed one.
        self._names = re.compile(rf"\b(?:{names})\b", re.IGNORECASE)
        self._lock = threading.Lock()
        self._generation = 0
        # The Connection.info key that says this transaction wrote one of ``tables``: one per
        # counter, since several watch the same engine and each must see its own writes end.
        self._wrote = ("optinface_table_writes", id(self))
        event.listen(engine, "after_cursor_execute", self._statement)
        event.listen(engine, "commit", self._ended)
        event.listen(engine, "rollback", self._ended)
        # A connection handed back to the pool: after its commit landed, or mid-transaction,
        # rolled back by the pool without the rollback event above.
        event.listen(engine.pool, "reset", self._reset)

    @property
    def generation(self) -> int:
        return self._generation

    def _bump(self) -> None:
        with self._lock:
            self._generation += 1

    def _statement(self, connection: Connection, _cursor: Any, statement: str,
                   *_args: Any) -> None:
        if _WRITE.match(statement) and self._names.search(statement):
            connection.info[self._wrote] = True
            self._bump()

    def _ended(self, connection: Connection) -> None:
        # Kept for _reset: this event comes before the driver's commit (see the docstring).
        if connection.info.get(self._wrote, False):
            self._bump()

    def _reset(self, dbapi_connection: Any, connection_record: ConnectionPoolEntry,
               reset_state: Any) -> None:
        if connection_record.info.pop(self._wrote, False):
            self._bump()

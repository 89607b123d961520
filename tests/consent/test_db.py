"""The pragmas erasure relies on are set by us on every connection, not left to the build."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.exc import DBAPIError

from optinface.consent.db import lock_wait_ended, make_engine, start_read_refusal
from optinface.consent.errors import DataDirInUse, DataDirUnusable
from tests.support.ledger_lock import held_locked


def test_secure_delete_is_on_even_for_a_connection_that_starts_with_it_off(
    tmp_path: Path,
) -> None:
    """This machine's SQLite is built with secure_delete on by default, so only a connection
    forced off before our configuration runs shows that the pragma is really set."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")

    def force_off(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA secure_delete=OFF")
        assert dbapi_connection.execute("PRAGMA secure_delete").fetchone() == (0,)

    event.listen(engine, "connect", force_off, insert=True)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        engine.dispose()


def test_a_write_lock_held_past_sqlites_busy_timeout_is_a_lock_wait_that_ended(
    tmp_path: Path,
) -> None:
    """Review 20d #3: the close skips its own writes when another thread holds the ledger's
    write lock past the wait allowed; on SQLite that is "database is locked" (SQLITE_BUSY), met
    here for real with two connections, the second waiting not at all."""
    path = tmp_path / "ledger.db"
    waiter = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with closing(sqlite3.connect(path, isolation_level=None)) as holder:
            holder.execute("CREATE TABLE t (x INTEGER)")
            holder.execute("BEGIN IMMEDIATE")
            with waiter.connect() as blocked, pytest.raises(DBAPIError) as error:
                blocked.exec_driver_sql("INSERT INTO t VALUES (1)")
            holder.execute("ROLLBACK")
        assert lock_wait_ended(error.value)
        with waiter.connect() as connection, pytest.raises(DBAPIError) as other:
            connection.exec_driver_sql("INSERT INTO missing VALUES (1)")
        assert not lock_wait_ended(other.value)
    finally:
        waiter.dispose()


def test_a_start_that_cannot_read_a_ledger_another_process_holds_says_it_is_in_use(
    tmp_path: Path,
) -> None:
    """The start said ``data_dir_unusable: the ledger cannot be read``, as of a damaged file, of
    a ledger an operator's ``sqlite3`` shell held for a moment: it is ``data_dir_in_use``, for
    now; a file that is no database stays ``data_dir_unusable``."""
    path = tmp_path / "ledger.db"
    sqlite3.connect(path).close()
    reader = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with held_locked(path), reader.connect() as blocked, \
                pytest.raises(DBAPIError) as locked:
            blocked.exec_driver_sql("SELECT count(*) FROM sqlite_master")
        assert isinstance(start_read_refusal(locked.value), DataDirInUse)
        reader.dispose()
        path.write_bytes(b"not a database" * 100)
        with reader.connect() as damaged, pytest.raises(DBAPIError) as unreadable:
            damaged.exec_driver_sql("SELECT count(*) FROM sqlite_master")
        assert isinstance(start_read_refusal(unreadable.value), DataDirUnusable)
    finally:
        reader.dispose()

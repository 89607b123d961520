"""The database: engine, sessions, serialised write transactions, migrations, WAL checkpoint.

SQLite (the embedded default) is configured on every connection for what erasure needs:
``secure_delete`` overwrites deleted rows with zeros, and a ``wal_checkpoint(TRUNCATE)`` then
empties the write-ahead log that still holds the old pages. Every transaction starts with
``BEGIN IMMEDIATE`` so two writers never interleave: that is what keeps the audit hash chain
from forking, and what makes the daily quota, the single-use probe consents and the first-admin
bootstrap exact (each reads and writes in one transaction nobody else runs beside).

PostgreSQL (several workers, see :mod:`consent.changefeed`) gets the same guarantee across
processes and machines from a transaction-level advisory lock taken first in every
:meth:`Database.transaction`: ``pg_advisory_xact_lock`` is released by the commit or rollback
(or by the server when a worker's connection dies, even by ``kill -9``). Under READ COMMITTED
each statement after the lock sees every transaction committed before it, so the chain's last
hash, the quota's count and the probe's ``used_at`` are read exactly as SQLite reads them.

Reads wait for no writer (:meth:`Database.reading`): on SQLite a deferred ``BEGIN`` in WAL
mode reads one snapshot of the database, never taking the write lock; on PostgreSQL a
``REPEATABLE READ, READ ONLY`` transaction without the advisory lock reads one snapshot too. So
a read sees the ledger as every transaction committed before its first statement left it, and
nothing committed after, whatever it reads next: a page, the register or ``/healthz`` answers
while a sweep or an erasure holds the write lock, and PostgreSQL's workers read side by side.
A read decides no write: what must be read and written with nobody writing between (the chain's
head, the quota, a probe consent's use, the bootstrap) is read in :meth:`Database.transaction`.
A reading session that tries to write fails loudly (:class:`WriteInReading`, and the database
refuses it too: SQLite's ``query_only``, PostgreSQL's read-only transaction) rather than
being upgraded to a write, or rolled back in silence.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import quote

import psycopg
from sqlalchemy import ColumnElement, Connection, Delete, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.elements import SQLCoreOperations

from optinface.consent.errors import DataDirInUse, DataDirUnusable, WriteUnfinished
from optinface.consent.settings import is_in_memory
from optinface.engine.files import PRIVATE_MODE

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
OWED_RETRY_WAIT_MS = 1_000
"""How long a retry of an owed checkpoint waits for reads (:attr:`Database.checkpoint_owed`):
short, since a checkpoint that truncates holds the writers while it waits, and the retry comes
again on a back-off; the first one, after the deletion, waited :data:`BUSY_TIMEOUT_MS`."""
LEDGER_LOCK = 0x6F70_7469_6E66  # "optinf": the one advisory lock every ledger write takes
FIRST_USE_LOCK = LEDGER_LOCK + 1  # held while a worker creates what all workers share
READING = "optinface_reading"
"""The execution option of :meth:`Database.reading`'s engine: its transactions begin as reads."""
_STALE_TABLE = re.compile(r"on table '(\w+)'")
"""The table a :class:`StaleDataError` names (SQLAlchemy's message, its only record of it)."""
READ_ONLY_PG = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"


class WriteInReading(RuntimeError):
    """A reading session (:meth:`Database.reading`) was asked to write: a bug to fix (use
    :meth:`Database.transaction`), never something to upgrade silently to a write that would
    not be serialised with the others."""


def sqlite_file(url: str) -> Path | None:
    """The database file a SQLite ``url`` names; None for PostgreSQL (or SQLite in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or is_in_memory(url) or parsed.database is None:
        return None
    return Path(parsed.database)


def _first_missing(database: Path) -> Path | None:
    """The outermost of ``database`` and its folders that does not exist yet: what creating it
    makes. None when the file is there."""
    if database.exists():
        return None
    missing = [folder for folder in database.parents if not folder.exists()]
    return missing[-1] if missing else database


def _create_private(database: Path) -> None:
    """Create the database file 0600 before SQLite does: its -wal and -shm files copy the
    database's mode, and they hold the same ciphertext templates and ledger.

    Raises:
        DataDirUnusable: the file or its folder cannot be made (a file in the way of a folder,
            no permission, a full disk).
    """
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, PRIVATE_MODE))
        os.chmod(database, PRIVATE_MODE)
    except (FileExistsError, NotADirectoryError) as error:
        raise DataDirUnusable(f"the ledger's database {database} cannot be made: a file stands"
                              f" in the way of its folder {database.parent}") from error
    except OSError as error:
        raise DataDirUnusable(f"the ledger's database {database} cannot be made:"
                              f" {error.strerror}") from error


def _engine(url: str, **options: Any) -> Engine:
    """Every engine of the ledger: an error's text names the statement, never its parameters,
    which are the request's values (a name, a note, a pseudonym) and would reach the log."""
    return create_engine(url, hide_parameters=True, **options)


def make_engine(url: str) -> Engine:
    """An engine; for SQLite, with the pragmas set on every new connection."""
    if make_url(url).get_backend_name() != "sqlite":
        engine = _engine(url, pool_pre_ping=True)

        @event.listens_for(engine, "begin")
        def _begin_read(connection: Connection) -> None:
            if reads(connection):  # one snapshot for the whole read; writes refused
                connection.exec_driver_sql(READ_ONLY_PG)

        return engine
    if (database := sqlite_file(url)) is not None:
        _create_private(database)
    engine = _engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN IMMEDIATE is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            "secure_delete=ON",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
            "synchronous=FULL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # A write takes the write lock at once; a read (deferred BEGIN) reads a WAL snapshot
        # and never takes it: query_only makes SQLite refuse any write it would try. Set on
        # each transaction, since a connection serves reads and writes in turn.
        reading = reads(connection)
        connection.exec_driver_sql(f"PRAGMA query_only={int(reading)}")
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


def reads(connection: Connection) -> bool:
    """Whether ``connection`` came from :meth:`Database.reading`'s engine."""
    return bool(connection.get_execution_options().get(READING, False))


def failure_summary(error: DBAPIError) -> str:
    """What of a database failure may reach the log: the driver's exception class, the SQLSTATE
    (PostgreSQL) and the first line of its message. Not the rest: PostgreSQL's DETAIL and
    CONTEXT lines quote rows and keys (``Failing row contains (...)``, ``Key (name)=(...)``),
    values the request sent that ``hide_parameters`` does not reach; nor SQLAlchemy's statement
    text."""
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    head = str(original).strip().split("\n", 1)[0]
    return f"{type(original).__name__}{f' [SQLSTATE {sqlstate}]' if sqlstate else ''}: {head}"


UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
"""The SQLSTATEs (or classes) by which PostgreSQL says it cannot serve for now: a connection
exception, the server shutting down or restarting, too many connections."""


def unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the ledger's database cannot serve for now rather than that the
    request, the code or the configuration is wrong: the server refusing or dropping the
    connection (psycopg's connection left BAD, with no SQLSTATE since no server answered, or
    none made at all: its host name not resolved), one of :data:`UNREACHABLE_SQLSTATES`, a
    connection SQLAlchemy found dead, or its pool with no connection free in time. The API
    answers these 503 with a Retry-After, and the next request reconnects. Everything else
    stays a failure to fix (a 500 logged with its traceback): a wrong password (28), a
    deadlock, a failing trigger, a statement too large, even though psycopg files them under
    ``OperationalError`` too."""
    if isinstance(error, SQLAlchemyTimeoutError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    if not isinstance(original, psycopg.OperationalError):
        return False
    sqlstate = original.sqlstate
    if sqlstate is not None:
        return sqlstate.startswith(UNREACHABLE_SQLSTATES)
    # No connection at all: none was made (its host name not resolved, the connect timeout
    # run out), so no server could have answered with a SQLSTATE.
    return original.pgconn is None or original.pgconn.status == psycopg.pq.ConnStatus.BAD


LOCK_NOT_AVAILABLE = "55P03"
"""PostgreSQL's lock_not_available: a wait :meth:`Database.bounded_lock_waits` bounds ended."""


def lock_wait_ended(error: BaseException) -> TypeGuard[DBAPIError]:
    """Whether ``error`` is a lock wait that ended unserved: PostgreSQL's ``lock_timeout``
    (:data:`LOCK_NOT_AVAILABLE`), or SQLite's busy timeout (``database is locked``: another
    thread of this process holding the write lock past it, or a process outside optinface
    holding the file, :func:`ledger_locked`)."""
    return _database_says(error, (sqlite3.SQLITE_BUSY,), (LOCK_NOT_AVAILABLE,))


DAMAGED_SQLSTATES = ("XX001", "XX002")
"""PostgreSQL's data_corrupted and index_corrupted."""
DAMAGED_SQLITE_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
"""SQLite's "database disk image is malformed" and "file is not a database"."""
FAILING_SQLSTATES = ("53100",)
"""PostgreSQL's disk_full."""
FAILING_SQLITE_CODES = (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR)
"""SQLite's "database or disk is full" and its I/O errors: a write the file system refused (a
full disk, a limit on file sizes) or a disk failing."""


def storage_refusal(error: BaseException) -> DataDirUnusable | None:
    """The refusal of a failure of the ledger's own storage met past the start's reads; None
    for any other database failure, which stays one to fix, with its traceback.

    Damaged storage (bad-input test 18, #5: 8 kB of noise in the middle of the SQLite file, met
    by the sweep, not the start): nothing but a backup mends it. Failing storage (a full disk):
    the operator frees space or mends the disk. Neither is for now (:func:`unreachable`), nor
    the caller's or the code's fault: a command refuses it in one line, the API answers 503,
    both ``data_dir_unusable``.
    """
    if _database_says(error, DAMAGED_SQLITE_CODES, DAMAGED_SQLSTATES):
        return ledger_unreadable(error)
    if storage_failing(error):
        return storage_failed(error)
    return None


def storage_failed(error: DBAPIError) -> DataDirUnusable:
    """The refusal of a ledger whose storage refused a read or a write
    (:func:`storage_failing`)."""
    return DataDirUnusable(f"the ledger's storage failed: {failure_summary(error)}")


def storage_failing(error: BaseException) -> TypeGuard[DBAPIError]:
    """Whether ``error`` is the ledger's storage refusing a read or a write (a full disk, an I/O
    error): a fault of the machine, which says nothing of what the ledger holds."""
    return _database_says(error, FAILING_SQLITE_CODES, FAILING_SQLSTATES)


def start_read_refusal(error: DBAPIError) -> DataDirInUse | DataDirUnusable:
    """The refusal of a ledger the start could not read: another process holding it locked past
    the wait, else its storage damaged or failing."""
    if lock_wait_ended(error):
        return ledger_locked(failure_summary(error))
    return ledger_unreadable(error)


def ledger_locked(failure: str) -> DataDirInUse:
    """The refusal of a ledger another process held locked past the wait (``failure``: the
    database's words), a tool outside optinface since every optinface process takes the data
    directory's lock first: a SQLite shell in an exclusive transaction, say. For now, and
    nothing of what the ledger holds."""
    return DataDirInUse(f"another process holds the ledger locked ({failure}); try again once"
                        " it lets go")


def ledger_unreadable(error: DBAPIError) -> DataDirUnusable:
    """The refusal of a ledger that cannot be read (``error`` as the log may say it): at the
    start, before migrating, and where a command or a request meets damaged storage later
    (:func:`storage_refusal`)."""
    return DataDirUnusable(f"the ledger cannot be read: {failure_summary(error)}")


def _database_says(error: BaseException, sqlite_codes: Collection[int],
                   sqlstates: Collection[str]) -> TypeGuard[DBAPIError]:
    """Whether ``error`` is the database's failure with one of these SQLite primary codes or
    PostgreSQL SQLSTATEs."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    if isinstance(original, sqlite3.Error):
        return sqlite_primary_code(original) in sqlite_codes
    return getattr(original, "sqlstate", None) in sqlstates


def sqlite_primary_code(error: sqlite3.Error) -> int:
    """SQLite's primary result code of ``error``: an extended code (SQLITE_CORRUPT_INDEX,
    SQLITE_IOERR_WRITE...) keeps it in its low byte."""
    return getattr(error, "sqlite_errorcode", 0) & 0xFF


def unreachable_summary(error: BaseException) -> str:
    """What of an :func:`unreachable` failure the log and a command may say: never values."""
    if isinstance(error, DBAPIError):
        return failure_summary(error)
    return f"{type(error).__name__}: {str(error).strip().split(chr(10), 1)[0]}"


def read_only_uri(path: Path) -> str:
    """The SQLite URI that opens ``path`` read-only (``mode=ro``), its name percent-encoded:
    unquoted, a ``#``, ``?`` or ``%`` in a folder's name would end or alter the path."""
    return f"file:{quote(str(path.absolute()))}?mode=ro"


def read_only_engine(url: str) -> Engine:
    """An engine for checking the database without changing it, for outsiders' tools.

    SQLite is opened with ``mode=ro``: the file is never created, migrated, checkpointed or
    written, and no pragma is set. With no write-ahead log beside it (no server has it open, and
    the last one closed cleanly) it is also ``immutable``, or SQLite would create the ``-shm``
    file of WAL mode; with one, the server's ``-wal`` and ``-shm`` are read as they are.

    Each transaction reads one snapshot, as the server's reads do (:func:`make_engine`): ``BEGIN``
    on SQLite, whose driver would otherwise run each ``SELECT`` on the newest commit, and
    ``REPEATABLE READ, READ ONLY`` on PostgreSQL. A check that reads the events, then the
    checkpoint rows, while a server appends would otherwise find a checkpoint past the last
    event it read, and call the log truncated.

    Raises:
        FileNotFoundError: The SQLite file does not exist.
    """
    if make_url(url).get_backend_name() != "sqlite":
        engine = _engine(url, pool_pre_ping=True)
        snapshot = READ_ONLY_PG
    else:
        path = sqlite_file(url)
        if path is None or not path.is_file():
            raise FileNotFoundError(path)
        wal = path.with_name(f"{path.name}-wal")
        uri = f"{read_only_uri(path)}{'' if wal.exists() else '&immutable=1'}"
        # The driver's own transactions off, so that the BEGIN below is the one that counts.
        engine = _engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True,
                                                                      isolation_level=None))
        snapshot = "BEGIN"

    @event.listens_for(engine, "begin")
    def _one_snapshot(connection: Connection) -> None:
        connection.exec_driver_sql(snapshot)

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def alembic_config(connection: Connection) -> Config:
    """Alembic's configuration for the ledger's migrations, run on ``connection``.

    Alembic is imported here and in :func:`migrate`, where it is used: a command that opens no
    ledger (``receipt verify``) need not pay for it (0.1 s of each start,
    ``benchmarks/bench_cli_start.py``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """One transaction in which to move the schema, every step committing or none.

    On SQLite foreign keys are off for it, as SQLite's own procedure for rebuilding a table
    asks (https://sqlite.org/lang_altertable.html, "other kinds of table schema changes"): a
    rebuild (migration 0038) drops the old table, and with them on, that drop deletes every
    row that references it through ``ON DELETE CASCADE``, and renaming a table rewrites the
    references of the others to its new name. The pragma is a no-op inside a transaction, so
    it is set on the driver's connection before the transaction begins, and on again after.
    """
    with engine.connect() as connection:
        sqlite = is_sqlite(engine)
        if sqlite:
            _driver(connection).execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                yield connection
        finally:
            if sqlite:
                _driver(connection).execute("PRAGMA foreign_keys=ON")


def _driver(connection: Connection) -> Any:
    """The DB-API connection under ``connection``, reached without beginning a transaction."""
    return connection.connection.driver_connection


def migrate(engine: Engine) -> None:
    """Bring the schema to the head revision (see consent/migrations/versions); a ledger at
    it already is only read, not handed to Alembic, which would load every migration script
    again to find that there is nothing to do (:func:`head_revision`)."""
    with migrating(engine) as connection:
        if is_postgresql(engine):  # workers starting together: one migrates, the others wait
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK})
        from alembic.runtime.migration import MigrationContext

        if MigrationContext.configure(connection).get_current_revision() == head_revision():
            return
        from alembic import command

        command.upgrade(alembic_config(connection), "head")


@functools.cache
def head_revision() -> str | None:
    """The newest migration's revision, from the scripts, read once a process: loading them
    takes about 20 ms, and a process may open its ledger many times (the tests, a worker's
    restarts in one process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


_CHECKPOINT = "PRAGMA wal_checkpoint(TRUNCATE)"


def checkpoint_wal(engine: Engine, *, wait_ms: int = BUSY_TIMEOUT_MS) -> bool:
    """Fold the WAL into the database file and truncate it, so deleted pages leave no copy;
    whether it did (always so on PostgreSQL, which has no such file to empty).

    A read holding a snapshot older than the last commit (a :meth:`Database.reading` session
    begun before it) keeps the checkpoint from copying the newer pages into the database file,
    and any read still open keeps it from truncating the WAL: SQLite's busy handler waits for
    them, up to ``wait_ms`` (reads last milliseconds: a page, the register, a chunk of the
    sweep's). Writers wait meanwhile (a checkpoint that truncates holds the writers' lock), as
    they waited for every read when reads took that lock. Past that bound the WAL is left as it
    is, with the deleted rows' old pages, and an error says so: the caller owes another
    checkpoint (:attr:`Database.checkpoint_owed`): the server's sweeper tries again within
    seconds, on a back-off, and the next sweep pays it if those tries did not.
    """
    if not is_sqlite(engine):
        return True
    # On the raw driver connection: a checkpoint cannot run inside the transaction that
    # SQLAlchemy would otherwise open (BEGIN IMMEDIATE, see make_engine).
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
        try:
            busy, frames, done = cursor.execute(_CHECKPOINT).fetchone()
        finally:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.close()
    except sqlite3.Error as error:  # the driver's own, wrapped as SQLAlchemy wraps the others'
        raise DBAPIError.instance(_CHECKPOINT, None, error, sqlite3.Error) from error
    finally:
        connection.close()
    if busy:
        logger.error("WAL checkpoint blocked by a read for %s ms (%s of %s frames copied): the"
                     " WAL keeps the pages of what was deleted until a checkpoint empties it",
                     wait_ms, done, frames)
    return not busy


IN_CHUNK = 10_000
"""The most values one ``IN`` list binds (:func:`in_chunks`): SQLite refuses a statement with
more bound variables than its ``SQLITE_LIMIT_VARIABLE_NUMBER`` (32,766 by default, Debian's
build 250,000; lowered per connection by ``setlimit``), PostgreSQL's protocol 65,535 (psycopg
binds on the server)."""


def in_chunks(column: SQLCoreOperations[Any], values: Collection[Any]) -> Iterator[
        ColumnElement[bool]]:
    """``column IN (...)`` over ``values``, one condition per :data:`IN_CHUNK` of them, none
    for no value; the caller runs its statement once per condition. For the sets that grow
    with the erasure journal and nothing compacts (the keys and tokens revoked, every portal
    log-out adding one; the consents withdrawn, the subjects erased, the purposes withdrawn):
    in one list they would pass the database's limit one day, and every start would fail."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), IN_CHUNK):
        yield column.in_(ordered[start:start + IN_CHUNK])


def rows_deleted(session: Session, *statements: Delete) -> int:
    """Run the deletes in ``session``'s transaction; how many rows they removed in all (the
    sweep reports it)."""
    connection = session.connection()  # Core: its result reports the row count
    return sum(connection.execute(statement).rowcount for statement in statements)


def _refuse_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    """A reading session's flush: called only when something is to be written."""
    raise WriteInReading(f"a reading session was asked to write: new {len(session.new)},"
                         f" changed {len(session.dirty)}, deleted {len(session.deleted)}"
                         " (write in Database.transaction)")


def _refuse_write(state: ORMExecuteState) -> None:
    """A reading session's ``insert``, ``update`` or ``delete`` statement."""
    if state.is_insert or state.is_update or state.is_delete:
        raise WriteInReading("a reading session was asked to run a write statement"
                             " (write in Database.transaction)")


def _every_session() -> None:
    """Admit every session: a ledger no running service holds back (a start's, a command's)."""


class Database:
    """Engine + session factories: one way to run a write transaction, one to read."""

    def __init__(self, url: str) -> None:
        self._file = sqlite_file(url)
        self._made = None if self._file is None else _first_missing(self._file)
        self._migrated = False
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine.execution_options(**{READING: True}),
                                     expire_on_commit=False)
        event.listen(self._readers, "before_flush", _refuse_flush)
        event.listen(self._readers, "do_orm_execute", _refuse_write)
        self.shared = is_postgresql(self.engine)
        """True when other processes may write the same ledger (PostgreSQL)."""
        self.checkpoint_wait_ms = BUSY_TIMEOUT_MS
        """How long a checkpoint waits for reads (see :func:`checkpoint_wal`)."""
        self._lock_waits = threading.local()
        """This thread's bound on a transaction's lock waits (:meth:`bounded_lock_waits`)."""
        self.checkpoint_owed = False
        """True while the last checkpoint left the WAL unemptied: the server's sweeper tries
        again within seconds, on a back-off, until one empties it (:mod:`api.sweeper`,
        :data:`OWED_RETRY_WAIT_MS`), and the next sweep checkpoints again, whatever it
        deleted."""
        self.admit: Callable[[], None] = _every_session
        """Asked before each session, read or write, begins: the running service's
        (:meth:`consent.live_replay.LiveReplay.admit`) holds sessions back while it replays the
        erasure journal on a ledger found restored behind it, so nothing is read or written on
        the copy before that."""

    def open(self) -> None:
        self._migrated = True  # from here the file is a ledger, even if migrating fails
        migrate(self.engine)

    def close_refused(self) -> None:
        """Close after a refused start, leaving no SQLite ledger file it made: a start refused
        before migrating (a mistyped ``OPTINFACE_DATABASE_URL`` beside another deployment's
        witness) would otherwise leave an empty database, and the folders made for it, where
        none was. A file that existed, or was migrated, is kept."""
        self.close()
        if self._file is None or self._made is None or self._migrated:
            return
        try:  # never in place of the refusal being raised: what cannot go stays
            for suffix in ("", "-wal", "-shm", "-journal"):
                self._file.with_name(self._file.name + suffix).unlink(missing_ok=True)
            for folder in self._file.parents:  # the folders made for it, innermost first
                if not folder.is_relative_to(self._made):
                    return
                folder.rmdir()
        except OSError:
            logger.warning("the ledger file %s made by a refused start could not be removed",
                           self._file)

    @contextmanager
    def first_use(self) -> Iterator[None]:
        """Held while a process opens what every worker shares and creates on first use (the
        key store's keys, the witness folder, the schema), so workers started together on a
        fresh deployment take turns instead of each creating its own keys. A PostgreSQL session
        advisory lock; nothing on SQLite, where the data directory's lock allows one process."""
        if not self.shared:
            yield
            return
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": FIRST_USE_LOCK})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": FIRST_USE_LOCK})

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together or not at all, serialised with every other
        transaction on the ledger (see the module docstring)."""
        self.admit()
        try:
            with self._sessions() as session, session.begin():
                if self.shared:
                    bound = getattr(self._lock_waits, "seconds", None)
                    if bound is not None:  # SET LOCAL: this transaction's waits alone
                        session.execute(text("SELECT set_config('lock_timeout', :wait, true)"),
                                        {"wait": f"{round(bound * 1000)}ms"})
                    session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                    {"key": LEDGER_LOCK})
                yield session
        except StaleDataError as undone:
            # A row the session changed or deleted was not there to change: a trigger that
            # skipped it (RETURN NULL, RAISE(IGNORE)), a rule or row security; the rows are
            # read back after the writes that need it (ledger_alterations.require_held).
            raise WriteUnfinished.kept(_STALE_TABLE.findall(str(undone))[:1]) from undone

    @contextmanager
    def bounded_lock_waits(self, seconds: float) -> Iterator[None]:
        """The write transactions this thread begins inside wait at most ``seconds`` for a lock
        on PostgreSQL, the ledger's advisory lock included (``lock_timeout``, set for each
        alone), then raise an error :func:`lock_wait_ended` recognises. Why: the close's own
        writes must not hang a SIGTERM behind another worker's hung transaction. Nothing on
        SQLite, where the data directory's lock allows one process."""
        outer = getattr(self._lock_waits, "seconds", None)
        self._lock_waits.seconds = seconds
        try:
            yield
        finally:
            self._lock_waits.seconds = outer

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session that waits for no writer and reads one snapshot of the ledger
        (see the module docstring). It writes nothing: a flush, an insert, an update or a
        delete raises :class:`WriteInReading`, and so does an object changed but not flushed
        when the block ends, which closing the session would otherwise drop in silence."""
        self.admit()
        with self._readers() as session, session.begin():  # its commit flushes: see above
            yield session

    def checkpoint(self, *, wait_ms: int | None = None) -> bool:
        """:func:`checkpoint_wal`, waiting ``wait_ms`` for reads (default
        :attr:`checkpoint_wait_ms`), noting in :attr:`checkpoint_owed` whether another is
        owed."""
        done = checkpoint_wal(self.engine, wait_ms=self.checkpoint_wait_ms if wait_ms is None
                              else min(wait_ms, self.checkpoint_wait_ms))
        self.checkpoint_owed = not done
        return done

    def close(self) -> None:
        self.engine.dispose()

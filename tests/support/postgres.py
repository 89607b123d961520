"""A real PostgreSQL 15 server for the tests, started and stopped by the tests themselves.

``initdb`` and ``pg_ctl`` come from the machine's installation (``./dev test`` installs
``postgresql-15`` when it is missing). PostgreSQL refuses to run as root and CI runs as root, so
the server then runs as the unprivileged ``postgres`` user (``runuser``) in a folder it owns.
It listens on a free loopback port with ``trust`` authentication and no Unix socket outside its
folder; for the tests ``fsync`` is off because their cluster is thrown away (never do this in
production; the benchmark keeps it on).
Each test gets its own database (``CREATE DATABASE``), so tests never see each other's rows; one
that opens a deployment gets a copy of a ledger migrated once per server (:meth:`PostgresServer.
new_ledger`), as on SQLite (:mod:`tests.support.ledger_template`).
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.rows import TupleRow

from tests.support.migrations import migrated_as_at_start
from tests.support.polling import eventually

BIN = Path(os.environ.get("OPTINFACE_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"


def available() -> str | None:
    """Why a server cannot be started here, or None when it can."""
    if not (BIN / "initdb").is_file():
        return f"no PostgreSQL 15 at {BIN} (./dev test installs postgresql-15)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and no '{SERVER_USER}' user to run PostgreSQL as"
    return None


class PostgresServer:
    """One cluster in a temporary folder; :meth:`new_database` hands out fresh databases."""

    def __init__(self, root: Path, port: int, *, durable: bool = False) -> None:
        self.root = root
        self.port = port
        self.data = root / "cluster"
        self.durable = durable
        self._migrated: str | None = None  # the database new_ledger copies, once made

    def _command(self, *argv: str) -> list[str]:
        command = [str(BIN / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        return command

    def _maintenance(self) -> psycopg.Connection[TupleRow]:
        """An autocommit session on the ``postgres`` database, for what is done from outside
        the database it acts on (create, drop, checkpoint)."""
        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                               autocommit=True)

    def _run(self, *argv: str) -> None:
        subprocess.run(self._command(*argv), check=True, capture_output=True, cwd=self.root)

    def stop_when_gone(self, pid: int) -> None:
        """Stop the cluster and delete its folder once process ``pid`` is gone, even if it was
        killed before its clean-up ran (a timeout on a shared machine): a detached watchdog."""
        stop = shlex.join(self._command("pg_ctl", "-D", str(self.data), "-m", "immediate",
                                        "-w", "stop"))
        script = (f"while kill -0 {pid} 2>/dev/null; do sleep 2; done; {stop} >/dev/null 2>&1;"
                  f" rm -rf {shlex.quote(str(self.root))}")
        subprocess.Popen(["sh", "-c", script], start_new_session=True, cwd="/",
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-sync")
        self.resume()

    def resume(self) -> None:
        """Start the cluster :meth:`start` made, again after :meth:`stop`."""
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.root} -c max_connections=200")
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop at once, as a crash would, but with every commit's WAL written first: without
        ``synchronous_commit`` a commit of the last few hundred milliseconds would otherwise be
        lost (a key made just before, then unknown after :meth:`resume`)."""
        with self._maintenance() as connection:
            connection.execute("CHECKPOINT")
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, *, template: str | None = None) -> str:
        """A fresh empty database (or a copy of the database ``template``); its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        copied = f' TEMPLATE "{template}"' if template else ""
        with self._maintenance() as connection:
            connection.execute(f'CREATE DATABASE "{name}"{copied}')
        return self.url(name)

    def new_ledger(self) -> str:
        """A fresh database holding the migrated, empty schema, as a deployment's first start
        leaves it; its SQLAlchemy URL. A copy (``CREATE DATABASE ... TEMPLATE``) of a database
        the service's own :func:`consent.db.migrate` migrated once for this server: migrating
        from nothing took 0.7-0.9 s on the 2-core VM, the copy 0.27 s. The start still migrates
        it (at the head revision: nothing to do); migrating from nothing is tested where a
        deployment opens on :meth:`new_database` (the workers of ``tests/api/test_workers.py``
        migrating together among them)."""
        if self._migrated is None:
            url = self.new_database()
            migrated_as_at_start(url)
            self._migrated = url.rsplit("/", 1)[1]
        template = self._migrated
        copies: list[str] = []

        def copied() -> bool:
            # Refused while the template's last session is still there (its backend ends just
            # after the client closed it): "being accessed by other users".
            try:
                copies.append(self.new_database(template=template))
            except psycopg.errors.ObjectInUse:
                return False
            return True

        assert eventually(copied, within=30), f"template {template} still in use after 30 s"
        return copies[0]

    def drop(self, url: str) -> None:
        """Drop the database at ``url``, ending any session still on it (``WITH (FORCE)``)."""
        with self._maintenance() as connection:
            connection.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def dump(self, url: str, target: Path, *, clean: bool = False) -> Path:
        """``pg_dump`` of the database at ``url``, as an operator's nightly backup takes it;
        ``clean``: one that drops each object before making it again, for :meth:`load` over the
        live database (``--clean --if-exists``, as red team 5 took it)."""
        subprocess.run([str(BIN / "pg_dump"), "--format=plain",
                        *(["--clean", "--if-exists"] if clean else []), "--file", str(target),
                        _libpq(url)], check=True, capture_output=True)
        return target

    def load(self, dump: Path, url: str) -> None:
        """Load ``dump`` into the database at ``url`` (``psql``): over the live ledger, behind
        the workers that keep running, when the dump is a ``clean`` one."""
        subprocess.run([str(BIN / "psql"), "--quiet", "--set", "ON_ERROR_STOP=1",
                        "--file", str(dump), _libpq(url)], check=True, capture_output=True)

    def restore(self, dump: Path) -> str:
        """The dump loaded into a fresh database (``psql``); its URL."""
        url = self.new_database()
        self.load(dump, url)
        return url


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def postgres_server(port: int, *, durable: bool = False) -> Iterator[PostgresServer]:
    """Start a throw-away cluster on ``port``; stopped and deleted when the block ends.

    ``durable`` keeps PostgreSQL's default fsync and synchronous commit (the benchmark: a
    commit then costs what SQLite's ``synchronous=FULL`` costs); the tests turn them off.
    """
    root = Path(tempfile.mkdtemp(prefix="optinface-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVER_USER)
        os.chown(root, account.pw_uid, account.pw_gid)
    server = PostgresServer(root, port, durable=durable)
    try:
        server.start()
        server.stop_when_gone(os.getpid())
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # never started: nothing to stop
        shutil.rmtree(root, ignore_errors=True)

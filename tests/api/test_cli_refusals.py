"""An outside tester's findings on the command line: every one is one line with its code, and a
refused command acts on no other place than the deployment it names (issue #10; ``docs/service.md``:
"a mistyped path never answers from a new, empty one")."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optinface.api.cli.main import app
from optinface.consent.witness import pinned_key
from tests.support.console import (
    FREE_PORT,
    commands_data_dir,
    console,
    printed_secret,
    seeded_for_bootstrap,
)
from tests.support.files import file_bytes
from tests.support.forgery import damage_root_page
from tests.support.postgres import PostgresServer
from tests.support.server import free_port

NOT_UTF8 = os.fsdecode(b"caf\xe9\xff")
"""What Python makes of the bytes ``caf\\xe9\\xff`` on a command line: lone surrogates."""


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return commands_data_dir(tmp_path, monkeypatch)


Console = Callable[..., tuple[int, list[str]]]


@pytest.fixture
def optinface(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Console:
    """``optinface ARGS`` as a shell runs it: its exit status and its stderr's lines."""
    def run(*args: str) -> tuple[int, list[str]]:
        return console(monkeypatch, capsys, *args)
    return run


def _output(*args: str) -> str:
    """What a command that succeeds prints on stdout (``console`` keeps stderr alone)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def admin(data_dir: Path) -> str:
    return printed_secret(_output("keys", "create", "--role", "admin", "--name", "ops",
                                  "--data-dir", str(seeded_for_bootstrap(data_dir))))


def _keys_and_acts(data_dir: Path) -> tuple[int, list[str]]:
    """The API keys' count and the log's events but each start's ``reconciled``."""
    with closing(sqlite3.connect(data_dir / "optinface.db")) as db:
        return (db.execute("SELECT count(*) FROM api_keys").fetchone()[0],
                [action for (action,) in db.execute(
                    "SELECT action FROM audit_events WHERE action != 'reconciled' ORDER BY seq")])


@pytest.mark.parametrize(("command", "position"), [
    pytest.param(("keys", "revoke", NOT_UTF8, "--api-key", "{admin}"), 3, id="keys-revoke"),
    pytest.param(("export", NOT_UTF8, "--api-key", "{admin}"), 2, id="export"),
    pytest.param(("erase", NOT_UTF8, "--api-key", "{admin}"), 2, id="erase"),
    pytest.param(("keys", "create", "--role", "reviewer", "--name", NOT_UTF8, "--api-key",
                  "{admin}"), 6, id="a-name"),
    pytest.param(("backup", "{tmp}/x/" + os.fsdecode(b"\xff.db")), 2, id="backup-destination"),
])
def test_an_argument_that_is_not_utf8_is_one_line_before_any_work(
    data_dir: Path, admin: str, tmp_path: Path, optinface: Console,
    command: tuple[str, ...], position: int,
) -> None:
    """A traceback before: UnicodeEncodeError in the ledger's query, or, for a backup, a
    PydanticSerializationError printing the report of a backup already written. Refused in
    ``run`` for every command, before any work: no backup folder, no event, no key."""
    args = [part.format(admin=admin, tmp=tmp_path) for part in command]
    before = _keys_and_acts(data_dir)
    code, lines = optinface(*args, "--data-dir", str(data_dir))
    assert (code, lines) == (1, [f"refused: invalid_request: argument {position} of the command"
                                 " line is not UTF-8: ids, names and paths are taken as UTF-8"
                                 " text"])
    assert _keys_and_acts(data_dir) == before
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("variable", "value", "command"), [
    pytest.param("DATA_DIR", "{tmp}/" + NOT_UTF8, ("keys", "create", "--role", "admin",
                                                   "--name", "ops"), id="a-new-deployment"),
    pytest.param("CONTROLLER_NAME", NOT_UTF8, ("register", "--data-dir", "{data_dir}"),
                 id="a-name"),
    pytest.param("PROVIDERS", f'["{NOT_UTF8}"]', ("models",), id="in-a-json-list"),
])
def test_a_setting_that_is_not_utf8_is_one_line_naming_the_variable(
    data_dir: Path, admin: str, tmp_path: Path, optinface: Console,
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, command: tuple[str, ...],
) -> None:
    """A traceback before: a data directory spelt so made a deployment, then the next command
    ended in UnicodeEncodeError. Now refused as settings are, naming the variable only."""
    before = _keys_and_acts(data_dir), sorted(tmp_path.iterdir())
    monkeypatch.setenv(f"OPTINFACE_{variable}", value.format(tmp=tmp_path))
    code, lines = optinface(*(part.format(data_dir=data_dir) for part in command))
    assert (code, lines) == (1, [f"error: invalid_settings: OPTINFACE_{variable}: Value error,"
                                 " not UTF-8 text: paths, addresses and names are taken as"
                                 " UTF-8"])
    assert (_keys_and_acts(data_dir), sorted(tmp_path.iterdir())) == before


@pytest.mark.parametrize("variable", ["DET_SIZES", "CORS_ORIGINS"])
@pytest.mark.parametrize(("value", "why"), [
    pytest.param("[" * 5000 + "]" * 5000, "maximum recursion depth exceeded", id="too-deep"),
    pytest.param("[", "Expecting value", id="not-json"),
])
def test_a_list_setting_that_is_not_json_is_one_line_naming_the_variable(
    data_dir: Path, optinface: Console, monkeypatch: pytest.MonkeyPatch, variable: str,
    value: str, why: str,
) -> None:
    """Bad-input test 18, #4: nested deeper than the parser recurses, a RecursionError
    traceback from load_settings; not JSON, a line naming the field (``det_sizes``), not the
    variable. Both are now the variable's one line."""
    monkeypatch.setenv(f"OPTINFACE_{variable}", value)
    code, lines = optinface("sweep", "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: invalid_settings: OPTINFACE_{variable}: not JSON ({why}")
    assert not data_dir.exists()


def test_a_ledger_damaged_where_only_the_sweep_reads_is_one_line(
    data_dir: Path, admin: str, optinface: Console,
) -> None:
    """Bad-input test 18, #5: noise over a page of the ledger the start does not read (the
    one-time links, which the sweep deletes) ended the sweep in sqlalchemy's DatabaseError
    traceback, "database disk image is malformed". One line now, as a ledger the start cannot
    read is (``consent.key_check``)."""
    ledger = data_dir / "optinface.db"
    damage_root_page(ledger, "one_time_links")
    code, lines = optinface("sweep", "--data-dir", str(data_dir))
    assert (code, lines) == (1, ["error: data_dir_unusable: the ledger cannot be read:"
                                 " DatabaseError: database disk image is malformed"])


@contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """``folder`` on a read-only bind mount (as root, where mounts are allowed), else skipped."""
    made = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True,
                          check=False)
    if made.returncode != 0:
        pytest.skip(f"no bind mount here: {made.stderr.decode(errors='replace').strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@contextmanager
def _folder_in_the_way(keys: Path, written: str) -> Iterator[None]:
    """A folder where the key store's temporary file for ``written`` goes
    (:func:`engine.files.write_private_atomic`): any user, no mount needed."""
    temporary = keys / f".{written}.{os.getpid()}.tmp"
    temporary.mkdir()
    try:
        yield
    finally:
        temporary.rmdir()


@pytest.mark.parametrize(("command", "written"), [
    (("keys", "rotate-epoch"), "epoch-2.key"),
    (("protect", "rekey"), "rotation.next.key"),
])
@pytest.mark.parametrize("fault", ["read-only-mount", "folder-in-the-way"])
def test_a_key_store_that_cannot_be_written_is_one_line_leaving_the_ledger_as_it_was(
    data_dir: Path, admin: str, optinface: Console, command: tuple[str, ...], written: str,
    fault: str,
) -> None:
    """OSError [Errno 30] from write_private_atomic before. The key store is written before
    the ledger's transaction commits: refused, the ledger holds the same epochs, events and
    keys, its log verifies, and once the store is writable again the command works."""
    d = ("--data-dir", str(data_dir))
    keys = data_dir.with_name("var-keys")
    epochs = json.loads(_output("keys", "epochs", "--api-key", admin, *d))
    before = _keys_and_acts(data_dir), file_bytes(keys)
    with _read_only(keys) if fault == "read-only-mount" else _folder_in_the_way(keys, written):
        code, lines = optinface(*command, "--api-key", admin, *d)
    reason = "Read-only file system" if fault == "read-only-mount" else "Is a directory"
    assert (code, lines) == (1, [f"error: key_store_unusable: key file {keys / written} cannot"
                                 f" be written: {reason}"])
    assert (_keys_and_acts(data_dir), file_bytes(keys)) == before
    assert json.loads(_output("keys", "epochs", "--api-key", admin, *d)) == epochs
    assert optinface("audit", "verify", *d)[0] == 0
    assert optinface(*command, "--api-key", admin, *d) == (0, [])


@pytest.mark.parametrize("command", [
    ("register",), ("sweep",), ("texts", "list"), ("keys", "reseal", "--reason", "CHG-1"),
    ("audit", "reseal", "--reason", "CHG-1"), ("keys", "break-glass", "--reason", "INC-1"),
    ("keys", "create", "--role", "reviewer", "--name", "r", "--api-key", "key_x.y"),
    ("backup", "{tmp}/backup"),
], ids=lambda command: "-".join(command[:2]))
def test_an_empty_data_dir_is_no_deployment_and_nothing_is_made_there(
    data_dir: Path, tmp_path: Path, optinface: Console, command: tuple[str, ...],
) -> None:
    """A volume that failed to mount leaves its empty mount point: each of these answered
    from a new, empty ledger (exit 0, break-glass an admin key) and left optinface.db,
    optinface.lock, -keys and -witness behind."""
    data_dir.mkdir()
    args = [part.format(tmp=tmp_path) for part in command]
    before = sorted(path.name for path in tmp_path.iterdir())
    code, lines = optinface(*args, "--data-dir", str(data_dir))
    assert (code, len(lines)) == (1, 1), lines
    assert lines[0].startswith(f"error: data_dir_unusable: no ledger at {data_dir}/optinface.db,"
                               " so no deployment in the data directory"), lines
    assert "`optinface serve`" in lines[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    assert list(data_dir.iterdir()) == []


@pytest.mark.parametrize("command", [
    ("keys", "create", "--role", "reviewer", "--name", "r", "--api-key", "key_x.y"),
    ("backup", "{tmp}/backup"),
], ids=["keys-create-with-a-key", "backup"])
@pytest.mark.parametrize("data_dir_is", ["missing", "a-file"])
def test_a_data_dir_missing_or_a_file_is_data_dir_unusable_making_nothing(
    data_dir: Path, tmp_path: Path, optinface: Console, command: tuple[str, ...],
    data_dir_is: str,
) -> None:
    """``keys create`` with a key made the folder, its -keys and -witness, then refused
    ``unauthenticated``; ``backup`` said ``invalid_request: no ledger``. Only the bootstrap
    makes a deployment, and the documented code for a missing data directory is the one
    (``docs/service.md``)."""
    if data_dir_is == "a-file":
        data_dir.write_text("not a folder")
    args = [part.format(tmp=tmp_path) for part in command]
    before = sorted(path.name for path in tmp_path.iterdir())
    code, lines = optinface(*args, "--data-dir", str(data_dir))
    said = (f"no data directory at {data_dir}" if data_dir_is == "missing"
            else f"data directory {data_dir} is not a folder")
    assert (code, len(lines)) == (1, 1), lines
    assert lines[0].startswith(f"error: data_dir_unusable: {said}: `optinface serve`"), lines
    assert sorted(path.name for path in tmp_path.iterdir()) == before


@pytest.mark.parametrize("public_key", [False, True], ids=["pinned-key", "public-key"])
@pytest.mark.parametrize("data_dir_is", ["missing", "empty"])
def test_audit_verify_on_a_data_dir_holding_no_ledger_is_data_dir_unusable_not_broken(
    data_dir: Path, admin: str, tmp_path: Path, optinface: Console, data_dir_is: str,
    public_key: bool,
) -> None:
    """Black box 21, #1: a mistyped or empty --data-dir said ``audit log BROKEN: no database``,
    exit 1 (the verdict of tampering), or, without --public-key, ``invalid_request: no
    checkpoint key``. It is the refusal every command gives there, exit 2 as the verifiers
    give for input they cannot use, and nothing is made; a deleted database beside its witness
    stays BROKEN (tests/api/test_cli_audit.py)."""
    typo = tmp_path / "vra"
    if data_dir_is == "empty":
        typo.mkdir()
    key = pinned_key(data_dir.with_name("var-witness"))
    assert key is not None
    given = ["--public-key", key.vkey] if public_key else []
    before = sorted(path.name for path in tmp_path.iterdir())
    code, lines = optinface("audit", "verify", "--data-dir", str(typo), *given)
    said = (f"no data directory at {typo}" if data_dir_is == "missing"
            else f"no ledger at {typo}/optinface.db, so no deployment")
    assert (code, len(lines)) == (2, 1), lines
    assert lines[0].startswith(f"error: data_dir_unusable: {said}"), lines
    assert "`optinface serve`" in lines[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    assert not typo.exists() or list(typo.iterdir()) == []


def _shell(*args: str) -> subprocess.CompletedProcess[str]:
    """``optinface ARGS`` in a process of its own, as an operator's shell runs it."""
    return subprocess.run([sys.executable, "-m", "optinface.api.cli.main", *args],
                          capture_output=True, text=True, check=False)


@pytest.mark.parametrize("command", [
    ("receipt", "verify", "{missing}", "--public-key", "{vkey}"),
    ("receipt", "verify", "{folder}"),
    ("register", "verify", "{missing}", "--public-key", "{vkey}"),
    ("audit", "verify-export", "{missing}", "--public-key", "{vkey}"),
    ("audit", "verify-export", "{export}", "--public-key", "{vkey}", "--against", "{missing}"),
    ("audit", "verify", "--against", "{missing}", "--data-dir", "{data_dir}"),
    ("audit", "verify-access", "{missing}", "--public-key", "{vkey}"),
], ids=["receipt", "receipt-folder", "register", "export", "export-against", "verify-against",
        "access"])
def test_a_file_a_verifier_cannot_read_is_one_line_unreadable_file_not_a_usage_box(
    data_dir: Path, admin: str, tmp_path: Path, command: tuple[str, ...],
) -> None:
    """Black box 21, #3: a missing file printed typer's multi-line usage box ("Invalid value for
    'file': file ... does not exist"), where the verifiers promise one line and its code, exit
    2, for input they cannot use."""
    export = tmp_path / "audit.json"
    _output("audit", "export", "--out", str(export), "--data-dir", str(data_dir))
    key = pinned_key(data_dir.with_name("var-witness"))
    assert key is not None
    missing, folder = tmp_path / "nonexistent.json", tmp_path / "a-folder"
    folder.mkdir()
    args = [part.format(missing=missing, folder=folder, export=export, vkey=key.vkey,
                        data_dir=data_dir) for part in command]
    done = _shell(*args)
    unread, why = (folder, "Is a directory") if "{folder}" in command else (
        missing, "No such file or directory")
    assert (done.returncode, done.stderr) == (
        2, f"refused: unreadable_file: {unread}: cannot be read ({why})\n"), done


@pytest.mark.parametrize("command", [
    ("receipt", "verify"), ("audit", "verify-export", "--public-key", "k"),
    ("register", "verify", "x.json", "--public-key", "k", "--no-such-option"),
], ids=["missing-argument", "missing-file-argument", "unknown-option"])
def test_a_usage_error_of_a_verifier_keeps_typers_own_message(command: tuple[str, ...]) -> None:
    """Only what the verifier cannot read is its one line: a missing argument or an unknown
    option is typer's usage message, exit 2, as ``docs/cli.md`` says."""
    done = _shell(*command)
    assert done.returncode == 2 and "Usage: " in done.stderr, done
    assert "unreadable_file" not in done.stderr


def test_a_lock_file_that_cannot_be_opened_is_named(
    data_dir: Path, admin: str, optinface: Console,
) -> None:
    """The line blamed the data directory (``data directory D: Is a directory``)."""
    lock = data_dir / "optinface.lock"
    lock.unlink()
    lock.mkdir()
    assert optinface("sweep", "--data-dir", str(data_dir)) == (
        1, [f"error: data_dir_unusable: lock file {lock} cannot be opened: Is a directory"])


@pytest.mark.parametrize("command", [("register",), ("serve", "--port", FREE_PORT)],
                         ids=["register", "serve"])
def test_a_ledger_url_naming_no_ledger_makes_no_file_there(
    data_dir: Path, admin: str, tmp_path: Path, optinface: Console,
    monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...],
) -> None:
    """``OPTINFACE_DATABASE_URL`` mistyped beside a deployment's witness: the command was
    refused (``witness_unusable``) having made the database and its folders. ``register``
    now finds no deployment; ``serve``, which may make one, is refused by the witness and
    removes the file and folders its refused start made."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    elsewhere = tmp_path / "nonexistent" / "dir" / "x.db"
    monkeypatch.setenv("OPTINFACE_DATABASE_URL", f"sqlite:///{elsewhere}")
    code, lines = optinface(*command, "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1 and lines[0].startswith(
        "error: witness_unusable: " if command[0] == "serve"
        else f"error: data_dir_unusable: no ledger at {elsewhere}"), lines
    assert not (tmp_path / "nonexistent").exists()


def test_serve_on_a_new_witness_folder_is_refused_until_the_operator_adopts_it(
    data_dir: Path, admin: str, tmp_path: Path, optinface: Console,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Red team, finding 5: ``OPTINFACE_AUDIT_WITNESS_DIR`` pointed at a new, empty folder
    with the same key store. ``serve`` is refused in one line with the code, naming the act,
    serving nothing and writing nothing in the folder; ``audit adopt-witness`` takes it up,
    chained, and then ``serve``'s start (here ``register``, the same start) goes through."""
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "true")
    new = tmp_path / "new-witness"
    monkeypatch.setenv("OPTINFACE_AUDIT_WITNESS_DIR", str(new))
    port = free_port()
    code, lines = optinface("serve", "--port", str(port), "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: witness_unusable: witness folder {new} holds no"
                               " witness id"), lines
    assert "optinface audit adopt-witness --reason TEXT" in lines[0]
    assert not new.exists() and _keys_and_acts(data_dir)[1][-1] != "witness_adopted"
    assert optinface("audit", "adopt-witness", "--reason", "two\nlines", "--data-dir",
                     str(data_dir))[0] == 1
    adopted = json.loads(_output("audit", "adopt-witness", "--reason", "INC-12: disk lost",
                                 "--data-dir", str(data_dir)))
    assert adopted["witness"] == str(new) and adopted["journal_held"] == 0
    assert _keys_and_acts(data_dir)[1].count("witness_adopted") == 1
    assert optinface("register", "--data-dir", str(data_dir)) == (0, [])


def test_on_postgresql_the_shared_key_store_is_what_marks_a_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, optinface: Console,
    postgres: PostgresServer,
) -> None:
    """A new worker's data directory is empty on purpose (its index is rebuilt from the shared
    ledger): there the key store the workers share marks the deployment
    (:mod:`consent.deployment`). Empty, a command is refused and makes nothing; once a worker
    has made the deployment, the same empty folder of another worker answers."""
    commands_data_dir(tmp_path, monkeypatch)
    monkeypatch.setenv("OPTINFACE_DATABASE_URL", postgres.new_database())
    monkeypatch.setenv("OPTINFACE_KEY_DIR", str(tmp_path / "shared-keys"))
    monkeypatch.setenv("OPTINFACE_AUDIT_WITNESS_DIR", str(tmp_path / "shared-witness"))
    worker_a, worker_b = tmp_path / "worker-a", tmp_path / "worker-b"
    worker_b.mkdir()
    before = sorted(path.name for path in tmp_path.iterdir())
    code, lines = optinface("register", "--data-dir", str(worker_b))
    assert (code, len(lines)) == (1, 1), lines
    assert lines[0].startswith("error: data_dir_unusable: the key store holds no epoch key"), lines
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    assert list(worker_b.iterdir()) == []
    _output("keys", "create", "--role", "admin", "--name", "ops", "--data-dir", str(worker_a))
    assert optinface("register", "--data-dir", str(worker_b)) == (0, [])


def test_a_trigger_made_by_hand_on_the_ledger_stops_every_command_in_one_line(
    data_dir: Path, admin: str, optinface: Console,
) -> None:
    """Red team 5, F3: the CLI's start replayed erasures into a trigger that kept their rows,
    and its `keys rotate-epoch` re-wrapped the key an erasure had kept. Now the start refuses,
    naming the trigger by kind and table, before it writes anything; once dropped, it runs."""
    ledger = data_dir / "optinface.db"
    with closing(sqlite3.connect(ledger)) as db, db:
        db.execute("CREATE TRIGGER keep BEFORE DELETE ON subject_keys"
                   " BEGIN SELECT RAISE(IGNORE); END")
    before = _keys_and_acts(data_dir)
    code, lines = optinface("keys", "rotate-epoch", "--api-key", admin, "--data-dir",
                            str(data_dir))
    assert (code, lines) == (1, [
        "error: ledger_altered: the ledger's tables carry triggers, rules or row security that"
        " the service did not make (trigger on subject_keys): they can undo its writes in"
        " silence, an erasure's among them; drop them (the log names each), then start again"])
    assert _keys_and_acts(data_dir) == before
    with closing(sqlite3.connect(ledger)) as db, db:
        db.execute("DROP TRIGGER keep")
    assert optinface("keys", "rotate-epoch", "--api-key", admin, "--data-dir",
                     str(data_dir)) == (0, [])

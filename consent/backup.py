"""``optinface backup`` and ``optinface restore``: copies of the ledger that carry no key.

A backup is the SQLite database only, copied with SQLite's online backup API (a consistent
snapshot while the server keeps writing; no lock on the data directory is needed). It holds
no key (the key store is elsewhere) and no index (a cache, rebuilt from the ledger on start).
Its templates and wrapped subject keys can be read only while the key store still holds the
epoch key that wrapped them: a backup outlives its epoch as a ledger of consents and events,
not as a gallery (subjects then enrol again, see ``reconcile``).

Restoring replaces the data directory's database by the backup (the files it replaces are
shredded, the index with them, but only once the copy stands whole beside them: a full disk or
a folder that takes no new file leaves the ledger as it was); the next start replays the
erasure journal before it serves, so a subject erased after the backup was taken never comes
back, nor a consent or purpose withdrawn, an API key revoked, an opt-out of 1:N search made or
a regulator's order placed or lifted since. What the copy holds single-use and unused is
voided: probe consents, one-time links, open challenges and approved captures (a use after the
backup is journaled nowhere). A backup of another deployment is refused before anything is
shredded: its own events must be those a checkpoint signed by the key this deployment's
witness folder pins covers. So is a backup taken before ``optinface protect rekey``: its
templates are protected by a rotation the re-key destroyed, so the ledger's check of that key
(:mod:`consent.key_check`) is not the key store's, and the restored ledger could not start. A
backup is never written inside the data directory, the key store or the witness folder.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import JSON, Connection, create_engine, update
from sqlalchemy.exc import DBAPIError

from optinface.consent.audit import event_leaf
from optinface.consent.db import (
    BUSY_TIMEOUT_MS,
    ledger_locked,
    read_only_uri,
    sqlite_file,
    sqlite_primary_code,
)
from optinface.consent.deployment import require_deployment
from optinface.consent.errors import DataDirUnusable, InvalidRequest, KeyStoreUnusable
from optinface.consent.key_check import differing, store_check_values
from optinface.consent.keys import ROTATION_KEY_NAME
from optinface.consent.keystore import open_key_store
from optinface.consent.lock import DataDirLock
from optinface.consent.merkle import MerkleTree
from optinface.consent.notes import NoteError, open_checkpoint
from optinface.consent.settings import ConsentSettings
from optinface.consent.subject_acts import CAPTURE
from optinface.consent.tables import AuditEvent, Ceremony, JsonObject, OneTimeLink, ProbeConsent
from optinface.consent.witness import pinned_key
from optinface.engine.documents import json_from
from optinface.engine.files import (
    PRIVATE_DIR_MODE,
    PRIVATE_MODE,
    fsync_directory,
    lies_within,
    shred_path,
)

DATABASE_NAME = "optinface.db"
MANIFEST_NAME = "backup.json"


@dataclass(frozen=True, slots=True)
class BackupReport:
    destination: Path
    bytes: int
    sha256: str
    created_at: datetime


def _database(settings: ConsentSettings) -> Path:
    database = sqlite_file(settings.url)
    if database is None:
        raise InvalidRequest("backup and restore copy a SQLite ledger; back up PostgreSQL "
                             "with its own tools (pg_dump, base backups)")
    return database


def backup(settings: ConsentSettings, destination: Path, *, now: datetime,
           lock_wait_ms: int = BUSY_TIMEOUT_MS) -> BackupReport:
    """Copy the live ledger into ``destination`` (a new or empty folder), without keys.

    ``lock_wait_ms``: how long to wait for a process outside optinface that holds the ledger
    locked (the server's writes never keep a reader out: the ledger is in WAL mode).

    Raises:
        InvalidRequest: not a SQLite ledger, ``destination`` is not empty, or it lies inside
            the data directory, the key store or the witness folder.
        DataDirUnusable: no deployment is there (:func:`consent.deployment.require_deployment`),
            or SQLite cannot copy the ledger; nothing is left in ``destination``.
        DataDirInUse: the ledger stayed locked for ``lock_wait_ms``; nothing is left in
            ``destination``.
    """
    source = _database(settings)
    require_deployment(settings)
    _require_outside(settings, destination)
    made = not destination.exists()
    destination.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if any(destination.iterdir()):
        raise InvalidRequest(f"backup destination {destination} is not empty")
    try:
        return _write_backup(source, destination, now=now, lock_wait_ms=lock_wait_ms)
    except BaseException:
        _remove_partial(destination, made=made)
        raise


def _write_backup(source: Path, destination: Path, *, now: datetime,
                  lock_wait_ms: int) -> BackupReport:
    """Copy ``source`` and write the manifest into the empty ``destination``.

    The copy reads in a transaction begun first, waiting at most ``lock_wait_ms`` for its
    lock: sqlite3's backup, left to take it, retries a locked ledger for ever.

    Raises:
        DataDirUnusable: SQLite cannot copy the ledger (a file that is not a database).
        DataDirInUse: another process held the ledger locked for ``lock_wait_ms``.
        OSError: ``destination`` cannot be written (``ENOSPC``: its disk is full).
    """
    target = destination / DATABASE_NAME
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    try:
        with closing(sqlite3.connect(read_only_uri(source), uri=True,
                                     timeout=lock_wait_ms / 1000)) as live, \
                closing(sqlite3.connect(target)) as copy:
            live.execute("BEGIN")
            live.execute("SELECT count(*) FROM sqlite_master")  # the read lock, waited for
            live.backup(copy)  # one step: a consistent snapshot of the last commit
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
    except sqlite3.Error as error:  # the ledger damaged (not a database), a disk failing...
        code, failure = sqlite_primary_code(error), f"{type(error).__name__}: {error}"
        if code == sqlite3.SQLITE_FULL:  # only the copy is written to
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination)) from error
        if code == sqlite3.SQLITE_BUSY:
            raise ledger_locked(failure) from error
        raise DataDirUnusable(f"the ledger cannot be copied: {failure}; nothing was backed"
                              " up") from error
    data = target.read_bytes()
    report = BackupReport(destination=destination, bytes=len(data),
                          sha256=hashlib.sha256(data).hexdigest(), created_at=now)
    manifest = destination / MANIFEST_NAME
    manifest.write_text(json.dumps({"createdAt": now.isoformat(), "database": DATABASE_NAME,
                                    "sha256": report.sha256, "keys": "none: kept apart"},
                                   indent=2))
    manifest.chmod(PRIVATE_MODE)
    fsync_directory(destination)
    return report


def _remove_partial(destination: Path, *, made: bool) -> None:
    """Leave no part of a backup that failed: its files, and ``destination`` itself if the
    backup made it (a half-written copy would pass for one)."""
    for name in (DATABASE_NAME, MANIFEST_NAME):
        (destination / name).unlink(missing_ok=True)
    if made:
        destination.rmdir()


def _require_outside(settings: ConsentSettings, destination: Path) -> None:
    """Refuse a destination inside the data directory, the key store or the witness folder
    (symbolic links resolved): a copy in the data directory is never reached by later erasures
    (they replay only into the live ledger), one beside the keys or the witness defeats keeping
    them apart."""
    for name, folder in (("data directory", settings.data_dir), ("key store", settings.keys_dir),
                         ("witness folder", settings.witness_dir)):
        if lies_within(destination, folder):
            raise InvalidRequest(f"backup destination {destination} is inside the {name}"
                                 f" {folder}: a backup is kept apart from it",
                                 details={"problem": "inside_" + name.replace(" ", "_")})


_JSON_COLUMNS = frozenset(column.name for column in AuditEvent.__table__.columns
                          if isinstance(column.type, JSON | JsonObject))


def _backup_events(copy: sqlite3.Connection, size: int) -> Iterator[SimpleNamespace]:
    """The backup's first ``size`` events as :func:`consent.audit.event_leaf` reads them. Read
    column by column, not through the ORM: a backup taken before an upgrade lacks the columns
    added since, and the events it has still hash as they did (the leaf reads a missing column
    as absent)."""
    copy.row_factory = sqlite3.Row
    rows = copy.execute("SELECT * FROM audit_events WHERE seq <= ? ORDER BY seq", (size,))
    for row in rows:
        yield SimpleNamespace(**{
            name: json.loads(row[name]) if name in _JSON_COLUMNS and row[name] is not None
            else row[name] for name in row.keys()})


def _require_this_deployments(settings: ConsentSettings, backup_file: Path) -> None:
    """Refuse a backup whose own events are not those a checkpoint signed by the pinned key
    covers: it is another deployment's ledger, and restoring it would shred this one's.

    The signature alone proves nothing: notes are public (the witness folder holds them), so
    this deployment's latest note copied into another's backup would pass. The root recomputed
    over the backup's events up to the note's size must be the root the note signs. A data
    directory with no witness yet (a bare machine taking over) has nothing to tell them apart
    by.
    """
    pinned = pinned_key(settings.witness_dir)
    if pinned is None:
        return
    try:
        with closing(sqlite3.connect(read_only_uri(backup_file), uri=True)) as copy:
            row = copy.execute("SELECT note FROM audit_checkpoints WHERE note IS NOT NULL"
                               " ORDER BY seq DESC LIMIT 1").fetchone()
            if row is None:
                raise InvalidRequest(
                    f"the backup in {backup_file.parent} holds no signed checkpoint: nothing"
                    " shows whose ledger it is; nothing was replaced",
                    details={"problem": "no_signed_checkpoint"})
            checkpoint = open_checkpoint(row[0], pinned)
            tree = MerkleTree([event_leaf(event)
                               for event in _backup_events(copy, checkpoint.size)])
        if tree.size != checkpoint.size or tree.root() != checkpoint.root:
            raise NoteError(f"its events 1-{checkpoint.size} are not those the checkpoint signs")
    except (sqlite3.Error, NoteError) as error:
        raise InvalidRequest(
            f"the backup in {backup_file.parent} is not this deployment's: its audit log is not"
            f" the one signed by the checkpoint key {settings.witness_dir} pins ({error});"
            " nothing was replaced", details={"problem": "other_deployment"}) from error


def _manifest_sha256(manifest_file: Path) -> object:
    """The checksum the manifest states, or a refusal: a damaged one names no backup."""
    try:
        manifest = json_from(manifest_file.read_bytes())
        return manifest["sha256"]
    except (ValueError, TypeError, KeyError) as error:  # not JSON (json_from), not a manifest
        raise InvalidRequest(f"{manifest_file.parent} holds no optinface backup: its"
                             f" {MANIFEST_NAME} is unreadable") from error


def _require_the_key_stores(settings: ConsentSettings, backup_file: Path) -> None:
    """Refuse a backup whose key checks are not those of the key store's secrets: it would be
    refused at start (:func:`consent.key_check.refuse_foreign_keys`), its ledger replaced.

    A backup from before migration 0025 keeps no check, and a key store that cannot be opened
    yet (a bare machine, its keys still to copy) tells nothing: the start checks them then.
    """
    try:
        with closing(sqlite3.connect(read_only_uri(backup_file), uri=True)) as copy:
            kept = dict(copy.execute("SELECT name, value FROM key_checks").fetchall())
        store = open_key_store(settings, create=False)
    except (sqlite3.Error, KeyStoreUnusable):
        return
    try:
        foreign = differing(kept, store_check_values(store))
    finally:
        store.close()
    if foreign == [ROTATION_KEY_NAME]:
        raise InvalidRequest(
            f"the backup in {backup_file.parent} was taken before the template protection key"
            " was re-keyed: its templates are protected by a key since destroyed; nothing was"
            " replaced (restore a backup taken since)", details={"problem": "rekeyed_since"})
    if foreign:
        raise InvalidRequest(
            f"the backup in {backup_file.parent} is not this deployment's: its ledger was made"
            f" with another {' and '.join(foreign)} key; nothing was replaced",
            details={"problem": "other_deployment"})


def restore(settings: ConsentSettings, source: Path, *, now: datetime) -> dict[str, int]:
    """Put the backup in ``source`` in place of the data directory's ledger (server stopped);
    how many single-use rows of each kind it voided (:func:`_void_single_use`).

    The replaced database, its WAL and the index are shredded; start the service afterwards
    (the CLI does) so the erasure journal is replayed before anything is served.

    Raises:
        DataDirInUse: a server has the data directory open.
        DataDirUnusable: the data directory cannot be made or locked, or the copy cannot be
            written beside the ledger (a full disk): the ledger is left as it was.
        InvalidRequest: ``source`` holds no backup, its checksum does not match, it is
            another deployment's, or it was taken before the templates were re-keyed.
    """
    backup_file = source / DATABASE_NAME
    manifest_file = source / MANIFEST_NAME
    if not backup_file.is_file() or not manifest_file.is_file():
        raise InvalidRequest(f"{source} holds no optinface backup")
    expected = _manifest_sha256(manifest_file)
    content = backup_file.read_bytes()  # what is restored is what was checked
    if hashlib.sha256(content).hexdigest() != expected:
        raise InvalidRequest(f"the backup in {source} does not match its checksum")
    _require_this_deployments(settings, backup_file)
    _require_the_key_stores(settings, backup_file)
    target = _database(settings)
    with DataDirLock.acquire(settings.data_dir):
        staged = target.with_name(f".{target.name}.restore")
        voided = _stage(content, staged, now=now)
        _shred_database(target)
        shred_path(settings.index_path)  # a cache of the ledger being replaced
        os.replace(staged, target)
        fsync_directory(target.parent)
    return voided


def _stage(content: bytes, staged: Path, *, now: datetime) -> dict[str, int]:
    """Write the backup's ``content`` to ``staged``, beside the ledger, void what it holds
    single-use, and make it durable, before any file of the ledger is touched: a full disk,
    or a data directory that takes no new file, then leaves the ledger as it was. What the
    copy voided (:func:`_void_single_use`).

    Raises:
        DataDirUnusable: the copy cannot be written or voided (the part written is shredded).
    """
    try:
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
        with os.fdopen(descriptor, "wb") as copy:
            copy.write(content)
            copy.flush()
            os.fsync(copy.fileno())
        return _void_single_use(staged, now=now)  # committed, as SQLite commits: durably
    except (OSError, DBAPIError) as error:  # SQLite's errors come wrapped by SQLAlchemy
        _shred_database(staged)
        reason = str(error.orig) if isinstance(error, DBAPIError) else error.strerror
        raise DataDirUnusable(f"the backup cannot be copied into {staged.parent}: {reason};"
                              " the ledger is as it was, nothing was replaced") from error


def _shred_database(database: Path) -> None:
    """Shred a SQLite database and the files SQLite keeps beside it."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        shred_path(database.with_name(database.name + suffix))


def _void_single_use(database: Path, *, now: datetime) -> dict[str, int]:
    """:func:`void_single_use` in the staged copy ``database``, before it takes the ledger's
    place."""
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(database))
    try:
        with engine.begin() as connection:
            return void_single_use(connection, now=now)
    finally:
        engine.dispose()


def void_single_use(connection: Connection, *, now: datetime) -> dict[str, int]:
    """Mark used, at ``now``, everything of a restored copy meant to be used once and not yet
    used; how many of each kind. Here before the copy takes the ledger's place, and by the
    running service that finds a copy restored behind it (:mod:`consent.live_replay`).

    Their uses are not journaled (a probe consent's would add an fsync to every search): one
    used after the backup was taken is unused again in the copy. Voiding them all costs
    little, since they live minutes or hours: the person in a probe signs again, the desk hands
    a new enrolment link and opens a new capture. Each is then refused as a used one is (a
    probe consent: ``probe_consent_required``, problem ``used``; a link: ``link_invalid``; a
    challenge or a capture: ``challenge_invalid``).
    """
    statements = {
        "probe_consents_voided": update(ProbeConsent).where(ProbeConsent.used_at.is_(None))
        .values(used_at=now),
        "links_voided": update(OneTimeLink).where(OneTimeLink.used_at.is_(None))
        .values(used_at=now),
        # A challenge not yet signed, and a capture approved but its photo not yet enrolled.
        "challenges_voided": update(Ceremony).where(Ceremony.used_at.is_(None))
        .values(used_at=now),
        "captures_voided": update(Ceremony).where(Ceremony.kind == CAPTURE,
                                                  Ceremony.consumed_at.is_(None),
                                                  Ceremony.evidence.is_not(None))
        .values(consumed_at=now),
    }
    return {name: connection.execute(statement).rowcount
            for name, statement in statements.items()}

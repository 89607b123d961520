"""The witness folder: signed checkpoints and the pinned checkpoint key, outside the data.

Whoever can write the database can truncate or rewrite the log and its checkpoint rows; they
cannot take back what was already copied here if this folder is a separate append-only or WORM
mount (``chattr +a``, an NFS/SMB share with retention, an object-lock bucket mounted by a FUSE
driver...). Every file is written once and never changed:

- ``checkpoint.vkey``: the checkpoint verifier key, pinned at first start. ``optinface audit
  verify`` trusts this key (or one given on its command line), never one from the data
  directory.
- ``checkpoints/<size // 10000>/<size>.note``: one C2SP signed checkpoint per witnessed tree
  size (:func:`checkpoint_path`), in a subfolder per 10,000 sizes (:data:`SHARD`), so that the
  check every spend makes lists only the newest subfolders, never the folder's whole history;
  ``checkpoints/<size>.note``, flat, as versions before the subfolders wrote them, stays where
  it is and is read there.
- ``spent/<xx>/<hash>.spent``: a mark per answered passkey challenge and per used probe
  consent (:mod:`consent.spent_marks`, which alone reads and writes them).

Files and subfolders only ever get created (``O_EXCL``), so the folder also works on mounts that
refuse any rewrite, and a reviewer can copy it with ``rsync`` or ``cp -rn`` at any time.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from optinface.consent.errors import WitnessUnusable
from optinface.consent.notes import Verifier
from optinface.engine.files import (
    PUBLISHED_DIR_MODE,
    PUBLISHED_MODE,
    fsync_directory,
    lies_within,
)

logger = logging.getLogger(__name__)

VKEY_FILE = "checkpoint.vkey"
CHECKPOINTS = "checkpoints"
WRITE_CHECK = ".write-check"
"""The file each start writes again in the folder, to learn that it takes a write: a folder
that takes none (read-only, full) is refused at start, as the folder that pins another key is
(black box 25: every command ran and the server served on a read-only folder, each checkpoint
only logged as not witnessed, and the events after the last one could be deleted unseen)."""
SUFFIX = ".note"


def _write_durably(path: Path, text: str) -> None:
    """``path`` holds ``text``, on disk (a folder that takes no write raises ``OSError``)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PUBLISHED_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())


def write_once(path: Path, text: str) -> bool:
    """Create ``path`` durably with ``text``, whole or not at all; False when it exists.

    The text goes to a temporary file first and is hard-linked into place, which fails if the
    name exists: a crash never leaves a truncated checkpoint that would fail verification. The
    temporary name is the call's own: two threads witnessing the same size at once (two spends
    answered together) must not truncate and unlink each other's.
    """
    if path.exists():
        return False
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    _write_durably(temporary, text)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        with suppress(OSError):  # an append-only folder refuses the unlink: a harmless leftover
            temporary.unlink()
    fsync_directory(path.parent)
    return True


def pinned_key(directory: Path) -> Verifier | None:
    """The verifier key pinned in ``directory``, if any (read-only).

    Raises:
        WitnessUnusable: the pinned key cannot be read or is not a verifier key (not UTF-8,
            damaged, a folder in its place).
    """
    path = directory / VKEY_FILE
    if not path.exists():
        return None
    try:
        return Verifier.parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # NoteError and UnicodeDecodeError are ValueErrors
        raise WitnessUnusable(f"witness folder {directory}: unusable {VKEY_FILE}: {error}",
                              details={"path": str(path)}) from error


SHARD = 10_000
"""Tree sizes per subfolder of ``checkpoints/``: a spend's check lists one or two of them."""


def _shard(directory: Path, index: int) -> Path:
    return directory / CHECKPOINTS / f"{index:08d}"


def _name(size: int) -> str:
    return f"{size:012d}{SUFFIX}"


def checkpoint_path(directory: Path, size: int) -> Path:
    """Where ``directory`` keeps the checkpoint of a log of ``size`` events: the one layout
    rule, read and written here only. In the subfolder of ``size // SHARD``; where an earlier
    version wrote it flat in ``checkpoints/``, there (read there, and no second one written
    for its size)."""
    sharded = _shard(directory, size // SHARD) / _name(size)
    flat = directory / CHECKPOINTS / _name(size)
    return flat if not sharded.exists() and flat.exists() else sharded


def _make_shards(directory: Path, size: int) -> None:
    """Create the subfolder for ``size`` and any missing below it, lowest first: the periodic
    check walks the subfolders past the newest size it knows upward and stops at the first
    missing (:func:`_shard_sizes`), so none this writes is missing below one that exists (one
    removed later is passed over below that size, and listed by the start and the
    verification: :func:`_shard_indexes`). Usually one stat."""
    index, missing = size // SHARD, []
    while index >= 0 and not _shard(directory, index).is_dir():
        missing.append(index)
        index -= 1
    for index in reversed(missing):
        _shard(directory, index).mkdir(mode=PUBLISHED_DIR_MODE, exist_ok=True)
    if missing:
        fsync_directory(directory / CHECKPOINTS)


def _sizes(folder: Path, *, past: int = -1) -> list[tuple[int, Path]]:
    """The checkpoint files in ``folder`` (one pass over its names, none opened) of sizes over
    ``past``, by size; a temporary file, a subfolder or a name not a size is no checkpoint.
    Empty when ``folder`` is missing or not a folder.

    A name of :func:`_name`'s width is compared with ``past``'s as text before it is read as a
    number (zero-padded to one width, the two orders agree): a spend's check lists the newest
    subfolder, thousands of names, and reading each took 7 ms at 3,000
    (``benchmarks/bench_witness_folder.py``); a name of another width is read as before."""
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries]
    except (FileNotFoundError, NotADirectoryError):
        return []
    floor = _name(past) if past >= 0 else ""
    return sorted((size, folder / name) for name in names
                  if (len(name) != len(floor) or name > floor)
                  and name.endswith(SUFFIX) and not name.startswith(".")
                  and (stem := name.removesuffix(SUFFIX)).isdigit()
                  and (size := int(stem)) > past)


def _shard_indexes(directory: Path) -> list[int]:
    """The subfolders of ``checkpoints/``, by index: one pass over its names, none assumed
    contiguous (an empty low subfolder removed by a clean-up hides no later one)."""
    try:
        with os.scandir(directory / CHECKPOINTS) as entries:
            return sorted(int(entry.name) for entry in entries
                          if entry.name.isdigit() and entry.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _shard_sizes(directory: Path, index: int, *, through: int = -1,
                 past: int = -1) -> list[tuple[int, Path]]:
    """The checkpoint files past ``past`` of the subfolders from ``index`` upward, by size:
    every one up to ``through`` that exists (a missing one skipped), then upward to the last
    one. Per call, one stat per subfolder and one listing per subfolder that exists, never
    ``checkpoints/`` (which may hold an earlier version's many flat files)."""
    found: list[tuple[int, Path]] = []
    while index <= through or _shard(directory, index).is_dir():
        found.extend(_sizes(_shard(directory, index), past=past))
        index += 1
    return found


def holds(directory: Path, *, size: int, note: str | None) -> bool:
    """Whether ``directory`` witnessed this very checkpoint (read-only): its note, or a note of
    its size for a checkpoint row that keeps none (signed before rows kept their notes)."""
    try:
        kept = checkpoint_path(directory, size).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return note is None or kept == note


def witnessed(directory: Path) -> list[Path]:
    """Every witnessed checkpoint file, flat or in a subfolder, smallest tree first
    (read-only): what a verification reads, all of them."""
    return [path for _, path in sorted(
        _sizes(directory / CHECKPOINTS)
        + [found for index in _shard_indexes(directory)
           for found in _sizes(_shard(directory, index))])]


def latest_witnessed(directory: Path, *, through: int | None = None) -> int:
    """The largest tree size witnessed in ``directory`` (0: none), read-only: the flat files
    an earlier version wrote (their number fixed at the upgrade), the subfolders' names, and
    the files of the newest subfolder that holds any. ``through``: the largest at most that
    size (the newest checkpoint a log of that many events can be compared with), from the
    subfolders at or below its own."""
    def within(found: list[tuple[int, Path]]) -> list[int]:
        return [size for size, _ in found if through is None or size <= through]

    flat = within(_sizes(directory / CHECKPOINTS))
    newest_flat = flat[-1] if flat else 0
    for index in reversed(_shard_indexes(directory)):
        if through is not None and index > through // SHARD:
            continue
        if found := within(_sizes(_shard(directory, index))):
            return max(found[-1], newest_flat)
    return newest_flat


def witnessed_after(directory: Path, size: int, *, known: int = 0) -> list[int]:
    """The sizes of the checkpoints ``directory`` holds past ``size``, smallest first
    (read-only): one pass over the names of the subfolders from ``size``'s upward, none opened,
    whatever the folder's history; a missing subfolder up to that of ``known`` (the newest
    size the caller knows witnessed) is passed over, not taken as the last. Flat files are not
    listed: only versions before the subfolders wrote them, and :func:`latest_witnessed` read
    them at start (a worker of such a version still running is not seen: the upgrade
    notes of ``docs/audit-log.md``)."""
    return [found for found, _ in _shard_sizes(directory, size // SHARD, through=known // SHARD,
                                               past=size)]


@dataclass(frozen=True, slots=True)
class Signed:
    """A checkpoint the ledger signed as a note: the size of the log it covers, and the note."""

    size: int
    note: str


@dataclass(frozen=True, slots=True)
class Found:
    """The witness folder as a start found it, before it wrote anything there, beside the
    ledger's newest signed checkpoint: what tells the deployment's own witness from a folder
    taken up in its place.

    Attributes:
        pinned: it pinned a checkpoint key.
        newest: the size of the ledger's newest signed checkpoint (0: it signed none).
        held: it held that very checkpoint (True when there is none: nothing tells).
        act: the operator's reason, where this start is the act that takes the folder up in
            place of a witness lost for good (:mod:`consent.witness_binding`).
        journal_seen: then, the bytes of erasure journal the key store had seen.
        journal_held: then, the bytes of erasure journal the folder holds.
    """

    pinned: bool = False
    newest: int = 0
    held: bool = True
    act: str | None = None
    journal_seen: int = 0
    journal_held: int = 0

    @property
    def adopted(self) -> bool:
        """A folder taken up by this start as the witness from here on: by the operator's act,
        or, where the key store knew no witness yet (an upgrade), a folder that pinned no key
        for a ledger that had signed checkpoints (lost, unmounted, emptied, or another folder
        named)."""
        return self.act is not None or (not self.pinned and self.newest > 0)


def survey(directory: Path, newest: Signed | None) -> Found:
    """What ``directory`` holds of a ledger whose newest signed checkpoint is ``newest``
    (read-only: called before the start pins its key or witnesses anything).

    Raises:
        WitnessUnusable: the pinned key cannot be read.
    """
    pinned = pinned_key(directory) is not None
    if newest is None:
        return Found(pinned=pinned)
    return Found(pinned=pinned, newest=newest.size,
                 held=holds(directory, size=newest.size, note=newest.note))


def _refuse_writable_by_others(directory: Path) -> None:
    """Refuse a witness whose folders any user of the machine may write (``o+w``, what a umask
    of 000 made of them): anyone could delete its checkpoints, its marks or its erasure
    journal, and a restore would then bring back the people erased since. The folder, its
    folders and theirs are checked (the files lie a level below, so the check lists no file).

    Raises:
        WitnessUnusable: one of those folders may be written by others.
    """
    level, folders = [directory], [directory]
    for _ in range(2):
        level = [Path(entry.path) for folder in level for entry in os.scandir(folder)
                 if entry.is_dir(follow_symlinks=False)]
        folders += level
    for folder in folders:
        if folder.stat().st_mode & stat.S_IWOTH:
            raise WitnessUnusable(
                f"witness folder {folder} may be written by any user of this machine: remove"
                " that right (chmod o-w) from it and its folders", details={"path": str(folder)})


def refuse_entangled(directory: Path, data_dir: Path) -> None:
    """The witness folder and the data directory are kept apart, each way. A witness inside the
    data goes with every copy of it: a disk snapshot restored brings its checkpoints and
    erasure journal back with the ledger, and the people erased since with them; whoever holds
    the data holds both, to truncate together. Data inside the witness goes to whoever copies
    the witness, as reviewers do: the ledger, its people's records with it.

    Raises:
        WitnessUnusable: one lies inside the other (or they are the same folder).
    """
    if lies_within(directory, data_dir):
        raise WitnessUnusable(
            f"the witness folder {directory} lies inside the data directory {data_dir}: a copy"
            " of the data would carry it; set OPTINFACE_AUDIT_WITNESS_DIR elsewhere",
            details={"path": str(directory)})
    if lies_within(data_dir, directory):
        raise WitnessUnusable(
            f"the data directory {data_dir} lies inside the witness folder {directory}: a copy"
            " of the witness would carry the ledger; set OPTINFACE_AUDIT_WITNESS_DIR elsewhere",
            details={"path": str(directory)})


def refuse_for_a_new_ledger(directory: Path, *, witnessed: int) -> None:
    """A ledger that holds no event is new, or not the one it should be: a witness folder that
    witnessed a log is another ledger's. Started on it, the new ledger would sign checkpoints
    with that deployment's key into its folder, and its log would no longer verify.

    ``witnessed``: :func:`latest_witnessed`, read before the ledger was found empty (a
    checkpoint file exists only once its events committed, so a worker that commits the
    ledger's first events meanwhile is not mistaken for another ledger's).

    Raises:
        WitnessUnusable: ``directory`` had witnessed checkpoints.
    """
    if witnessed:
        raise WitnessUnusable(
            f"witness folder {directory} witnessed an audit log of {witnessed} events, but this"
            " ledger holds none: it is not that deployment's ledger (OPTINFACE_DATABASE_URL or"
            " the data folder names another, or the ledger was deleted); restore the ledger,"
            " or give a new deployment its own OPTINFACE_AUDIT_WITNESS_DIR",
            details={"path": str(directory), "witnessed": witnessed})


@dataclass(frozen=True, slots=True)
class Stall:
    """A checkpoint the folder refused to take (read-only, full, a file where a subfolder
    should be), and every one since, until the folder takes one again: the one definition of
    a witness that is stalled (:attr:`Witness.stalled`), which the gate asks before each act
    (:mod:`consent.witness_gate`).

    Attributes:
        size: the tree size of the newest checkpoint refused.
        note: its signed note, handed to the folder again by the next try
            (:meth:`consent.audit.AuditLog.witness_head`) rather than a new one signed.
        since: when the folder first refused one (UTC, the system's clock: what the operator's
            log and the refusal say, never a date the log records).
    """

    size: int
    note: str
    since: datetime


class Witness:
    """Appends checkpoints to ``directory``; the server holds one for as long as it runs.

    ``found``: what the folder held when this process started (:func:`survey`), before it wrote
    there; break-glass reads it (:mod:`consent.break_glass`).

    Several workers of one ledger share the folder: this process knows the newest checkpoint
    as it last looked (its own since, and the folder at start), until :meth:`unchecked` looks
    again for the others' (:func:`consent.transparency.record_departures`).
    """

    def __init__(self, directory: Path, *, found: Found | None = None) -> None:
        self.directory = directory
        self.found = found or Found()
        self._latest: int | None = None
        self._checked: int | None = None
        self._abandoned = self._kept = 0
        self._stall: Stall | None = None
        self._tried = 0.0  # time.monotonic() of the last write tried while stalled
        self._trying = threading.Lock()

    def pin(self, verifier: Verifier) -> None:
        """Pin ``verifier`` at first start; refuse a folder that pins another key, that takes
        no write (:data:`WRITE_CHECK`), or that others may write.

        Raises:
            WitnessUnusable: The folder cannot be written, pins another key, or any user may
                write it.
        """
        try:
            for folder in (self.directory, self.directory / CHECKPOINTS):
                folder.mkdir(mode=PUBLISHED_DIR_MODE, parents=True, exist_ok=True)
            _refuse_writable_by_others(self.directory)
            write_once(self.directory / VKEY_FILE, verifier.vkey + "\n")
            _write_durably(self.directory / WRITE_CHECK, "taken at the last start\n")
            pinned = pinned_key(self.directory)
        except (OSError, ValueError) as error:
            raise WitnessUnusable(f"witness folder {self.directory}: {error}") from error
        if pinned != verifier:
            raise WitnessUnusable(
                f"witness folder {self.directory} pins another checkpoint key; point"
                " OPTINFACE_AUDIT_WITNESS_DIR at this deployment's own witness folder"
            )

    def latest_size(self) -> int:
        """The largest tree size witnessed so far."""
        if self._latest is None:
            self._latest = latest_witnessed(self.directory)
        if self._checked is None:  # what the start compares the log with
            self._checked = self._latest
        return self._latest

    def unchecked(self) -> list[int]:
        """The sizes of the checkpoints signed into the folder, by any worker, since the
        newest this process compared with the log (at first, the newest when it started,
        which the start compares: :func:`consent.transparency.record_rewrite`), smallest
        first; the newest of them is :meth:`latest_size` from here."""
        latest = self.latest_size()  # at first, where the start's comparison left off
        assert self._checked is not None  # set by latest_size
        sizes = witnessed_after(self.directory, self._checked, known=latest)
        if sizes:
            self._latest = max(latest, sizes[-1])
            self._taken(sizes[-1])
        return sizes

    def checked(self, size: int) -> None:
        """The log was compared with the checkpoint of ``size`` and those before it (or its
        difference handed over): :meth:`unchecked` lists only newer ones from here."""
        self._checked = max(self._checked or 0, size)

    def abandon(self, *, kept: int, through: int) -> None:
        """The log was rolled back from ``through`` events, the folder's newest then, to
        ``kept`` (:func:`consent.transparency.record_rollback` found it shorter, or
        :func:`consent.transparency.record_rewrite` found the rollback it chained): the sizes
        up to ``through`` are the abandoned branch's. :meth:`record` takes no checkpoint of the
        new branch among them, so every checkpoint of those sizes is from before the rollback
        and every later one is past it (what ``record_rewrite`` relies on), and until the
        folder holds one past them the log's events are witnessed up to its newest checkpoint
        of ``kept`` events or fewer only (:meth:`witnessed_of_the_log`)."""
        if through >= self._abandoned:
            self._abandoned = through
            self._kept = latest_witnessed(self.directory, through=kept)

    def witnessed_of_the_log(self) -> int:
        """How many of the log's events, as it now stands, the folder witnessed:
        :meth:`latest_size`, or, while that is a size a rollback abandoned (:meth:`abandon`),
        the newest checkpoint of the events the log kept then. Those past it are the ones the
        service still checks before it signs them (:func:`consent.log_seals.record_unsealed`).
        """
        latest = self.latest_size()
        return self._kept if latest <= self._abandoned else latest

    @property
    def stalled(self) -> Stall | None:
        """The checkpoint the folder last refused, until it takes one again; None while it
        takes them."""
        return self._stall

    def try_again_due(self, *, every: float) -> bool:
        """Whether a caller should try the stalled folder again now: True for one caller at a
        time, at most once ``every`` seconds since the last write tried (:meth:`record`'s);
        the caller then tries. False while the folder takes checkpoints (nothing to try)."""
        if self._stall is None or not self._trying.acquire(blocking=False):
            return False
        try:
            if time.monotonic() - self._tried < every:
                return False
            self._tried = time.monotonic()
            return True
        finally:
            self._trying.release()

    def record(self, note: str, *, size: int) -> None:
        """Append a committed checkpoint; one per tree size (the first one is kept), none at or
        below the size a rollback abandoned (:meth:`abandon`).

        A failure is logged, never raised: the transaction it witnesses has committed, and the
        next checkpoint (at the latest within ``audit_witness_interval_seconds``) covers it.
        Until one is taken the witness is :attr:`stalled`, and the service refuses new acts
        (:mod:`consent.witness_gate`).
        """
        if size <= self._abandoned:
            logger.info("audit checkpoint %d not witnessed: the witness signed the branch a"
                        " rollback abandoned up to %d events", size, self._abandoned)
            return
        path = checkpoint_path(self.directory, size)
        try:
            _make_shards(self.directory, size)
            write_once(path, note)
        except OSError as error:
            self._tried = time.monotonic()
            since = datetime.now(UTC) if self._stall is None else self._stall.since
            self._stall = Stall(size=size, note=note, since=since)
            logger.error("audit checkpoint %d not witnessed in %s: %s; new acts are refused"
                         " (witness_unusable) until the folder takes a checkpoint", size,
                         path.parent, error.strerror)
            return
        self._latest = max(self.latest_size(), size)
        self._taken(size)

    def _taken(self, size: int) -> None:
        """The folder holds a checkpoint of ``size`` events, this process's or another
        worker's (:meth:`unchecked`: a shared folder mended, which another worker's round
        wrote to first): a stall it covers is over."""
        if self._stall is not None and size >= self._stall.size:
            logger.warning("audit checkpoint %d witnessed in %s: the folder takes checkpoints"
                           " again (stalled since %s), acts are answered again", size,
                           self.directory, self._stall.since.isoformat(timespec="seconds"))
            self._stall = None

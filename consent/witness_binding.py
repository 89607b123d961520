"""The key store remembers its witness folder, so the operator cannot swap it for an empty one.

The erasure journal (:mod:`consent.erasure_journal`) is what keeps a restored copy of the ledger
from resurrecting an erased person, and it lives in the witness folder. A start on another
folder (a new, empty one, or an older copy of the real one) would replay nothing: the operator
need only change ``OPTINFACE_AUDIT_WITNESS_DIR``. So the key store, kept apart from both the
data and the witness, holds a record of the witness it serves (the entry ``witness-binding``, a
file of the key folder or a token object: not a secret, but where the keys are):

- the folder's identity, a random id written once in ``witness.id`` when it was bound;
- how many bytes of the journal it had seen, and their SHA-256. The journal only ever grows by
  appending, so every length seen is a prefix of the journal for good.

Each journal append moves the record on (:meth:`Binding.advance`, from
:func:`consent.erasure_journal.record`, before the act it precedes commits), and every start
checks it (:func:`admit`) before anything is written in the folder: a folder without the
id, with another, with a shorter journal or one whose first bytes differ is refused
(``witness_unusable``), naming the recovery. A witness truly lost is taken up again only by the
operator's chained act (``optinface audit adopt-witness --reason``: :func:`admit`'s ``adopt``,
chained by :func:`consent.transparency.record_adoption`), which says how much of the journal
was lost. The first start of a new deployment, and the first start after an upgrade (a key
store without the record), bind the folder they find without refusing.

What this does not stop: whoever can write the key store itself (delete the record, or write
another) is trusted with the keys anyway; on PKCS#11 that takes the token's PIN.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from optinface.consent.erasure_journal import journal_path, journal_size
from optinface.consent.errors import KeyStoreUnusable, WitnessUnusable
from optinface.consent.identifiers import require_reason
from optinface.consent.keystore import KeyStore
from optinface.consent.witness import Found, write_once

RECORD_NAME = "witness-binding"  # a key-store entry name, no secret
ID_FILE = "witness.id"
ADOPT = "optinface audit adopt-witness --reason TEXT"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Record:
    """What the key store holds of its witness: the folder's id, and the journal's first
    ``journal`` bytes by their SHA-256."""

    witness: str
    journal: int
    sha256: str

    def dumps(self) -> bytes:
        return json.dumps({"witness": self.witness, "journal": self.journal,
                           "sha256": self.sha256}, sort_keys=True).encode()


def read_record(store: KeyStore) -> Record | None:
    """The key store's record of its witness; None before the first start that made one.

    Raises:
        KeyStoreUnusable: the record is damaged.
    """
    raw = store.read_secret(RECORD_NAME)
    if raw is None:
        return None
    try:
        fields: dict[str, Any] = json.loads(raw)
        return Record(witness=str(fields["witness"]), journal=int(fields["journal"]),
                      sha256=str(fields["sha256"]))
    except (ValueError, KeyError, TypeError) as error:
        raise KeyStoreUnusable(f"the key store's {RECORD_NAME} record is damaged: restore it from"
                               " the key store's backup") from error


def folder_id(witness_dir: Path) -> str | None:
    """The id written in ``witness_dir`` when it was bound, or None (a new or emptied folder).

    Raises:
        WitnessUnusable: the id file cannot be read.
    """
    path = witness_dir / ID_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise WitnessUnusable(f"witness folder {witness_dir}: unusable {ID_FILE}: {error}",
                              details={"path": str(path)}) from error


def _hash_on(journal: Path, digest: Any, *, start: int, end: int) -> int:
    """Feed ``digest`` the journal's bytes from ``start`` up to ``end`` (fewer if it is
    shorter); where it stopped.

    Raises:
        WitnessUnusable: the journal cannot be read.
    """
    at = start
    try:
        with open(journal, "rb") as stream:
            stream.seek(start)
            while at < end and (chunk := stream.read(min(_CHUNK, end - at))):
                digest.update(chunk)
                at += len(chunk)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise WitnessUnusable(f"the erasure journal {journal} cannot be read: {error.strerror}",
                              details={"path": str(journal)}) from error
    return at


@dataclass(slots=True)
class Hashed:
    """The journal's first ``length`` bytes fed to ``digest``: what :func:`admit` hashed,
    carried on by :class:`Binding` from where it ended, so a start hashes each byte once."""

    digest: Any = field(default_factory=hashlib.sha256)
    length: int = 0


def problem(record: Record, witness_dir: Path, hashed: Hashed) -> str | None:
    """Why ``witness_dir`` is not the witness ``record`` names, or None (read-only); the
    journal's bytes it read are fed to ``hashed``."""
    found = folder_id(witness_dir)
    if found is None:
        return "holds no witness id (a new or emptied folder)"
    if found != record.witness:
        return "is another witness folder (its witness id is not the key store's)"
    hashed.length = _hash_on(journal_path(witness_dir), hashed.digest, start=0,
                             end=record.journal)
    if hashed.length < record.journal:
        return (f"holds {hashed.length} bytes of erasure journal where the key store saw"
                f" {record.journal} (an older copy?)")
    if hashed.digest.hexdigest() != record.sha256:
        return "holds an erasure journal whose first bytes are not those the key store saw"
    return None


def admit(store: KeyStore, witness_dir: Path, found: Found, *,
          adopt: str | None) -> tuple[Found, Hashed]:
    """Let a start use ``witness_dir``, before anything is written there: the witness the key
    store recorded (anything, before the first record: a new deployment, an upgrade), or,
    with ``adopt`` (the operator's reason), any folder, taken up in place of a witness lost
    for good; what the start found, with the act where there is one, and the journal's bytes
    checked, hashed (for :class:`Binding`).

    Raises:
        WitnessUnusable: without ``adopt``, the folder is not that witness; the message names
            the documented recovery.
        InvalidRequest: ``adopt`` is not one printable line naming no subject.
    """
    record = read_record(store)
    hashed = Hashed()
    if adopt is not None:
        require_reason(adopt)
        return replace(found, act=adopt, journal_seen=record.journal if record else 0,
                       journal_held=journal_size(journal_path(witness_dir))), hashed
    if record is None or (why := problem(record, witness_dir, hashed)) is None:
        return found, hashed
    raise WitnessUnusable(
        f"witness folder {witness_dir} {why}: it is not the witness the key store knows, and"
        " its erasure journal would not replay the erasures made since; set"
        " OPTINFACE_AUDIT_WITNESS_DIR to the deployment's witness, or, if that is lost for"
        f" good, take up its newest copy (or this folder) with {ADOPT}",
        details={"path": str(witness_dir), "journal": record.journal, "adopt": ADOPT})


class Binding:
    """This process's record of the witness in the key store, moved on as the journal grows.

    The journal is hashed once at start (on from what :func:`admit` hashed) and then only from
    where it was read up to; workers sharing the store and the folder each move the record on,
    never back.
    """

    def __init__(self, store: KeyStore, witness_dir: Path, *, adopted: bool,
                 hashed: Hashed) -> None:
        """Bind ``witness_dir`` (its id written if it has none) and record it at once, unless
        the key store's record is this folder's already (or a worker's, further on).
        ``adopted``: the operator's act took the folder up; its record replaces the store's
        whatever that says (an older copy of the same witness holds less). ``hashed``: the
        journal's first bytes as :func:`admit` hashed them, carried on from there (the
        journal only grows by appending).

        Raises:
            WitnessUnusable: the id cannot be written, or the folder read.
            KeyStoreUnusable: the record cannot be written.
        """
        self._store = store
        self._journal = journal_path(witness_dir)
        self._lock = threading.Lock()
        witness = folder_id(witness_dir)
        if witness is None:
            try:
                write_once(witness_dir / ID_FILE, secrets.token_hex(16) + "\n")
            except OSError as error:
                raise WitnessUnusable(f"witness folder {witness_dir}: {error.strerror}",
                                      details={"path": str(witness_dir)}) from error
            witness = folder_id(witness_dir)
        assert witness is not None
        self.witness = witness
        self._digest = hashed.digest
        self._length = hashed.length
        self._move_on(replace=adopted)

    def advance(self) -> None:
        """Hash what was appended since, and record it in the key store, never lowering what
        another worker recorded.

        Raises:
            WitnessUnusable: the journal cannot be read.
            KeyStoreUnusable: the record cannot be written (the act is not committed).
        """
        self._move_on(replace=False)

    def _move_on(self, *, replace: bool) -> None:
        with self._lock:
            self._length = _hash_on(self._journal, self._digest, start=self._length,
                                    end=journal_size(self._journal))
            kept = read_record(self._store)
            if replace or kept is None or kept.witness != self.witness \
                    or kept.journal < self._length:
                self._store.put_secret(RECORD_NAME, Record(
                    witness=self.witness, journal=self._length,
                    sha256=self._digest.hexdigest()).dumps())

"""What the service shows outsiders of its log: checkpoints to keep, proofs, and verification.

The wiring between the log (:mod:`consent.audit`), its witness folder (:mod:`consent.witness`)
and the checks (:mod:`consent.audit_verify`), kept out of ``service.py``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import log_seals, log_tail, spent_marks
from optinface.consent.audit import AuditAction, AuditLog, Entry, event_leaf, last_details
from optinface.consent.audit_verify import (
    KnownCheckpoint,
    LogReport,
    Problem,
    against_tree,
    verify_log,
)
from optinface.consent.errors import InvalidRequest, WitnessUnusable
from optinface.consent.key_check import newest_signed
from optinface.consent.keys import CHECKPOINT_KEY_NAME, KeyRing
from optinface.consent.keystore import KeyStore, read_key
from optinface.consent.merkle import MerkleTree
from optinface.consent.notes import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    open_checkpoint,
    signed_parts,
)
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    AccessExport,
    ChainStatus,
    CheckpointPublic,
    ConsistencyProof,
    InclusionProof,
    PublishedKey,
    UnsealedEvent,
)
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditCheckpoint, AuditEvent
from optinface.consent.witness import (
    Found,
    Witness,
    checkpoint_path,
    latest_witnessed,
    witnessed,
)
from optinface.consent.witness_binding import ADOPT
from optinface.engine.documents import json_from

logger = logging.getLogger(__name__)
UNSEALED_SHOWN = 1000
"""The events without a valid keyed seal a verification lists (it counts them all)."""


def record_rollback(runtime: Runtime, session: Session, *, chain: bool = True) -> bool:
    """Chain, once, that the log holds fewer events than were witnessed: events were lost, by a
    restore from a backup or by tampering. Not refused, so the operator can start and look; the
    event names both sizes, so the log says it and ``audit verify`` explains the witnessed
    checkpoints the log no longer matches (it still fails: the lost events are gone for good).
    Whether events were lost, chained now or before (what the start's seal adoption asks).
    ``chain`` False only asks, chaining and logging nothing (a dry run's check).

    Raises:
        LedgerRestored: a loss found while the service is live (at a periodic checkpoint: a
            copy restored behind it): the replay of the erasure journal takes it over, and
            chains it first (:mod:`consent.live_replay`).
    """
    events, witnessed = runtime.log.tree.sync(session).size, runtime.log.witness.latest_size()
    if events >= witnessed:
        return False
    runtime.log.witness.abandon(kept=events, through=witnessed)  # signed past it from here
    last = last_details(session, AuditAction.LOG_ROLLED_BACK)
    if (last is not None and last.get("witnessed") == witnessed) or not chain:
        return True  # chained already, at an earlier start since the loss; or only asked
    runtime.live_replay.found(runtime, str(AuditAction.LOG_ROLLED_BACK))  # raises while live
    logger.error("the audit log holds %d events but %d were witnessed: events were lost (a"
                 " restored copy?); chained as log_rolled_back, and optinface audit verify"
                 " will report it", events, witnessed)
    runtime.audit(session, Entry(action=AuditAction.LOG_ROLLED_BACK, actor=None,
                                 details={"events": events, "witnessed": witnessed}))
    return True


def record_rewrite(runtime: Runtime, session: Session, *, chain: bool = True) -> bool:
    """Chain, once for each witnessed checkpoint, that the log's first events are no longer
    those the witness signed: they were rewritten, their hashes recomputed and the checkpoint
    rows signed again by someone holding the checkpoint key. Not refused, like a rollback
    (erasures and withdrawals are still due), but the log says it from the start, not only
    when ``audit verify`` runs, and the event names the witnessed size.

    The checkpoint compared: the witness's newest; where the log is shorter (events lost,
    :func:`record_rollback`'s), the newest it covers, so a rewrite of what a restore kept is
    found too; and where the newest is of the branch a rollback the log chained abandoned
    (:func:`_abandoned_at`: the log grew back, with new events, to a size the witness had
    signed before the rollback), the newest at or below what that rollback kept, since the
    log chained that loss already and a rewrite it is not. Whether the log is not (or cannot
    be shown to be) what the witness signed. ``chain`` False only asks, chaining and logging
    nothing (a dry run's check).

    Raises:
        LedgerRestored: found while the service is live (:func:`record_departures`).
    """
    directory, tree = runtime.log.witness.directory, runtime.log.tree.sync(session)
    size = runtime.log.witness.latest_size()
    while size:  # each turn compares a smaller size, or ends
        if size > tree.size:  # events lost: the newest checkpoint of what is left
            size = latest_witnessed(directory, through=tree.size)
            continue
        checkpoint = _witnessed(runtime.log, size)
        if checkpoint is None:
            return True  # a witness file past reading: audit verify names it
        problem = against_tree(checkpoint, tree, str(checkpoint_path(directory, size)),
                               holder="the log")
        if problem is None:
            return False
        rollback = _abandoned_at(runtime, session, size)
        if rollback is None:
            return _chain_rewrite(runtime, session, checkpoint, tree, problem, chain=chain)
        runtime.log.witness.abandon(kept=rollback.kept, through=rollback.through)
        size = latest_witnessed(directory, through=rollback.kept)
    return False


def witness(runtime: Runtime) -> int:
    """Sign the log's head and copy it to the witness folder, if it moved since the last
    witnessed checkpoint, after comparing the log with the checkpoints any worker signed into
    the folder since this process last looked (:func:`record_departures`), with the witness's
    newest (:func:`record_rollback`) and with this process's tail (:func:`consent.log_tail.
    vet`). The one witness call: the start's, the periodic check's and the close's
    (:meth:`consent.service.OptinFace.witness_audit`), and a spent single-use right's before
    its act answers (:mod:`consent.spent_rights`).

    Returns the size of the log it was to cover: the folder holds a checkpoint of it or past
    it unless the folder refused the write (:meth:`consent.witness.Witness.record`).

    Raises:
        LedgerRestored: a restore found while the service is live (:mod:`consent.live_replay`).
    """
    new_sizes = runtime.log.witness.unchecked()  # the folder's names, outside the lock
    with runtime.db.transaction() as session:
        record_departures(runtime, session, new_sizes)
        record_rollback(runtime, session)
        log_tail.vet(runtime, session)  # before it signs; what it read: the tail
        log_seals.record_unsealed(runtime, session)  # before they are witnessed
        runtime.log.witness_head(session, now=runtime.clock.now())
        return runtime.log.tree.head(session).size


def record_departures(runtime: Runtime, session: Session, sizes: list[int]) -> bool:
    """Chain, once, that a checkpoint signed into the witness folder since this process last
    looked, by any worker of the ledger, is not of the log's first events: a copy restored
    behind the workers, written to since (the periodic check, :meth:`consent.service.OptinFace.
    witness_audit`). Whether one is not.

    ``sizes``: :meth:`consent.witness.Witness.unchecked`, listed before the caller's
    transaction, so that no worker passes over the folder's names holding the ledger's write
    lock. Sound: a checkpoint file is written once its events committed, so the transaction
    sees every event a listed size covers.

    Why the folder and not only this process's tail (:func:`consent.log_tail.vet`): a worker
    idle since before the copy read nothing past it, so its tail is inside the copy and still
    there; what the copy lacks was read and appended by the others, and they sign it into the
    shared folder within an interval (or at their close). A checkpoint past the log's end is
    :func:`record_rollback`'s (the newest size read here is its witnessed size from here);
    one the copy's own history signed since agrees with the log and hides nothing, since every
    checkpoint new since the last look is compared, not only the newest. What it cannot see:
    the events no worker signed into the folder before the copy was loaded; a live worker that
    appended them finds the copy by its own tail at its next check.

    Raises:
        LedgerRestored: found while the service is live: the replay takes it over and chains
            it (:mod:`consent.live_replay`), and the sizes stay unchecked until then.
    """
    tree = runtime.log.tree.sync(session)
    departed = False
    for size in (size for size in sizes if size <= tree.size):
        checkpoint = _witnessed(runtime.log, size)
        if checkpoint is not None and _rewritten(runtime, session, checkpoint, tree):
            departed = True  # found (raised while live) or chained: nor are later ones the log's
            break
    if sizes and sizes[-1] > tree.size:
        # Events lost, met here once: record_rollback chains it once, whoever comes first,
        # but every worker replays (raises while live, even where another chained it).
        runtime.live_replay.found(runtime, str(AuditAction.LOG_ROLLED_BACK))
    if sizes:
        runtime.log.witness.checked(sizes[-1])
    return departed


def _witnessed(log: AuditLog, size: int) -> Checkpoint | None:
    """The witness folder's checkpoint of ``size``, signed by the log's key; None when it is
    past reading or not so signed (``audit verify`` names it)."""
    try:
        return open_checkpoint(checkpoint_path(log.witness.directory, size)
                               .read_text(encoding="utf-8"), log.signer.verifier)
    except (OSError, UnicodeDecodeError, NoteError):
        return None


def _rewritten(runtime: Runtime, session: Session, checkpoint: Checkpoint,
               tree: MerkleTree) -> bool:
    """Chain as ``log_rewritten``, once for the checkpoint's size, that ``tree`` is not an
    extension of ``checkpoint``; whether it is not. A checkpoint of a branch a rollback the log
    chained abandoned (:func:`_abandoned_at`) is no rewrite: met here, by a worker that was
    running before that rollback, it is the rollback, which the worker replays as every
    worker does (another chained it).

    Raises:
        LedgerRestored: it is not, or it is of an abandoned branch, found while the service is
            live (:mod:`consent.live_replay`).
    """
    source = checkpoint_path(runtime.log.witness.directory, checkpoint.size)
    problem = against_tree(checkpoint, tree, str(source), holder="the log")
    if problem is None:
        return False
    if (rollback := _abandoned_at(runtime, session, checkpoint.size)) is not None:
        runtime.log.witness.abandon(kept=rollback.kept, through=rollback.through)
        runtime.live_replay.found(runtime, str(AuditAction.LOG_ROLLED_BACK))  # raises while live
        return False
    return _chain_rewrite(runtime, session, checkpoint, tree, problem)


@dataclass(frozen=True, slots=True)
class Rollback:
    """A rollback the log chained: from ``through`` witnessed events to the ``kept`` ones."""

    kept: int
    through: int


def _abandoned_at(runtime: Runtime, session: Session, size: int) -> Rollback | None:
    """The rollback that abandoned the branch the witness's checkpoint of ``size`` is of;
    None when none did (a checkpoint the log must extend).

    That rollback: a ``log_rolled_back`` event the log holds naming ``events`` below ``size``
    and ``witnessed`` at or above it, chained past the events it kept (:func:`record_rollback`
    chains it in the transaction that counted them, a ``clock_behind`` perhaps before it),
    and vouched for (:func:`consent.log_seals.vouched`: its hash its content's, its keyed
    seal, which only the key store's HMAC key makes, holding), its ``witnessed`` a size the
    folder holds (the newest it held then: the folder keeps it). One written or edited with
    the database alone abandons nothing. A checkpoint the witness took after the rollback is
    past ``witnessed`` (:meth:`consent.audit.AuditLog.witness_head` signs only past the
    witness's newest, and :meth:`consent.witness.Witness.record` takes none at or below the
    size a rollback it met names), so the new branch's are all compared. What whoever holds
    the HMAC key can still do: chain a rollback of their own, which the log then states as
    events lost (``audit verify`` fails on it and names it), in place of a rewrite.
    """
    adopted = log_seals.adoption_point(session, runtime.keys.hmac_key)
    for event in session.scalars(select(AuditEvent)
                                 .where(AuditEvent.action == AuditAction.LOG_ROLLED_BACK)
                                 .order_by(AuditEvent.seq.desc())):
        kept, witnessed = (event.details or {}).get("events"), (event.details or {}).get(
            "witnessed")
        if (isinstance(kept, int) and isinstance(witnessed, int) and kept < event.seq
                and kept < size <= witnessed
                and checkpoint_path(runtime.log.witness.directory, witnessed).is_file()
                and log_seals.vouched(runtime.keys.hmac_key, event, adopted=adopted)):
            return Rollback(kept=kept, through=witnessed)
    return None


def _chain_rewrite(runtime: Runtime, session: Session, checkpoint: Checkpoint,
                   tree: MerkleTree, problem: Problem, *, chain: bool = True) -> bool:
    """Chain as ``log_rewritten``, once for the checkpoint's size, ``problem``: ``tree`` is
    not an extension of ``checkpoint``. True; ``chain`` False only asks.

    Raises:
        LedgerRestored: found while the service is live (:mod:`consent.live_replay`).
    """
    if not chain:
        return True  # only asked
    # Raises while live, chained already or not: another worker chained it, and this one, which
    # meets the checkpoint once (record_departures marks it checked), replays all the same.
    runtime.live_replay.found(runtime, str(AuditAction.LOG_REWRITTEN))
    last = last_details(session, AuditAction.LOG_REWRITTEN)
    if last is not None and last.get("witnessed") == checkpoint.size:
        return True  # chained already, at an earlier start, by another worker or its replay
    logger.error("the audit log does not hold the events its witness signed: %s; chained as"
                 " log_rewritten, and optinface audit verify will report it", problem.message)
    runtime.audit(session, Entry(action=AuditAction.LOG_REWRITTEN, actor=None,
                                 details={"events": tree.size, "witnessed": checkpoint.size}))
    return True


def record_adoption(runtime: Runtime, session: Session) -> bool:
    """Chain that this start took up a folder as the witness (:attr:`consent.witness.Found.
    adopted`): the operator's act for a witness lost for good (``optinface audit
    adopt-witness``), with its reason and how much erasure journal the key store had seen
    against how much the folder holds; or, at an upgrade's first start (the key store knew no
    witness yet), a folder that pinned no key while the ledger had signed checkpoints. The
    event names the log's size and the newest checkpoint the old witness should hold, so a
    reviewer whose copy stops there reads why; the new folder's first checkpoint covers it.
    The folder holds none of the lost one's spent marks: it records that its marks are whole
    from now on, so that a right issued before is not used again (:mod:`consent.spent_marks`).
    Whether it did.

    Raises:
        WitnessUnusable: the folder takes no write (nothing is chained).
    """
    found = runtime.log.witness.found
    if not found.adopted:
        return False
    folder = runtime.log.witness.directory
    try:
        spent_marks.marks_begin(folder, runtime.clock.now())
    except OSError as error:
        raise WitnessUnusable(f"witness folder {folder} taken up, but it took no record of"
                              f" from when its marks are whole ({error.strerror}): make it"
                              f" writable, then take it up again with {ADOPT}",
                              details={"path": str(folder), "adopt": ADOPT}) from error
    events = runtime.log.tree.sync(session).size
    details: dict[str, object] = {"events": events, "checkpoint": found.newest}
    if found.act is None:
        logger.error("witness folder %s pinned no checkpoint key, but the ledger signed"
                     " checkpoints up to %d events: taken up as the witness from here on and"
                     " chained as witness_adopted; if it is not the deployment's witness"
                     " (unmounted? another OPTINFACE_AUDIT_WITNESS_DIR?), stop and point the"
                     " setting at it", folder, found.newest)
    else:
        details |= {"reason": found.act, "journal_seen": found.journal_seen,
                    "journal_held": found.journal_held}
        logger.error("witness folder %s taken up by the operator in place of the lost witness"
                     " (chained as witness_adopted): the key store had seen %d bytes of erasure"
                     " journal, the folder holds %d; what the missing part recorded (erasures,"
                     " withdrawals, revocations since the ledger copy) cannot be replayed, so"
                     " people erased since may be back in this ledger: erase them again",
                     folder, found.journal_seen, found.journal_held)
    runtime.audit(session, Entry(action=AuditAction.WITNESS_ADOPTED, actor=None,
                                 details=details))
    return True


def open_audit_log(settings: ConsentSettings, keys: KeyRing, *, found: Found) -> AuditLog:
    """The log's signer and its witness folder, whose key is pinned on first start.

    ``found``: the folder as this start found it (:func:`consent.witness.survey`).

    Raises:
        WitnessUnusable: The folder cannot be written, or pins another key.
    """
    signer = Signer.for_log(keys.checkpoint)
    witness = Witness(settings.witness_dir, found=found)
    witness.pin(signer.verifier)
    return AuditLog(signer=signer, witness=witness)


def stored_checkpoint_key(store: KeyStore) -> Verifier | None:
    """The verifier of the checkpoint key ``store`` holds (read, never made), None if it holds
    none: what ``optinface audit verify`` sets the witness folder's pin against where the key
    store is (red team 7, #9).

    Raises:
        KeyStoreUnusable: a damaged key.
    """
    secret = read_key(store, CHECKPOINT_KEY_NAME)
    return None if secret is None else Signer.for_log(
        Ed25519PrivateKey.from_private_bytes(secret)).verifier


SIGNS = "audit checkpoints (C2SP signed notes)"
"""What the checkpoint key signs, as the register says (an English source string)."""


def published_checkpoint_key(log: AuditLog) -> PublishedKey:
    """How the checkpoint key is published beside the receipt key (it signs nothing else)."""
    verifier = log.signer.verifier
    return PublishedKey(
        key_id=f"ed25519:{hashlib.sha256(verifier.public).hexdigest()[:16]}",
        public_key=base64.b64encode(verifier.public).decode(),
        signs=[SIGNS],
        verifier_key=verifier.vkey,
    )


def checkpoint_public(session: Session, row: AuditCheckpoint, log: AuditLog) -> CheckpointPublic:
    """The checkpoint as the API shows it, with its signed note for the reader to keep.

    Size and root are read back from the note, opened with the log's own key, rather than from
    the row's columns: what is shown is exactly what was signed.
    """
    assert row.note is not None  # rows this process signs always carry their note
    checkpoint = Checkpoint.parse(log.signer.verifier.open(row.note))
    head = session.get(AuditEvent, row.seq)
    verifier = log.signer.verifier
    return CheckpointPublic(
        origin=checkpoint.origin, seq=row.seq, tree_size=checkpoint.size,
        root_hash=base64.b64encode(checkpoint.root).decode(), head_hash=row.hash,
        at=head.at if head is not None else "", key_id=verifier.key_hash.hex(),
        verifier_key=verifier.vkey, note=row.note,
    )


def with_inclusion_proofs(
    session: Session, export: AccessExport, log: AuditLog, *, now: datetime
) -> AccessExport:
    """``export`` with a fresh signed checkpoint and, for each event, its inclusion proof."""
    row = log.checkpoint(session, now=now)
    tree = log.tree.sync(session)  # the cached tree: O(log n) a proof, no pass over the log
    proofs = [
        InclusionProof(seq=event.seq, leaf_index=event.seq - 1, tree_size=row.seq,
                       audit_path=[_b64(h) for h in tree.inclusion_proof(event.seq - 1, row.seq)])
        for event in export.events
    ]
    return export.model_copy(update={"checkpoint": checkpoint_public(session, row, log),
                                     "inclusion_proofs": proofs})


def signed_head(runtime: Runtime, session: Session, *, now: datetime) -> int:
    """The log's head, signed: a checkpoint ending at its newest event, signed here unless the
    newest signed one ends there already, after the checks every signature makes first (the
    tail still the table's, :func:`consent.log_tail.vet`; the keyed seals of the events it is
    the first to sign, :func:`consent.log_seals.record_unsealed`). Its size: where an export
    of the whole log ends, carrying that note, so no event of it rests on its chain alone
    (red team 7, #1). 0 for an empty log, which nothing signs."""
    log_tail.vet(runtime, session)
    log_seals.record_unsealed(runtime, session)
    size = runtime.log.tree.head(session).size
    newest = newest_signed(session)
    if size and (newest is None or newest.size != size):
        runtime.log.checkpoint(session, now=now)
    return size


def _tree(session: Session, size: int | None = None) -> MerkleTree:
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if size is not None:
        query = query.where(AuditEvent.seq <= size)
    return MerkleTree([event_leaf(e) for e in session.scalars(query)])


def consistency(session: Session, *, first: int, second: int | None) -> ConsistencyProof:
    """The proof that the log's first ``second`` events extend its first ``first``.

    The first size is at least 1: the tree proves any extension of an empty log, vacuously
    (RFC 9162 proves 0 < first), and every checkpoint a reviewer keeps holds its own event.

    Raises:
        InvalidRequest: A size beyond the log, or ``first`` below 1 or above ``second``.
    """
    tree = _tree(session, second)
    second = tree.size if second is None else second
    # The tree stops at ``second``: its size is the log's only when the log is shorter.
    if tree.size < second or not 1 <= first <= second:
        why = (f"the log holds {tree.size}" if tree.size < second
               else "the first size must be between 1 and the second")
        raise InvalidRequest(f"no consistency proof from {first} to {second} events: {why}",
                             details={"first": first, "second": second})
    return ConsistencyProof(
        first_size=first, second_size=second, first_root=_b64(tree.root(first)),
        second_root=_b64(tree.root(second)),
        proof=[_b64(h) for h in tree.consistency_proof(first, second)])


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def chain_status(report: LogReport) -> ChainStatus:
    """A verification report as the API shows it: the first bad sequence number and the
    problem, and the events without a valid keyed seal by sequence number (the first
    :data:`UNSEALED_SHOWN`), never the events themselves."""
    problem = report.problem
    return ChainStatus(
        ok=report.ok, events=report.events, checkpoints=report.checkpoints,
        witnessed=report.known, root_hash=base64.b64encode(report.root).decode(),
        first_bad_sequence=problem.sequence if problem else None,
        problem=problem.message if problem else None,
        reason=problem.reason if problem else None,
        keyed_seals_checked=report.seals_checked,
        unsealed_count=len(report.unsealed),
        unsealed=[UnsealedEvent(seq=found.seq, reason=found.reason)
                  for found in report.unsealed[:UNSEALED_SHOWN]],
    )


def witness_checkpoints(directory: Path) -> list[KnownCheckpoint]:
    return [KnownCheckpoint(source=f"witness checkpoint {path.name}",
                            note=path.read_text(encoding="utf-8"))
            for path in witnessed(directory)]


def verify_running(session: Session, log: AuditLog, *, seal_key: bytes) -> ChainStatus:
    """The server's own check: its rows against its pinned key and its witness folder, and
    their keyed seals against ``seal_key``, the key store's HMAC key."""
    return chain_status(verify_log(session, verifier=log.signer.verifier,
                                   known=witness_checkpoints(log.witness.directory),
                                   seal_key=seal_key))


def _note_in(document: Any) -> str | None:
    """The signed note in a kept checkpoint, an access export, or the bare note text."""
    if isinstance(document, dict):
        if isinstance(document.get("note"), str):
            return document["note"]
        checkpoint = document.get("checkpoint")
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get("note"), str):
            return checkpoint["note"]
    return None


def read_checkpoint_file(path: Path) -> KnownCheckpoint:
    """A checkpoint a reviewer kept: the JSON the API answered, an export, or a note file.

    Raises:
        ValueError: The file holds no checkpoint (a receipt, for instance, or bytes that are
            not text).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: no signed checkpoint in this file (not UTF-8 text: byte"
                         f" {error.start})") from error
    try:
        note = _note_in(json_from(text))
    except ValueError:  # not JSON (json_from)
        note = text  # a bare C2SP note, as in the witness folder
    if note is None:
        raise ValueError(f"{path}: no signed checkpoint in this file (a receipt is not one)")
    try:
        signed_parts(note)  # the shape only: a bad signature is the verification's finding
    except NoteError as error:
        raise ValueError(f"{path}: no signed checkpoint in this file ({error})") from error
    return KnownCheckpoint(source=str(path), note=note)

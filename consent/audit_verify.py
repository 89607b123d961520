"""Checking the audit log as an outsider would: from the rows, the pinned key and known checkpoints.

Nothing here writes: the server calls it on its own session, ``optinface audit verify`` on a
read-only connection. What is checked, and what each failure means:

- the chain: a missing sequence number (a deleted row), a row whose hash differs from its content
  (an edit), a row marked pruned that is not an access event emptied by retention (an edit hidden
  behind the leaf retention keeps), whose pseudonyms are not those its seals commit to (an edit
  of a pseudonym, which the hash covers only through its seal: :mod:`consent.audit_seals`), a
  seal without its salt that no erasure's event lists, or whose ``prev_hash`` is not its
  predecessor's hash (an insertion, a reordering, or an edit whose own hash was
  recomputed);
- every checkpoint row: signed by the pinned key as a C2SP note, and its root equal to the root
  recomputed over the events it covers (a consistent rewrite of the chain);
- every known checkpoint (the witness folder, files a reviewer kept): signed by the pinned key,
  covering no more events than the log holds (a truncated tail, an emptied table), with the same
  root (a rewrite), and still present among the checkpoint rows (deleted checkpoint rows).

The first inconsistency, the one at the lowest sequence number, is named.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import audit_seals, log_retention
from optinface.consent.audit import GENESIS, AuditAction, event_bytes
from optinface.consent.merkle import MerkleTree, leaf_hash
from optinface.consent.notes import Checkpoint, NoteError, Verifier, open_checkpoint
from optinface.consent.tables import AuditCheckpoint, AuditEvent


@dataclass(frozen=True, slots=True)
class KnownCheckpoint:
    """A signed note from outside the database, and where it came from (for messages)."""

    source: str
    note: str


@dataclass(frozen=True, slots=True)
class Problem:
    sequence: int | None  # None: a problem of a checkpoint file itself, reported first
    message: str


@dataclass(frozen=True, slots=True)
class LogReport:
    events: int
    checkpoints: int  # signed checkpoint rows checked
    legacy_checkpoints: int  # rows from before notes (migration 0010): not checked
    known: int  # checkpoints from outside the database checked
    root: bytes  # the recomputed root over every event
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _walk_chain(session: Session, problems: list[Problem]) -> tuple[list[bytes], dict[int, str]]:
    leaves: list[bytes] = []
    hashes: dict[int, str] = {}
    previous, expected = GENESIS, 1
    unexplained: dict[str, int] = {}  # a seal without its salt -> the event holding it
    forgotten: set[str] = set()  # the seals the erasures' events say they forgot
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
        body = event_bytes(event)  # once: both the chain hash and the leaf are over it
        kept = event.pruned_leaf  # content removed by retention (consent.log_retention)
        if event.seq != expected:
            problems.append(Problem(expected, f"event {expected} is missing (deleted rows)"))
        elif kept is None and hashlib.sha256(body).hexdigest() != event.hash:
            problems.append(Problem(event.seq, f"event {event.seq} differs from its hash"
                                               " (edited)"))
        elif kept is not None and not log_retention.emptied(event):
            problems.append(Problem(event.seq, f"event {event.seq} is marked pruned but is not"
                                               " an emptied access event (edited)"))
        elif (unsealed := audit_seals.problem(event.subjects, event.subject_seals)) is not None:
            problems.append(Problem(event.seq, f"event {event.seq} {unsealed}"))
        elif event.prev_hash != previous:
            problems.append(Problem(event.seq, f"event {event.seq} does not link to event"
                                               f" {event.seq - 1} (inserted, reordered or"
                                               " rewritten)"))
        if event.action == AuditAction.ERASE:  # its own seal goes with the rest
            forgotten |= set(event.details.get(audit_seals.FORGOTTEN, ()))
        else:
            unexplained.update(dict.fromkeys(audit_seals.unsalted(event.subject_seals),
                                             event.seq))
        leaves.append(bytes.fromhex(kept) if kept else leaf_hash(body))
        hashes[event.seq] = event.hash
        previous, expected = event.hash, event.seq + 1
    problems.extend(Problem(seq, f"event {seq} lost a subject's pseudonym that no erasure"
                                 " forgot (edited)")
                    for seal, seq in unexplained.items() if seal not in forgotten)
    return leaves, hashes


def _against_tree(checkpoint: Checkpoint, tree: MerkleTree, source: str) -> Problem | None:
    if checkpoint.size > tree.size:
        return Problem(tree.size + 1, f"{source} covers {checkpoint.size} events but the log"
                                      f" holds {tree.size} (truncated or emptied)")
    if tree.root(checkpoint.size) != checkpoint.root:
        return Problem(checkpoint.size, f"events 1-{checkpoint.size} are not those signed in"
                                        f" {source} (rewritten)")
    return None


def _explained(found: Problem, size: int, rollbacks: Sequence[tuple[int, Any]]) -> Problem:
    """``found``, about a checkpoint of ``size`` kept outside, with the rollback the log chained
    since it was witnessed, if one covers it (:func:`consent.transparency.record_rollback`).

    Still a problem: the events it signed are gone for good, and an operator who truncates the
    log can chain a rollback too; but the reviewer learns when and by how much it happened.
    """
    for seq, details in rollbacks:
        if size <= (details or {}).get("witnessed", 0):
            return Problem(found.sequence, f"{found.message}; it was witnessed before the log"
                                           f" was rolled back from {details['witnessed']} to"
                                           f" {details['events']} events, chained at event"
                                           f" {seq} (a restore from a backup, or tampering)")
    return found


def verify_log(
    session: Session, *, verifier: Verifier, known: Sequence[KnownCheckpoint] = ()
) -> LogReport:
    """Check the chain, the checkpoint rows and ``known`` checkpoints against ``verifier``."""
    problems: list[Problem] = []
    leaves, hashes = _walk_chain(session, problems)
    rollbacks: list[tuple[int, Any]] = [(seq, details) for seq, details in session.execute(
        select(AuditEvent.seq, AuditEvent.details).where(
            AuditEvent.action == AuditAction.LOG_ROLLED_BACK).order_by(AuditEvent.seq))]
    tree = MerkleTree(leaves)
    rows = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
    in_rows: set[tuple[int, bytes]] = set()
    legacy = 0
    for row in rows:
        if row.note is None:
            legacy += 1
            continue
        source = f"checkpoint row {row.seq}"
        try:
            checkpoint = open_checkpoint(row.note, verifier)
        except NoteError as error:
            problems.append(Problem(row.seq, f"{source} is not signed by the pinned key"
                                             f" ({error})"))
            continue
        found = _against_tree(checkpoint, tree, source)
        if found is None and (checkpoint.size != row.seq or hashes.get(row.seq) != row.hash):
            found = Problem(row.seq, f"{source} does not describe event {row.seq}")
        if found is not None:
            problems.append(found)
        in_rows.add((checkpoint.size, checkpoint.root))
    for outside in known:
        try:
            checkpoint = open_checkpoint(outside.note, verifier)
        except NoteError as error:
            problems.append(Problem(None, f"{outside.source} is not a checkpoint signed by the"
                                          f" pinned key ({error})"))
            continue
        found = _against_tree(checkpoint, tree, outside.source)
        if found is None and (checkpoint.size, checkpoint.root) not in in_rows:
            found = Problem(checkpoint.size, f"{outside.source} (size {checkpoint.size}) is"
                                             " missing from the checkpoint rows (deleted)")
        if found is not None:
            problems.append(_explained(found, checkpoint.size, rollbacks))
    first = min(problems, key=lambda p: -1 if p.sequence is None else p.sequence, default=None)
    return LogReport(events=tree.size, checkpoints=len(rows) - legacy, legacy_checkpoints=legacy,
                     known=len(known), root=tree.root(), problem=first)

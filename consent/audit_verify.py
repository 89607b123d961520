"""Checking the audit log as an outsider would: from the rows, the pinned key and known checkpoints.

Nothing here writes: the server calls it on its own session, ``optinface audit verify`` on a
read-only connection. What is checked, and what each failure means:

- the chain: a missing sequence number (a deleted row), a row whose hash differs from its content
  (an edit), a row marked pruned that is not an access event emptied by retention (an edit hidden
  behind the leaf retention keeps), whose pseudonyms are not those its seals commit to (an edit
  of a pseudonym, which the hash covers only through its seal: :mod:`consent.audit_seals`), a
  seal without its salt that no erasure's event lists, or whose ``prev_hash`` is not its
  predecessor's hash (an insertion, a reordering, or an edit whose own hash was
  recomputed); on the whole log, an event carrying a pruned leaf that no retention run's
  record names (``pruned_without_record``: emptied by someone else, a young search hidden;
  :mod:`consent.prune_records`);
- every checkpoint row: signed by the pinned key as a C2SP note, and its root equal to the root
  recomputed over the events it covers (a consistent rewrite of the chain);
- every known checkpoint (the witness folder, files a reviewer kept): signed by the pinned key,
  covering no more events than the log holds (a truncated tail, an emptied table), with the same
  root (a rewrite), and still present among the checkpoint rows (deleted checkpoint rows).

- with the key store's HMAC key (``seal_key``: the server's own check, and ``optinface audit
  verify`` where the key store is), every event's keyed seal past the adoption point
  (:mod:`consent.log_seals`): an event appended with the database alone, however well chained,
  carries none (``keyed_seal_missing``) or one the key did not make (``keyed_seal_invalid``),
  each named by its sequence number; and, on a log that passes every check above, the
  regulator's orders in the database set against the ones its order and lift events leave in
  force (``regulator_orders_altered``, :mod:`consent.order_anchor`): an order's row deleted or
  changed (by SQL, or by a trigger as it was inserted), named at the event the rows contradict.

An export of the log (``GET /v1/audit/export?format=json``) is checked the same way from its
events alone (:func:`verify_export`, ``optinface audit verify-export``), by the same checks of
each event: the whole log from event 1 as the rows are, and against the checkpoints an auditor
kept; a filtered export event by event, each link where both events are in it, and no
checkpoint (no root can be recomputed over part of the log). The export carries each event's
keyed seal (never the key): whoever holds the key store checks them as the rows' are; an export
made before they were exported carries none, and is checked without them. The export carries
a signed checkpoint ending at its last event (an export of the whole log signs the head first),
on that event (:func:`carried_checkpoints`), checked as a kept one; a check that held events to
no signed checkpoint and no keyed seal is not :attr:`ExportReport.anchored`, nor one whose newest
checkpoint ends before its last events (:attr:`ExportReport.unsigned`): a rewritten export,
chained again past an old note, would pass it (red team 7, #1).

The first inconsistency, the one at the lowest sequence number, is named.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import (
    audit_seal_tree,
    audit_seals,
    log_retention,
    order_anchor,
    prune_records,
)
from optinface.consent.audit import GENESIS, AuditAction, LoggedEvent, event_bytes
from optinface.consent.crypto import canonical_json
from optinface.consent.errors import RegulatorOrdersAltered
from optinface.consent.identifiers import is_sha256
from optinface.consent.log_seals import SealWalk, Unsealed
from optinface.consent.log_tail import Divergence, divergence
from optinface.consent.merkle import MerkleTree, leaf_hash, verify_inclusion
from optinface.consent.notes import Checkpoint, NoteError, Verifier, open_checkpoint
from optinface.consent.schemas import (
    AccessEvent,
    AuditEventPublic,
    CheckpointPublic,
    ExportedEvent,
    InclusionProof,
)
from optinface.consent.tables import AuditCheckpoint, AuditEvent, RegulatorOrder
from optinface.engine.documents import json_from


@dataclass(frozen=True, slots=True)
class KnownCheckpoint:
    """A signed note from outside the database, and where it came from (for messages)."""

    source: str
    note: str


@dataclass(frozen=True, slots=True)
class Problem:
    sequence: int | None  # None: a problem of a checkpoint file itself, reported first
    message: str
    reason: str | None = None  # a stable code, where the problem has one (log_seals)


@dataclass(frozen=True, slots=True)
class LogReport:
    events: int
    checkpoints: int  # signed checkpoint rows checked
    legacy_checkpoints: int  # rows from before notes (migration 0010): not checked
    known: int  # checkpoints from outside the database checked
    root: bytes  # the recomputed root over every event
    problem: Problem | None
    seals_checked: bool = False  # with the key store's HMAC key: each event's keyed seal
    unsealed: list[Unsealed] = field(default_factory=list)  # past the adoption point

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Walk:
    """The chain's checks of one event after another, in sequence order: the one definition
    the database's walk and an export's share.

    ``whole``: every event from 1 is expected, so a gap is a deletion (``missing`` says what
    else it can be) and a seal without its salt must be one an erasure's event lists; else (a
    filtered export) each event is checked on its own, and its link where its predecessor is
    at hand.
    """

    def __init__(self, *, whole: bool, missing: str = "deleted rows") -> None:
        self.whole, self.missing = whole, missing
        self.problems: list[Problem] = []
        self.leaves: list[bytes] = []
        self.hashes: dict[int, str] = {}
        self.rollbacks: list[tuple[int, Any]] = []  # (seq, details) of log_rolled_back events
        self._last = (0, GENESIS)  # the sequence number and hash of the event before
        self._unexplained: dict[str, int] = {}  # a seal without its salt -> the event holding it
        self._forgotten: set[str] = set()  # the seals the erasures' events say they forgot
        self._prunes = prune_records.PruneCovers()  # emptied events, and the runs' records

    def add(self, event: LoggedEvent) -> None:
        body = event_bytes(event)  # once: both the chain hash and the leaf are over it
        kept = event.pruned_leaf  # content removed by retention (consent.log_retention)
        if (found := self._problem(event, body)) is not None:
            self.problems.append(found)
        if event.action == AuditAction.ERASE:  # its own seal goes with the rest
            listed = event.details.get(audit_seals.FORGOTTEN)
            self._forgotten |= {seal for seal in (listed if isinstance(listed, list) else ())
                                if isinstance(seal, str)}
        else:
            self._unexplained.update(dict.fromkeys(audit_seals.unsalted(event.subject_seals),
                                                   event.seq))
        if event.action == AuditAction.LOG_ROLLED_BACK:
            self.rollbacks.append((event.seq, event.details))
        elif event.action == AuditAction.LOG_TRUNCATED:
            self.problems.append(_truncation(event))
        self._prunes.add(event)
        self.leaves.append(bytes.fromhex(kept) if kept and is_sha256(kept)
                           else leaf_hash(body))
        self.hashes[event.seq] = event.hash
        self._last = (event.seq, event.hash)

    def _problem(self, event: LoggedEvent, body: bytes) -> Problem | None:
        seq, kept = event.seq, event.pruned_leaf
        last, previous = self._last
        if seq < 1:
            return Problem(seq, f"event {seq}: the log numbers its events from 1")
        if seq <= last:
            return Problem(seq, f"event {seq} appears twice")
        if self.whole and seq != last + 1:
            return Problem(last + 1, f"event {last + 1} is missing ({self.missing})")
        if kept is None and hashlib.sha256(body).hexdigest() != event.hash:
            return Problem(seq, f"event {seq} differs from its hash (edited)")
        if kept is not None and not is_sha256(kept):
            return Problem(seq, f"event {seq} keeps a pruned leaf that is not a hash (edited)")
        if kept is not None and not log_retention.emptied(event):
            return Problem(seq, f"event {seq} is marked pruned but is not an emptied access"
                                " event (edited)")
        if (unsealed := audit_seals.problem(event.subjects, event.subject_seals)) is not None:
            return Problem(seq, f"event {seq} {unsealed}")
        if (unproven := audit_seal_tree.problem(event)) is not None:
            return Problem(seq, f"event {seq} {unproven}")
        if seq == last + 1 and event.prev_hash != previous:
            return Problem(seq, f"event {seq} does not link to event {last} (inserted,"
                                " reordered or rewritten)")
        return None

    def finish(self) -> list[Problem]:
        """Every problem found; on the whole log, with the salts removed by no erasure and the
        events emptied by no retention run (:mod:`consent.prune_records`)."""
        if not self.whole:  # the erasure that forgot a seal, or the record, may be filtered out
            return self.problems
        return self.problems + [
            Problem(seq, f"event {seq} lost a subject's pseudonym that no erasure forgot"
                         " (edited)")
            for seal, seq in self._unexplained.items() if seal not in self._forgotten] + [
            Problem(seq, prune_records.message(seq), reason=prune_records.PRUNED_WITHOUT_RECORD)
            for seq in self._prunes.uncovered()]


TRUNCATED = "log_truncated"
"""The reason a verification gives for the running service's finding that its own tail was
deleted or rewritten (:mod:`consent.log_tail`)."""


def _truncation(event: LoggedEvent) -> Problem:
    """The running service's finding at ``event``, as a problem at the first event it lost.

    Always one, whoever chained it: the events are gone for good (no checkpoint covered them),
    and a finding written by SQL is false only in saying so, which the keyed seals tell."""
    details = event.details
    known, held = details.get("known"), details.get("events")
    if not isinstance(known, int) or not isinstance(held, int):
        return Problem(event.seq, f"event {event.seq} says the log was truncated, without the"
                                  " sizes (edited)", reason=TRUNCATED)
    first = held + 1 if held < known else known
    return Problem(first, f"events {first}-{known}, which the running service had appended or"
                          f" read, were deleted or rewritten behind it (the table held {held}"
                          f" events); chained at event {event.seq}", reason=TRUNCATED)


def against_tree(checkpoint: Checkpoint, tree: MerkleTree, source: str, *,
                 holder: str) -> Problem | None:
    """What is wrong with ``tree`` against a signed ``checkpoint`` of it: fewer events, or
    other ones; None when it extends the checkpoint. The comparison is the running service's
    with its own tail (:func:`consent.log_tail.divergence`)."""
    found = divergence(checkpoint.size, tree.size,
                       lambda: tree.root(checkpoint.size) == checkpoint.root)
    if found is Divergence.SHORTER:
        return Problem(tree.size + 1, f"{source} covers {checkpoint.size} events but {holder}"
                                      f" holds {tree.size} (truncated or emptied)")
    if found is Divergence.OTHER:
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
        witnessed = (details or {}).get("witnessed")
        if isinstance(witnessed, int) and size <= witnessed:
            return Problem(found.sequence, f"{found.message}; it was witnessed before the log"
                                           f" was rolled back from {witnessed} to"
                                           f" {details.get('events')} events, chained at event"
                                           f" {seq} (a restore from a backup, or tampering)")
    return found


def _outside_problem(outside: KnownCheckpoint, *, verifier: Verifier, walk: _Walk,
                     tree: MerkleTree, holder: str,
                     rows: set[tuple[int, bytes]] | None = None) -> Problem | None:
    """What is wrong with a checkpoint kept outside: not signed by ``verifier``, covering more
    events than ``holder`` holds or other ones, or (``rows``: the checkpoint rows' sizes and
    roots) deleted from the checkpoint rows."""
    try:
        checkpoint = open_checkpoint(outside.note, verifier)
    except NoteError as error:
        return Problem(None, f"{outside.source} is not a checkpoint signed by the pinned key"
                             f" ({error})")
    found = against_tree(checkpoint, tree, outside.source, holder=holder)
    if found is None and rows is not None and (checkpoint.size, checkpoint.root) not in rows:
        found = Problem(checkpoint.size, f"{outside.source} (size {checkpoint.size}) is"
                                         " missing from the checkpoint rows (deleted)")
    return None if found is None else _explained(found, checkpoint.size, walk.rollbacks)


def _first(problems: Sequence[Problem]) -> Problem | None:
    """The problem to name: one of a checkpoint file itself, else the lowest sequence."""
    return min(problems, key=lambda p: -1 if p.sequence is None else p.sequence, default=None)


def _unsealed(seals: SealWalk | None, *, whole: bool) -> list[Unsealed]:
    return [] if seals is None else seals.finish(whole=whole)


def _seal_problems(seals: SealWalk | None, unsealed: Sequence[Unsealed]) -> list[Problem]:
    """Each event without a valid keyed seal as a problem, in the walk's words and code."""
    return [] if seals is None else [Problem(found.seq, seals.message(found),
                                             reason=found.reason) for found in unsealed]


def verify_log(
    session: Session, *, verifier: Verifier, known: Sequence[KnownCheckpoint] = (),
    seal_key: bytes | None = None,
) -> LogReport:
    """Check the chain, the checkpoint rows and ``known`` checkpoints against ``verifier``, and
    with ``seal_key`` (the key store's HMAC key) each event's keyed seal, then, if all of that
    holds, the regulator's orders' rows against the log (:func:`_orders_problem`)."""
    walk = _Walk(whole=True)
    seals = None if seal_key is None else SealWalk(seal_key)
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
        walk.add(event)
        if seals is not None:
            seals.add(event)
    unsealed = _unsealed(seals, whole=True)
    problems = walk.finish() + _seal_problems(seals, unsealed)
    tree = MerkleTree(walk.leaves)
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
        found = against_tree(checkpoint, tree, source, holder="the log")
        if found is None and (checkpoint.size != row.seq or walk.hashes.get(row.seq) != row.hash):
            found = Problem(row.seq, f"{source} does not describe event {row.seq}")
        if found is not None:
            problems.append(found)
        in_rows.add((checkpoint.size, checkpoint.root))
    problems.extend(found for outside in known if (found := _outside_problem(
        outside, verifier=verifier, walk=walk, tree=tree, holder="the log", rows=in_rows))
        is not None)
    if seal_key is not None and not problems and (
            found := _orders_problem(session, seal_key, newest=tree.size)) is not None:
        problems.append(found)
    return LogReport(events=tree.size, checkpoints=len(rows) - legacy, legacy_checkpoints=legacy,
                     known=len(known), root=tree.root(), problem=_first(problems),
                     seals_checked=seals is not None, unsealed=unsealed)


def _orders_problem(session: Session, seal_key: bytes, *, newest: int) -> Problem | None:
    """The regulator's orders in the database where they are not what the log, verified, leaves
    in force (:mod:`consent.order_anchor`): what the gate refuses matching by
    (``regulator_orders_altered``), said where the log is read. Named at the earliest event the
    rows contradict (the newest event for a row the log never chained)."""
    found = order_anchor.disagreements(session, seal_key, session.scalars(select(RegulatorOrder)))
    if not found:
        return None
    return Problem(min(newest if each.seq is None else each.seq for each in found),
                   "the regulator's orders in the database are not those the log leaves in"
                   " force: " + "; ".join(each.what for each in found),
                   reason=RegulatorOrdersAltered.code)


@dataclass(frozen=True, slots=True)
class Signed:
    """The newest checkpoint an export's check held it to: its size (events 1 to ``size`` are
    those it signed) and where it came from (for the verdict)."""

    size: int
    source: str


@dataclass(frozen=True, slots=True)
class ExportReport:
    events: int
    known: int  # checkpoints checked (none on a filtered export)
    root: bytes | None  # over the whole log; None: a filtered export, no checkpoint checked
    problem: Problem | None
    seals_checked: bool = False  # with the key store's HMAC key: each event's keyed seal
    unsealed: list[Unsealed] = field(default_factory=list)  # past the adoption point
    unjudged: int = 0  # a filtered export without the adoption's event: events with no seal
    signed: Signed | None = None  # the newest checkpoint checked (a whole export's only)

    @property
    def unsigned(self) -> int:
        """How many of a whole export's last events no checked checkpoint covers: those its
        chain alone holds (all of a filtered export's)."""
        return self.events - (0 if self.signed is None else self.signed.size)

    @property
    def anchored(self) -> bool:
        """Whether the check held every event to something a forger cannot make: a signed
        checkpoint (kept apart, or carried by the export) ending at its last event, or the key
        store's keyed seals. A chain alone is not, nor a checkpoint that ends before the last
        events: an export rewritten past it and chained again reads the same (red team 7,
        #1)."""
        return self.unsigned == 0 or self.seals_checked


def carries_keyed_seals(events: Sequence[AuditEventPublic]) -> bool:
    """Whether an export carries the events' keyed seals: one made before they were exported
    has no ``keyed_seal`` field at all (a ``null`` one is an event without a seal)."""
    return any("keyed_seal" in event.model_fields_set for event in events)


def carried_checkpoints(events: Sequence[Any],
                        known: Sequence[KnownCheckpoint] = ()) -> list[KnownCheckpoint]:
    """The signed notes the export's events carry (:class:`ExportedEvent`), but those also
    among ``known``: checked as checkpoints kept apart are, against the export's own root."""
    given = {checkpoint.note for checkpoint in known}
    return [KnownCheckpoint(source=f"the checkpoint the export carries at event {event.seq}",
                            note=note) for event in events
            if (note := getattr(event, "checkpoint", None)) and note not in given]


def verify_export(events: Sequence[LoggedEvent], *, verifier: Verifier,
                  known: Sequence[KnownCheckpoint] = (), whole: bool = True,
                  seal_key: bytes | None = None) -> ExportReport:
    """Check an export of the log (``GET /v1/audit/export?format=json``) from its events alone.

    ``whole``: the export holds the whole log from event 1 (no filter), so the events are
    checked as the database's are, and ``known`` checkpoints against their root; else (a
    filtered export) each event against its hash and the seals rule, and its link to its
    predecessor where the export holds it: no root can be recomputed, so no checkpoint checked.
    An export lists its events by sequence number: one listed out of order is reported.
    ``seal_key`` (the key store's HMAC key, for an export that carries the keyed seals): each
    event's keyed seal too, as :func:`verify_log` checks the rows'. The checkpoint notes the
    export carries are checked with ``known`` (:func:`carried_checkpoints`); a report that
    checked none and no keyed seal is not :attr:`ExportReport.anchored`.
    """
    walk = _Walk(whole=whole, missing="deleted, or the export was filtered")
    seals = None if seal_key is None else SealWalk(seal_key)
    for event in sorted(events, key=lambda e: e.seq):
        walk.add(event)
        if seals is not None:
            seals.add(event)
    problems = walk.finish() + [
        Problem(after.seq, f"event {after.seq} comes after event {before.seq} in the export"
                           " (reordered)")
        for before, after in pairwise(events) if after.seq < before.seq]
    unsealed = _unsealed(seals, whole=whole)
    problems += _seal_problems(seals, unsealed)
    root, checked, signed = None, 0, None
    if whole:
        tree = MerkleTree(walk.leaves)
        known = [*known, *carried_checkpoints(events, known)]
        problems.extend(found for outside in known if (found := _outside_problem(
            outside, verifier=verifier, walk=walk, tree=tree, holder="the export")) is not None)
        root, checked, signed = tree.root(), len(known), _newest(known, verifier)
    return ExportReport(events=len(events), known=checked, root=root, problem=_first(problems),
                        seals_checked=seals is not None, unsealed=unsealed,
                        unjudged=0 if seals is None else seals.unjudged(whole=whole),
                        signed=signed)


def _newest(known: Sequence[KnownCheckpoint], verifier: Verifier) -> Signed | None:
    """The checkpoint of ``known`` signed by ``verifier`` that covers the most events (the
    first given of equals: a kept one before the carried one), None if none is."""
    newest: Signed | None = None
    for outside in known:
        try:
            size = open_checkpoint(outside.note, verifier).size
        except NoteError:
            continue  # a problem of its own (:func:`_outside_problem`)
        if newest is None or size > newest.size:
            newest = Signed(size=size, source=outside.source)
    return newest


_EXPORT = TypeAdapter(list[ExportedEvent])


def read_export(text: str) -> list[ExportedEvent]:
    """The events of a JSON export of the log, read strictly: the values that are hashed as
    they were written (a number in quotes is not a number).

    Raises:
        ValueError: Not JSON (the CSV export, say), not a list of events, or no event.
    """
    try:
        document = json_from(text)
        canonical_json(document)  # text the hash cannot cover (a lone surrogate escape)
    except (ValueError, RecursionError) as error:  # RecursionError: canonical_json's encoder
        raise ValueError(f"not a JSON export of the audit log ({error}); only the JSON export"
                         " is verified, the CSV is for reading") from error
    try:
        events = _EXPORT.validate_python(document, strict=True)
    except ValidationError as error:
        first = error.errors()[0]
        where = " ".join(str(part) for part in first["loc"])
        raise ValueError(f"not an export of the audit log: at {where or 'the top'}:"
                         f" {first['msg']}") from error
    if not events:
        raise ValueError("the export holds no event")
    return events


NOT_CHECKABLE = "redacted before commitments: not checkable"
"""What an access export's event chained before commitments, with details or pseudonyms left
out of it, holds (:attr:`consent.schemas.AccessEvent.redacted_before_commitments`)."""


class AccessProofs(BaseModel):
    """What ``optinface audit verify-access`` reads of a person's access export: its events as
    they were hashed, the checkpoint it carries and each event's inclusion proof."""

    events: list[AccessEvent]
    checkpoint: CheckpointPublic | None = None
    inclusion_proofs: list[InclusionProof] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EventVerdict:
    """What holds of one event of an access export: ``holds`` True (its hash and its
    inclusion proof), False (``what`` says the first thing that does not), None (nothing could
    be checked, or only its hash: ``what`` says which)."""

    seq: int
    holds: bool | None
    what: str


@dataclass(frozen=True, slots=True)
class AccessReport:
    events: list[EventVerdict]
    signed: int | None  # the tree size of the carried checkpoint, checked; None: none held
    problem: Problem | None  # the checkpoint's own (not signed by the key), or the first event's

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def unproven(self) -> int:
        """How many events hold by their hash alone (no inclusion proof checked), short of those
        :attr:`unchecked`: whoever edits the export can recompute such a hash."""
        return sum(v.holds is None and v.what != NOT_CHECKABLE for v in self.events)

    @property
    def unchecked(self) -> int:
        """How many events were named :data:`NOT_CHECKABLE`, checked neither against their hash
        nor their proof."""
        return sum(v.what == NOT_CHECKABLE for v in self.events)

    @property
    def anchored(self) -> bool:
        """Whether every event was held to the signed checkpoint by its inclusion proof: an
        event on its hash alone, as an export without a checkpoint, holds to nothing a forger
        cannot make, and one marked redacted before commitments (the mark is whatever the
        export says: whoever edits the export can set it) to nothing at all."""
        return self.signed is not None and all(v.holds is not None for v in self.events)


_ACCESS = TypeAdapter(AccessProofs)


def read_access_export(text: str) -> AccessProofs:
    """A person's access export (``GET /v1/subjects/{pseudonym}/export``, the portal's "My
    data" JSON), its events read strictly as :func:`read_export` reads the log's.

    Raises:
        ValueError: Not JSON, not an access export, or one without events.
    """
    try:
        document = json_from(text)
        canonical_json(document)
        proofs = _ACCESS.validate_python(document, strict=True)
    except (ValueError, RecursionError) as error:
        if isinstance(error, ValidationError):
            first = error.errors()[0]
            where = " ".join(str(part) for part in first["loc"])
            raise ValueError(f"not an access export: at {where or 'the top'}:"
                             f" {first['msg']}") from error
        raise ValueError(f"not an access export ({error})") from error
    if not proofs.events:
        raise ValueError("the access export holds no event")
    return proofs


def verify_access(export: AccessProofs, *, verifier: Verifier) -> AccessReport:
    """Check a person's access export with the published checkpoint key alone: the checkpoint
    it carries signed by ``verifier``; each event against its hash, the seals rule (an event
    with a seal root: the person's own seal proven in it, :mod:`consent.audit_seal_tree`) and
    its predecessor where the export holds it (the walk every verifier shares, on part of the
    log); each event's inclusion proof (RFC 9162) against that checkpoint's root. An event
    chained before commitments that the export shows redacted is named, not checked
    (:data:`NOT_CHECKABLE`); one so marked after an event with a commitment is an edit, since
    every event chained since commitments commits to what it leaves out."""
    checkpoint, problem = None, None
    if export.checkpoint is not None:
        try:
            checkpoint = open_checkpoint(export.checkpoint.note, verifier)
        except NoteError as error:
            problem = Problem(None, "the checkpoint the export carries is not signed by the"
                                    f" given key ({error})")
    proofs = {proof.seq: proof for proof in export.inclusion_proofs}
    first_committed = min((e.seq for e in export.events if e.redacted is not None),
                          default=None)
    walk = _Walk(whole=False, missing="not in the export")
    verdicts: list[EventVerdict] = []
    for event in sorted(export.events, key=lambda e: e.seq):
        if event.redacted_before_commitments:
            late = first_committed is not None and event.seq > first_committed
            verdicts.append(EventVerdict(event.seq, False, "marked redacted before commitments,"
                                         f" after event {first_committed}, which commits"
                                         " (edited)") if late
                            else EventVerdict(event.seq, None, NOT_CHECKABLE))
            continue
        found = len(walk.problems)
        walk.add(event)
        if len(walk.problems) > found:
            verdicts.append(EventVerdict(event.seq, False, walk.problems[-1].message))
            continue
        verdicts.append(_proof_verdict(event.seq, walk.leaves[-1], proofs.get(event.seq),
                                       checkpoint, redacted=event.redacted is not None))
    failed = [Problem(v.seq, v.what) for v in verdicts if v.holds is False]
    return AccessReport(events=verdicts, signed=None if checkpoint is None else checkpoint.size,
                        problem=problem or _first(failed))


def _proof_verdict(seq: int, leaf: bytes, proof: InclusionProof | None,
                   checkpoint: Checkpoint | None, *, redacted: bool) -> EventVerdict:
    """An event that matches its hash, held to ``checkpoint`` by ``proof``, or not."""
    hashed = "its hash holds" + (" (its redacted details by their commitment)" if redacted
                                 else "")
    if checkpoint is None or proof is None:
        return EventVerdict(seq, None, f"{hashed}; no inclusion proof checked"
                            + ("" if checkpoint is not None else " (no signed checkpoint)"))
    try:
        path = [base64.b64decode(h, validate=True) for h in proof.audit_path]
    except ValueError:
        path = None
    if (path is None or proof.leaf_index != seq - 1 or proof.tree_size != checkpoint.size
            or not verify_inclusion(leaf, proof.leaf_index, proof.tree_size, path,
                                    checkpoint.root)):
        return EventVerdict(seq, False, f"event {seq} is not in the signed checkpoint's tree"
                                        f" (size {checkpoint.size}) by its inclusion proof"
                                        " (edited)")
    return EventVerdict(seq, True, f"{hashed}; in the signed checkpoint (size"
                                   f" {checkpoint.size})")

"""The audit log: a hash chain of events, and an RFC 6962 Merkle tree over the same events.

Each event's ``hash`` is SHA-256 over its canonical JSON, which includes the previous event's
hash, so an edit, deletion, insertion or reordering breaks the chain from that row on and the
first bad sequence number can be named without any checkpoint. The same bytes are the leaves of
a Merkle tree (:mod:`consent.merkle`) whose signed heads, the checkpoints, are C2SP notes
(:mod:`consent.notes`) copied to a witness folder outside the data directory
(:mod:`consent.witness`). The chain says *where* a log was edited; the tree lets an outsider
holding one checkpoint prove that a later log extends it, or that an event is in it, with
logarithmic proofs, and lets standard witnesses cosign it. The chain also makes the server's
cached tree cheap to trust: one row's hash commits to the whole prefix (:class:`AuditTree`).

Appends happen inside the caller's ``BEGIN IMMEDIATE`` transaction: the business change and its
event commit together, and two writers never fork the chain. A checkpoint is written to the
witness folder only once its transaction has committed, so a rollback never leaves the witness
holding a tree that never existed.

This is not logging: no biometric data, no secrets, pseudonyms only, each beside its salted
hash so that an erasure can remove it and leave the chain whole (:mod:`consent.audit_seals`).

The chain and the witness stop no one from *appending*: whoever writes the database can add
events at the tail, chained correctly, and the next checkpoint signs them. So each event the
service appends also carries a keyed seal of its chain hash, made with the key store's HMAC key
(:func:`keyed_seal`), which the database alone cannot make (:mod:`consent.log_seals`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import event as orm_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import audit_redaction, audit_seal_tree, audit_seals
from optinface.consent.crypto import canonical_json
from optinface.consent.keys import keyed_hash
from optinface.consent.merkle import MerkleTree, leaf_hash
from optinface.consent.notes import Checkpoint, Signer
from optinface.consent.roles import Actor
from optinface.consent.tables import AuditCheckpoint, AuditEvent
from optinface.consent.witness import Witness

GENESIS = "0" * 64


class AuditAction(StrEnum):
    CONSENT_GIVEN = "consent_given"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_ENDED = "consent_ended"  # expiry, retention, coming of age: templates destroyed
    ENROL = "enrol"
    TEMPLATE_REPLACED = "template_replaced"  # rectification: the old template destroyed
    VERIFY = "verify"
    IDENTIFY = "identify"
    EXPORT = "export"
    AUDIT_READ = "audit_read"  # an operator's read of personal data, the log's included (.reads)
    REVIEW_DECIDED = "review_decided"
    REVIEW_LAPSED = "review_lapsed"  # its candidate's basis ended before it was decided
    INCIDENT_RECORDED = "incident_recorded"
    INCIDENT_NOTIFIED = "incident_notified"
    RIGHTS_REQUESTED = "rights_requested"
    RIGHTS_ANSWERED = "rights_answered"
    ERASE = "erase"
    # A request that lost the race to another erasure of its subject: answered with that
    # erasure's receipt (erasure.erase_requested); the subject named by the tombstone hash.
    ERASE_ALREADY_DONE = "erase_already_done"
    ERASURE_UNFINISHED = "erasure_unfinished"  # one raised in a sweep or a start: retried
    SWEEP = "sweep"
    KEY_CREATED = "key_created"
    KEY_REVOKED = "key_revoked"
    BREAK_GLASS_OPENED = "break_glass_opened"  # an emergency admin key, issued without one
    ADMIN_PASSKEY_REGISTERED = "admin_passkey_registered"  # an admin key's second factor
    ADMIN_STEPPED_UP = "admin_stepped_up"  # a step-up token issued (consent.admin_mfa)
    ADMIN_PASSKEY_LINK_ISSUED = "admin_passkey_link_issued"  # by the operator's command line
    REGISTER_DECLARED = "register_declared"
    REGULATOR_ORDER = "regulator_order"
    REGULATOR_ORDER_LIFTED = "regulator_order_lifted"
    LOGIN_FAILURE = "login_failure"
    PURPOSE_CREATED = "purpose_created"
    NOTICE_PUBLISHED = "notice_published"
    OPERATOR_TEXT_TRANSLATED = "operator_text_translated"  # a consent form's text in French
    RETENTION_POLICY_PUBLISHED = "retention_policy_published"  # another version applies
    ASSESSMENT_RECORDED = "assessment_recorded"  # the PIA settings changed
    SUBJECT_CREATED = "subject_created"
    SUBJECT_UPDATED = "subject_updated"
    ALTERNATIVE_CHOSEN = "alternative_chosen"
    PROBE_CONSENT_CREATED = "probe_consent_created"
    PROBE_CONSENT_REQUESTED = "probe_consent_requested"
    ENROLMENT_LINK_CREATED = "enrolment_link_created"
    PASSKEY_REGISTERED = "passkey_registered"
    PASSKEY_SIGN_IN = "passkey_sign_in"
    CAPTURE_APPROVED = "capture_approved"
    CHALLENGE = "challenge"
    SUBJECT_TOKEN_ISSUED = "subject_token_issued"  # noqa: S105 (an action name)
    SUBJECT_TOKEN_REVOKED = "subject_token_revoked"  # noqa: S105 (an action name)
    OWN_CONSENT_REQUESTED = "own_consent_requested"
    REFUSED = "refused"
    RECONCILED = "reconciled"
    # A worker's index reconciled with the ledger, its change feed aside (.replica): a number
    # missing, the feed gone back, or the periodic comparison found the index other.
    REPLICA_RECONCILED = "replica_reconciled"
    LOG_ROLLED_BACK = "log_rolled_back"  # shorter than witnessed: a restore lost events
    LOG_REWRITTEN = "log_rewritten"  # not the events the witness holds a checkpoint of
    LOG_TRUNCATED = "log_truncated"  # the running service's own tail deleted (.log_tail)
    CLOCK_BEHIND = "clock_behind"  # the host clock before the newest event (.log_clock)
    WITNESS_ADOPTED = "witness_adopted"  # a signed log started on a folder that pinned no key
    ROW_SEALS_ADOPTED = "row_seals_adopted"  # once: the rows then present sealed (row_seals)
    # or, once instead, not sealed: that start found the log other than its witness signed it
    ROW_SEALS_NOT_ADOPTED = "row_seals_not_adopted"
    ROW_SEALS_RESEALED = "row_seals_resealed"  # by the operator, with the key store (reseal)
    # once, on a ledger whose rows were adopted before admin bindings were sealed (0034)
    ADMIN_PASSKEYS_ADOPTED = "admin_passkeys_adopted"
    ADMIN_PASSKEYS_NOT_ADOPTED = "admin_passkeys_not_adopted"
    AGE_SEALS_ADOPTED = "age_seals_adopted"  # once: the subjects' declared ages then present
    # or, once instead, not sealed: the log was found other than its witness signed it
    AGE_SEALS_NOT_ADOPTED = "age_seals_not_adopted"
    # once: the subject tokens then present (S105: action names, not secrets)
    TOKEN_SEALS_ADOPTED = "token_seals_adopted"  # noqa: S105
    # or, once instead, not sealed: the log was found other than its witness signed it
    TOKEN_SEALS_NOT_ADOPTED = "token_seals_not_adopted"  # noqa: S105
    # once: the subjects' enrolment states then present (whether enrolled before: 0040)
    ENROLMENT_SEALS_ADOPTED = "enrolment_seals_adopted"
    # or, once instead, not sealed: the log was found other than its witness signed it
    ENROLMENT_SEALS_NOT_ADOPTED = "enrolment_seals_not_adopted"
    # once: an ``enrolled`` journal line for each subject enrolled before the lines existed
    ENROLMENT_LINES_ADOPTED = "enrolment_lines_adopted"
    # or, once instead, no line: the log was found other than its witness signed it
    ENROLMENT_LINES_NOT_ADOPTED = "enrolment_lines_not_adopted"
    SUBJECT_STATUS_UNKNOWN = "subject_status_unknown"  # a status the service never writes
    LEDGER_ALTERED = "ledger_altered"  # triggers, rules, row security found (.ledger_alterations)
    LOG_SEALS_ADOPTED = "log_seals_adopted"  # once: the events then unsealed vouched for
    # or, once instead, not vouched for: that start found the log other than its witness signed
    LOG_SEALS_NOT_ADOPTED = "log_seals_not_adopted"
    LOG_EVENTS_UNSEALED = "log_events_unsealed"  # events past the witness without a keyed seal
    LOG_SEALS_RESEALED = "log_seals_resealed"  # by the operator, on a log as witnessed (reseal)
    LOG_PRUNED = "log_pruned"  # the access events a retention run emptied (prune_records)
    LOG_PRUNES_ADOPTED = "log_prunes_adopted"  # once: those emptied before prune records
    CHECKPOINT = "checkpoint"
    KEY_EPOCH_ROTATED = "key_epoch_rotated"  # subject keys re-wrapped, older epoch keys destroyed
    RECEIPT_KEY_ROTATED = "receipt_key_rotated"  # the old receipt key retired (.receipt_rotation)
    # at start: a rotation the key store holds and the log does not (its commit failed)
    RECEIPT_KEY_ROTATION_ADOPTED = "receipt_key_rotation_adopted"
    KEY_EPOCHS_DESTROYED = "key_epochs_destroyed"  # at start: what a killed rotation left
    KEY_EPOCH_MISDATED = "key_epoch_misdated"  # its row dated after its sealed rotation (.epochs)
    # the setting, raised, would end the epoch after its receipts' promise (.epoch_promise)
    KEY_EPOCH_HOURS_RAISED = "key_epoch_hours_raised"
    SUBJECT_KEYS_LOST = "subject_keys_lost"  # a restored copy held keys of destroyed epochs
    SUBJECT_KEYS_RENEWED = "subject_keys_renewed"  # keys made before renewal, renewed once
    TEMPLATES_REKEYED = "templates_rekeyed"
    DISCLOSURE = "disclosure"  # the subject's record handed to a recipient (consent.disclosures)
    AUTHORITY_MISMATCH = "authority_mismatch"  # a row wider than its signed receipt (.authority)
    # A tombstone's receipt the service would not serve: not its signature, or another
    # subject's (consent.erasure_receipts).
    ERASURE_RECEIPT_ALTERED = "erasure_receipt_altered"


@dataclass(frozen=True, slots=True)
class Entry:
    """What a caller wants recorded; the chain fields are added by :func:`append`."""

    action: AuditAction
    actor: Actor | None
    outcome: str = "ok"
    purpose: str | None = None
    subjects: list[str] = field(default_factory=list)
    probe_sha256: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class LoggedEvent(Protocol):
    """An event as a verifier reads it: a row of the table, or one of an export
    (:class:`consent.schemas.AuditEventPublic`), which carries the same fields."""

    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def actor_key_id(self) -> str | None: ...
    @property
    def purpose(self) -> str | None: ...
    @property
    def subjects(self) -> Sequence[str]: ...
    @property
    def subject_seals(self) -> Sequence[Mapping[str, Any]] | None: ...
    @property
    def probe_sha256(self) -> str | None: ...
    @property
    def details(self) -> Mapping[str, Any]: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def pruned_leaf(self) -> str | None: ...


EVENT_FIELDS = ("seq", "at", "actor_key_id", "actor_role", "action", "purpose", "subjects",
                "outcome", "probe_sha256", "details", "prev_hash")


def hashed_fields(event: Any) -> dict[str, Any]:
    """What an event's hash covers. A sealed event (:mod:`consent.audit_seals`) covers its
    seals' hashes in place of its pseudonyms, so erasing a pseudonym leaves it verifiable; one
    appended since seal roots covers them through their root (:mod:`consent.audit_seal_tree`):
    recomputed from the seals and salt a row or the whole log's export holds, or the
    ``seal_root`` a person's view shows beside their own seal. A redaction-committed one
    (:mod:`consent.audit_redaction`) covers its redacted details through their commitment:
    recomputed from the details and salt a row or the whole log's export holds, or the
    ``redacted`` commitment a person's view shows in their place."""
    fields = {name: getattr(event, name) for name in EVENT_FIELDS}
    seals = getattr(event, "subject_seals", None)
    details = fields["details"]
    shown_root = getattr(event, "seal_root", None)
    if shown_root is not None or (seals is not None and audit_seal_tree.committed(details)):
        del fields["subjects"]
        fields["seal_root"] = shown_root if shown_root is not None else audit_seal_tree.root(
            [s["hash"] for s in seals or ()], details[audit_seal_tree.SALT])
        details = fields["details"] = audit_seal_tree.public_details(details)
    elif seals is not None:
        del fields["subjects"]
        fields["subject_seals"] = [s["hash"] for s in seals]
    shown = getattr(event, "redacted", None)
    if shown is not None or audit_redaction.committed(details):
        fields["details"] = audit_redaction.public_details(details)
        fields["redacted"] = shown if shown is not None else audit_redaction.commitment(details)
    return fields


def event_bytes(event: Any) -> bytes:
    """The bytes that are hashed: the canonical JSON of a stored or exported event."""
    return canonical_json(hashed_fields(event))


def event_hash(event: Any) -> str:
    """The hash an untampered row must carry (its link in the chain)."""
    return hashlib.sha256(event_bytes(event)).hexdigest()


SEAL_DOMAIN = "audit-event"
"""The HMAC domain of the events' keyed seals: none of the row seals' (``row-seal:...``), the
tombstones', the API keys' or the key check's."""


def keyed_seal(seal_key: bytes, chain_hash: str) -> str:
    """The keyed seal of the event whose chain hash is ``chain_hash``: HMAC-SHA256 under the
    key store's HMAC key. The chain hash covers the event's chained bytes (its position and
    predecessor included) and not its pseudonyms, so the seal outlives an erasure as the chain
    does, and a pruned event keeps it (:mod:`consent.log_retention` keeps the hash)."""
    return keyed_hash(seal_key, chain_hash, domain=SEAL_DOMAIN)


def seal_holds(seal_key: bytes, event: Any) -> bool:
    """Whether ``event`` carries the keyed seal of its chain hash (constant time); a missing
    one never does."""
    found = event.keyed_seal
    return found is not None and hmac.compare_digest(found, keyed_seal(seal_key, event.hash))


def event_leaf(event: Any) -> bytes:
    """The event's leaf in the Merkle tree: SHA-256(0x00 || event bytes), or the leaf kept
    when retention removed the event's content (:mod:`consent.log_retention`)."""
    kept = getattr(event, "pruned_leaf", None)
    return bytes.fromhex(kept) if kept else leaf_hash(event_bytes(event))


@dataclass(frozen=True, slots=True)
class Link:
    """One event of the chain as the next event and the tail check need it (not the whole
    row, its JSON)."""

    seq: int
    hash: str
    at: str


_NEWEST = select(AuditEvent.seq, AuditEvent.hash, AuditEvent.at) \
    .order_by(AuditEvent.seq.desc()).limit(1)


def newest(session: Session) -> Link | None:
    """The log's newest event as ``session`` sees it, if any."""
    row = session.execute(_NEWEST).first()
    return None if row is None else Link(row.seq, row.hash, row.at)


def link(event: AuditEvent) -> Link:
    """``event`` as the link the next one follows."""
    return Link(event.seq, event.hash, event.at)


def log_time(moment: datetime) -> str:
    """A time as the log's ``at`` holds it: ISO 8601 text in UTC. One offset for every row
    makes text order time order, so a bound written this way filters the log in SQL (the same
    instant at another offset would sort elsewhere)."""
    return moment.astimezone(UTC).isoformat()


def parse_log_time(text: object) -> datetime | None:
    """A time as the log writes it (:func:`log_time`: an event's ``at``, a time in its
    details), read back in UTC; None when it is not one: not text (absent), not ISO 8601
    (emptied, or edited past reading), without an offset, or with no instant in UTC. The
    service never writes a time without one, so such a time is an edit, and passes for no
    instant (read as the host's local time, it would). Nor does it write one past year 9999 in
    UTC (``9999-12-31T23:00:00-05:00``): kept as read, it would date every later event past
    what a time can hold, and every append would fail."""
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
        return moment.astimezone(UTC) if moment is not None and moment.tzinfo is not None \
            else None
    except (ValueError, OverflowError):
        return None


def append(session: Session, entry: Entry, *, last: Link | None, now: datetime,
           seal_key: bytes) -> AuditEvent:
    """Add ``entry`` at the end of the chain (within the caller's write transaction), after
    ``last``, the chain's newest event as the caller just read it in that transaction
    (:func:`newest`, or what it appended since: one read serves the tail check and the
    append), sealed with ``seal_key``, the key store's HMAC key (:func:`keyed_seal`)."""
    seals = {pseudonym: audit_seals.seal(pseudonym) for pseudonym in sorted(entry.subjects)}
    event = AuditEvent(
        seq=1 if last is None else last.seq + 1,
        at=log_time(now),
        actor_key_id=entry.actor.key_id if entry.actor else None,
        actor_role=str(entry.actor.role) if entry.actor else None,
        action=str(entry.action),
        purpose=entry.purpose,
        subjects=list(seals),
        subject_seals=list(seals.values()),
        outcome=entry.outcome,
        probe_sha256=entry.probe_sha256,
        details=audit_seal_tree.commit(audit_redaction.commit(
            audit_seals.sealed_details(entry.details, seals)), action=entry.action,
            subjects=len(seals)),
        prev_hash=GENESIS if last is None else last.hash,
    )
    event.hash = event_hash(event)
    event.keyed_seal = keyed_seal(seal_key, event.hash)
    session.add(event)
    session.flush()
    return event


def last_details(session: Session, action: AuditAction) -> dict[str, Any] | None:
    """The details of the latest event of ``action``, if any."""
    return session.scalar(select(AuditEvent.details).where(AuditEvent.action == action)
                          .order_by(AuditEvent.seq.desc()).limit(1))


@dataclass(frozen=True, slots=True)
class Head:
    """The log's current tree head: its size (the last sequence number), root and chain hash."""

    size: int
    root: bytes
    head_hash: str


class AuditTree:
    """The Merkle tree of the log as this process last saw it, extended as events come.

    Kept whole in memory (64 bytes an event), so a checkpoint and an export's inclusion proofs
    cost O(log n) rather than a pass over the log. Before reuse, the stored hash of the last
    event it covers is compared with the one it remembers: that hash chains over every earlier
    event, so if it still matches, so does the whole prefix (a rolled-back append, or rows
    rewritten behind the server's back, make it start over from the table).
    """

    def __init__(self) -> None:
        self._tree = MerkleTree()
        self._head_hash = GENESIS

    def sync(self, session: Session) -> MerkleTree:
        """The tree of every event visible in ``session`` (do not keep it: it keeps growing)."""
        size = self._tree.size
        if size and session.scalar(
            select(AuditEvent.hash).where(AuditEvent.seq == size)
        ) != self._head_hash:
            self._tree, self._head_hash = MerkleTree(), GENESIS
        for row in session.scalars(
            select(AuditEvent).where(AuditEvent.seq > self._tree.size).order_by(AuditEvent.seq)
        ):
            self._tree.append(event_leaf(row))
            self._head_hash = row.hash
        return self._tree

    def head(self, session: Session) -> Head:
        tree = self.sync(session)
        return Head(size=tree.size, root=tree.root(), head_hash=self._head_hash)


@dataclass(slots=True)
class AuditLog:
    """Signs checkpoints of the log and hands them to the witness once committed."""

    signer: Signer
    witness: Witness
    tree: AuditTree = field(default_factory=AuditTree)

    def checkpoint(self, session: Session, *, now: datetime) -> AuditCheckpoint:
        """Sign the current head inside ``session``'s transaction; witness it after commit."""
        head = self.tree.head(session)
        note = self.signer.sign(
            Checkpoint(origin=self.signer.name, size=head.size, root=head.root).text()
        )
        row = AuditCheckpoint(seq=head.size, hash=head.head_hash, note=note,
                              signature=note.rstrip("\n").rsplit(" ", 1)[1], at=now)
        session.add(row)
        session.flush()
        orm_event.listen(session, "after_commit",
                         lambda _session: self.witness.record(note, size=head.size), once=True)
        return row

    def witness_head(self, session: Session, *, now: datetime) -> AuditCheckpoint | None:
        """Sign and witness the head when the witness is behind it (periodically, at close, and
        when the gate tries a stalled folder again: :mod:`consent.witness_gate`).

        A log shorter than its witness lost events (:func:`consent.transparency.record_rollback`
        says so): its events are witnessed again once it is longer than it ever was, since the
        witness keeps the first checkpoint of each size.
        """
        head = self.tree.head(session)
        if head.size <= self.witness.latest_size():
            return None
        stall = self.witness.stalled
        if stall is not None and stall.size == head.size and Checkpoint.parse(
                self.signer.verifier.open(stall.note)).root == head.root:
            # The folder refused this very head: hand it the same note again, rather than sign
            # a row per try while it stays stalled (the gate tries up to once a second).
            orm_event.listen(session, "after_commit", lambda _session: self.witness.record(
                stall.note, size=stall.size), once=True)
            return None
        return self.checkpoint(session, now=now)

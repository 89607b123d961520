"""The audit log: an append-only hash chain with signed checkpoints.

Each event's hash is SHA-256 over the canonical JSON of the event including the previous
event's hash, so editing, deleting, inserting or reordering rows breaks the chain from that
row on. Every ``checkpoint_every`` events (and on demand) the server signs (seq, hash) with
its Ed25519 key, so even a rewrite of the whole chain is caught at the first checkpoint.
Appends happen inside the caller's ``BEGIN IMMEDIATE`` transaction: the business change and
its event commit together, and two writers never fork the chain.

This is not logging: no biometric data, no secrets, pseudonyms only.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.crypto import canonical_json
from optinface.consent.keys import KeyRing
from optinface.consent.roles import Actor
from optinface.consent.tables import AuditCheckpoint, AuditEvent

GENESIS = "0" * 64


class AuditAction(StrEnum):
    CONSENT_GIVEN = "consent_given"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_ENDED = "consent_ended"  # expiry or retention: its templates destroyed
    ENROL = "enrol"
    VERIFY = "verify"
    IDENTIFY = "identify"
    EXPORT = "export"
    ERASE = "erase"
    SWEEP = "sweep"
    KEY_CREATED = "key_created"
    KEY_REVOKED = "key_revoked"
    REGISTER_DECLARED = "register_declared"
    REGULATOR_ORDER = "regulator_order"
    REGULATOR_ORDER_LIFTED = "regulator_order_lifted"
    LOGIN_FAILURE = "login_failure"
    PURPOSE_CREATED = "purpose_created"
    NOTICE_PUBLISHED = "notice_published"
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
    OWN_CONSENT_REQUESTED = "own_consent_requested"
    REFUSED = "refused"
    RECONCILED = "reconciled"
    CHECKPOINT = "checkpoint"
    KEY_EPOCH_ROTATED = "key_epoch_rotated"  # subject keys re-wrapped, older epoch keys destroyed
    SUBJECT_KEYS_LOST = "subject_keys_lost"  # a restored copy held keys of destroyed epochs
    TEMPLATES_REKEYED = "templates_rekeyed"


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


def event_hash(event: AuditEvent) -> str:
    """The hash an untampered row must carry."""
    body = {
        "seq": event.seq,
        "at": event.at,
        "actor_key_id": event.actor_key_id,
        "actor_role": event.actor_role,
        "action": event.action,
        "purpose": event.purpose,
        "subjects": event.subjects,
        "outcome": event.outcome,
        "probe_sha256": event.probe_sha256,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def checkpoint_message(seq: int, chain_hash: str) -> bytes:
    return canonical_json({"seq": seq, "hash": chain_hash})


def append(
    session: Session, entry: Entry, *, now: datetime, keys: KeyRing, checkpoint_every: int
) -> AuditEvent:
    """Add ``entry`` at the end of the chain (within the caller's write transaction)."""
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).first()
    event = AuditEvent(
        seq=1 if last is None else last.seq + 1,
        at=now.isoformat(),
        actor_key_id=entry.actor.key_id if entry.actor else None,
        actor_role=str(entry.actor.role) if entry.actor else None,
        action=str(entry.action),
        purpose=entry.purpose,
        subjects=sorted(entry.subjects),
        outcome=entry.outcome,
        probe_sha256=entry.probe_sha256,
        details=entry.details,
        prev_hash=GENESIS if last is None else last.hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    if event.seq % checkpoint_every == 0:
        sign_checkpoint(session, event, now=now, keys=keys)
    return event


def sign_checkpoint(
    session: Session, event: AuditEvent, *, now: datetime, keys: KeyRing
) -> AuditCheckpoint:
    checkpoint = AuditCheckpoint(
        seq=event.seq,
        hash=event.hash,
        signature=keys.sign(checkpoint_message(event.seq, event.hash)),
        at=now,
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    events: int
    checkpoints: int
    first_bad_sequence: int | None


def verify_chain(session: Session, *, keys: KeyRing) -> ChainReport:
    """Recompute every hash and check every checkpoint; name the first sequence that fails.

    A deletion shows as a gap (the missing number is reported), an edit or a reordering as a
    row whose recomputed hash differs, an insertion as the row after it whose previous-hash
    link no longer holds, and a consistent rewrite as a checkpoint that no longer matches.
    """
    bad: list[int] = []
    hashes: dict[int, str] = {}
    previous, expected, count = GENESIS, 1, 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
        count += 1
        if event.seq != expected:
            bad.append(expected)
        elif event.prev_hash != previous or event_hash(event) != event.hash:
            bad.append(event.seq)
        hashes[event.seq] = event.hash
        previous, expected = event.hash, event.seq + 1
    public = keys.signing.public_key()
    checkpoints = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
    for checkpoint in checkpoints:
        try:
            public.verify(
                base64.b64decode(checkpoint.signature),
                checkpoint_message(checkpoint.seq, checkpoint.hash),
            )
            intact = hashes.get(checkpoint.seq) == checkpoint.hash
        except InvalidSignature:
            intact = False
        if not intact:
            bad.append(checkpoint.seq)
    first = min(bad) if bad else None
    return ChainReport(
        ok=first is None, events=count, checkpoints=len(checkpoints), first_bad_sequence=first
    )


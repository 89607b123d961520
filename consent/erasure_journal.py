"""The erasure journal: restores never resurrect what the person or the controller ended.

A data directory restored from a disk snapshot or a backup (``optinface restore``) holds the
subjects erased, and the consents withdrawn, since it was taken. Each erasure therefore first
appends one line to ``erasures.jsonl`` in the witness directory, which lies outside the data
directory and is meant for an append-only mount: the tombstone hash (keyed hash of the pseudonym,
no biometric or personal data), the reason and the time; each withdrawal a line with the consent's
random public id and the time; each purpose withdrawn from a consent that keeps others the
consent's, the purpose's and its signed receipt's random public ids, sealed with the key store's
HMAC key; each API key revoked, and each subject token a
portal session's end revoked, its public id; each break-glass opening its key's public id, reason
and expiry; each admin key's passkey bound the key's and the credential's public ids and its public
key; each regulator's order placed its reference and whether it destroys, and each lift its
reference; each opt-out of 1:N search the subject's tombstone hash; each subject's first enrolment
its tombstone hash (asked by every self-service enrolment, not replayed: :mod:`consent.one_person`);
each template destroyed while
its subject stays (a rectification's replaced template, the templates of a person who chose the
non-biometric alternative) a line with a keyed hash of its random nonce, never its id (a restored
copy's AUTOINCREMENT counter is older, so ids taken after it can be given again). At every start,
before the service answers anything, ``reconcile`` erases again every subject whose tombstone hash
the journal names but the database does not (:func:`pending`), withdraws again every consent the
journal names that the database still has in force (:func:`pending_withdrawals`), takes purposes
out again (:func:`consent.purpose_withdrawal.withdraw_again`), revokes keys again
(:func:`consent.apikeys.revoke_again`), makes subjects' opt-outs and choices of the alternative
again (:func:`choices_again`), destroys again every template the journal names
(:func:`pending_templates`), chains again every break-glass opening the log lost
(:func:`consent.break_glass.chain_again`): what the controller did in an emergency stays in
reviewers' view, binds again each admin key's last passkey (:func:`consent.admin_mfa.bind_again`),
and places again, or lifts again, each regulator's order the database does not hold as the journal
last left it (:func:`consent.order_replay.replay`).

The line is written and fsynced before the destruction commits: a crash in between leaves an
erasure the journal requests and the next start completes, never the reverse.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from optinface.consent import row_seals
from optinface.consent.db import in_chunks
from optinface.consent.errors import WitnessUnusable
from optinface.consent.keys import KeyRing
from optinface.consent.ledger import tombstone_hash
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ErasureReason
from optinface.consent.tables import Consent, ConsentStatus, Subject, Template, Tombstone
from optinface.engine.documents import json_from
from optinface.engine.files import PRIVATE_DIR_MODE, PRIVATE_MODE, fsync_directory

logger = logging.getLogger(__name__)
JOURNAL_NAME = "erasures.jsonl"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    subject_hash: str
    reason: ErasureReason
    at: datetime


@dataclass(frozen=True, slots=True)
class Withdrawal:
    consent_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TemplateDestroyed:
    template_ref: str  # template_ref(): a keyed hash of the template's nonce
    at: datetime


@dataclass(frozen=True, slots=True)
class PurposeWithdrawn:
    """One purpose taken out of a consent that keeps others (consent.purpose_withdrawal)."""

    consent_id: str
    purpose_id: str
    at: datetime
    # The signed receipt's random id, and the key store's seal over the line: what lets a
    # restored copy have that receipt back (consent.purpose_withdrawal.withdraw_again). None on
    # a line written before them.
    receipt_id: str | None = None
    seal: str | None = None


@dataclass(frozen=True, slots=True)
class KeyRevoked:
    key_id: str  # the public half of the secret, never the secret
    at: datetime


@dataclass(frozen=True, slots=True)
class OptedOut:
    """The subject's signed opt-out of 1:N search (an opt-in is never journaled: a copy that
    restores an older "off" errs on the safe side)."""

    subject_hash: str  # ledger.tombstone_hash, as erasures name subjects; never the pseudonym
    at: datetime


@dataclass(frozen=True, slots=True)
class AlternativeTaken:
    """The subject chose the non-biometric alternative (consent.alternative): final, so always
    made again, unlike an opt-out."""

    subject_hash: str  # ledger.tombstone_hash, never the pseudonym
    at: datetime


@dataclass(frozen=True, slots=True)
class Enrolled:
    """The subject's first enrolment (consent.enrolment): journaled before it commits, so a row
    and seal put back from a copy taken before it ("never enrolled"), with the log's ``enrol``
    events edited, still make no self-service enrolment a first one (:mod:`consent.one_person`).
    Asked, never replayed: nothing in the database is changed from it."""

    subject_hash: str  # ledger.tombstone_hash, never the pseudonym; no biometric
    at: datetime


@dataclass(frozen=True, slots=True)
class BreakGlassOpened:
    """An admin key issued without a key (consent.break_glass): journaled before it commits,
    so a copy restored from before still shows reviewers the opening, and an opening whose
    journal line cannot be written is never made."""

    key_id: str  # the public half of the secret, never the secret
    reason: str  # one line, no pseudonym (consent.break_glass.require_reason)
    expires_at: datetime
    at: datetime


@dataclass(frozen=True, slots=True)
class AdminPasskeyBound:
    """An admin key's passkey bound (consent.admin_mfa): journaled before it commits, so a copy
    restored from before binds it again and a passkey replaced since never opens the key."""

    key_id: str  # the public half of the secret, never the secret
    credential_id: str  # the passkey's public id (base64url)
    public_key: str  # its COSE public key, base64url: public, and what a step-up is checked with
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    """A regulator's order recorded (consent.declaration): journaled before it commits, so a
    copy restored from before is placed under it again (:mod:`consent.order_replay`)."""

    reference: str  # the regulator's reference (identifiers.require_reference), no personal data
    destroy: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderLifted:
    """A regulator's order lifted: journaled before it commits, so a copy restored from before
    the lift lifts it again rather than staying suspended."""

    reference: str
    at: datetime


Entry = (JournalEntry | Withdrawal | TemplateDestroyed | PurposeWithdrawn | KeyRevoked | OptedOut
         | AlternativeTaken | Enrolled | BreakGlassOpened | AdminPasskeyBound | OrderPlaced
         | OrderLifted)
_FLAGS: dict[str, bool] = {str(flag): flag for flag in (False, True)}
"""A flag as :func:`_text` writes it; any other text is a KeyError (the line is skipped)."""
_WIRE: dict[type, tuple[str | None, tuple[tuple[str, str, Callable[[str], Any]], ...]]] = {
    JournalEntry: (None, (("subject_hash", "subjectHash", str),
                          ("reason", "reason", ErasureReason))),
    Withdrawal: ("withdrawal", (("consent_id", "consentId", str),)),
    TemplateDestroyed: ("template", (("template_ref", "templateRef", str),)),
    PurposeWithdrawn: ("purpose", (("consent_id", "consentId", str),
                                   ("purpose_id", "purposeId", str),
                                   ("receipt_id", "receiptId", str), ("seal", "seal", str))),
    KeyRevoked: ("key", (("key_id", "keyId", str),)),
    OptedOut: ("unsearchable", (("subject_hash", "subjectHash", str),)),
    AlternativeTaken: ("alternative", (("subject_hash", "subjectHash", str),)),
    Enrolled: ("enrolled", (("subject_hash", "subjectHash", str),)),
    BreakGlassOpened: ("break-glass", (("key_id", "keyId", str), ("reason", "reason", str),
                                       ("expires_at", "expiresAt", datetime.fromisoformat))),
    AdminPasskeyBound: ("admin-passkey", (("key_id", "keyId", str),
                                          ("credential_id", "credentialId", str),
                                          ("public_key", "publicKey", str))),
    OrderPlaced: ("order", (("reference", "reference", str),
                            ("destroy", "destroy", lambda text: _FLAGS[text]))),
    OrderLifted: ("order-lifted", (("reference", "reference", str),)),
}
"""How each entry is written as a line and read back, the one definition of the format: its
``kind`` (none for an erasure, the first kind, whose lines have none) and, per field, the
attribute, the JSON key and how the text is read back."""
_OPTIONAL = frozenset({"receiptId", "seal"})
"""The keys a line may lack, read back as None: a line written before they existed (and a
field None is written without its key)."""
_BY_KIND = {kind: cls for cls, (kind, _) in _WIRE.items()}
TEMPLATE_DOMAIN = "journal-template"


def template_ref(keys: KeyRing, nonce: bytes) -> str:
    """How the journal names a template: by its random nonce, unique to it, not by its id."""
    return keys.keyed_hash(nonce.hex(), domain=TEMPLATE_DOMAIN)


def record_templates(runtime: Runtime, session: Session, labels: Collection[int]) -> None:
    """Journal the templates ``labels`` before their destruction commits."""
    now = runtime.clock.now()
    record(runtime, *(
        TemplateDestroyed(template_ref=template_ref(runtime.keys, nonce), at=now)
        for nonce in session.scalars(select(Template.nonce).where(Template.id.in_(list(labels))))))


def journal_path(witness_dir: Path) -> Path:
    return witness_dir / JOURNAL_NAME


def journal_size(path: Path) -> int:
    """The journal's size; 0 before its first line (one stat, no separate existence check)."""
    stat = journal_stat(path)
    return 0 if stat is None else stat.st_size


def journal_stat(path: Path) -> os.stat_result | None:
    """The journal's ``stat``; None before its first line."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


FileIdentity = tuple[int, int]
"""A file's device and inode: another file put in the journal's place (a copy renamed over it)
has another, whatever its length."""


def identity(stat: os.stat_result) -> FileIdentity:
    return stat.st_dev, stat.st_ino


def record(runtime: Runtime, *entries: Entry) -> None:
    """Append ``entries`` durably (O_APPEND, one write and one fsync for all of them) before
    the destruction commits, then tell the key store how far the journal reaches now
    (:mod:`consent.witness_binding`), so no start takes up a folder whose journal lacks them.

    Raises:
        WitnessUnusable: the journal cannot be written, so the act it precedes does not commit:
            a refusal with its stable code, not a crash (an erasure already begun leaves the
            person unsearchable, and a retry or the next start finishes it).
        KeyStoreUnusable: the key store's record cannot be written; the act is not committed
            either (the line written is replayed at the next start).
    """
    if not entries:
        return
    witness_dir = runtime.settings.witness_dir
    try:
        _append(witness_dir, "".join(
            json.dumps({**_fields(entry), "at": entry.at.isoformat()}, sort_keys=True) + "\n"
            for entry in entries))
    except OSError as error:
        raise WitnessUnusable(
            f"the journal in the witness folder {witness_dir} cannot be written"
            f" ({error.strerror or type(error).__name__}); the act it precedes was not"
            " committed",
            details={"path": str(journal_path(witness_dir))}) from error
    runtime.witness_binding.advance()


def _fields(entry: Entry) -> dict[str, str]:
    """The line :func:`parse_line` reads back, but its time."""
    kind, fields = _WIRE[type(entry)]
    line = {key: _text(value) for attribute, key, _ in fields
            if (value := getattr(entry, attribute)) is not None}
    return line if kind is None else {"kind": kind, **line}


def _text(value: object) -> str:
    """A field as its line holds it: an instant in ISO form, as the line's own time."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _append(witness_dir: Path, lines: str) -> None:
    """Append ``lines``; after a line a crash left torn (no newline at the end of the file),
    on a line of their own, so the torn one does not swallow the first of them."""
    witness_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    path = journal_path(witness_dir)
    created = not path.exists()
    descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, PRIVATE_MODE)
    try:
        size = os.fstat(descriptor).st_size
        torn = size > 0 and os.pread(descriptor, 1, size - 1) != b"\n"
        left = memoryview(("\n" if torn else "").encode() + lines.encode("utf-8"))
        while left:  # a write may take only part (a nearly full disk) and raise nothing
            left = left[os.write(descriptor, left):]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    if created:
        fsync_directory(witness_dir)


@dataclass(frozen=True, slots=True)
class Read:
    """The journal as one whole read found it: the entries of its lines up to the last newline
    (``whole``, the first ``up_to`` bytes), the bytes after it (``tail``: a line torn by a
    crash mid-append, or one being appended), and the file read (None: no journal yet)."""

    whole: list[Entry]
    up_to: int
    tail: bytes
    file: FileIdentity | None

    @property
    def entries(self) -> list[Entry]:
        """Every entry, the tail's too where it holds one (:func:`entries`)."""
        return [*self.whole, *parse_lines(self.tail)] if self.tail else self.whole


def read(witness_dir: Path) -> Read:
    """The journal read and parsed whole, once (the start's reconciliation, through
    :meth:`consent.journal_ends.JournalEnds.entries`, which keeps ``whole`` and ``up_to``)."""
    try:
        with open(journal_path(witness_dir), "rb") as journal:
            file = identity(os.fstat(journal.fileno()))
            data = journal.read()
    except FileNotFoundError:
        return Read(whole=[], up_to=0, tail=b"", file=None)
    up_to = data.rfind(b"\n") + 1
    return Read(whole=parse_lines(data[:up_to]), up_to=up_to, tail=data[up_to:], file=file)


def entries(witness_dir: Path) -> list[Entry]:
    """Every complete line; a torn last line (a crash mid-append) is skipped."""
    return read(witness_dir).entries


def parse_lines(data: bytes) -> list[Entry]:
    """The entries of the journal's bytes ``data``, line by line. A line that holds none (not
    UTF-8, not JSON, not an entry: a torn last line, a damaged one) is skipped with a warning,
    each line on its own, so one damaged byte never stops a start or a search.

    Skipping is safe for the bytes the key store saw (:mod:`consent.witness_binding`): a
    journal whose first bytes changed since is refused at start (``witness_unusable``), before
    this reads it. What can be skipped lies past them: a line torn by a crash before its act
    committed, or one written into the folder by another hand. The act a skipped line records
    is not replayed on a copy restored from before it (the database it was written for holds
    it, or, torn before its commit, never did); the warning tells the operator a line was lost.
    """
    found: list[Entry] = []
    for line in data.splitlines():
        try:  # json_from: every way JSON can be unreadable (nesting too deep too) a ValueError
            raw = json_from(line)
            entry = parse_line(raw) if isinstance(raw, dict) else None  # null, 1, []: none
        except (ValueError, KeyError, TypeError):
            entry = None
        if entry is None:
            logger.warning("erasure journal: skipped an unreadable line")
        else:
            found.append(entry)
    return found


def parse_line(raw: dict[str, str]) -> Entry:
    """One line as :func:`record` wrote it (a line without ``kind`` is an erasure).

    Raises:
        KeyError: an unknown kind or a missing field (the line is skipped).
    """
    cls = _BY_KIND[raw.get("kind")]
    _, fields = _WIRE[cls]
    return cls(**{attribute: read(raw[key]) for attribute, key, read in fields
                  if key in raw or key not in _OPTIONAL},
               at=datetime.fromisoformat(raw["at"]))


NOT_WITHDRAWN = and_(Consent.withdrawn_at.is_(None), Consent.status == ConsentStatus.ACTIVE)
"""The consents a replayed withdrawal still has something to end in (as the database has
them, without the clock: an expired consent ends by itself), as a query's condition, so a
start reads only those, however long the journal grows."""


def pending_withdrawals(journal: Sequence[Entry], session: Session) -> list[str]:
    """Withdraw again, in ``session``, the consents the journal withdrew and the database
    still has active (a copy from before); return their ids. Their templates then go with
    ``destroy_ended_templates``, their subject with ``subjects_with_consent_ended``."""
    withdrawn = {entry.consent_id: entry.at for entry in journal
                 if isinstance(entry, Withdrawal)}
    if not withdrawn:
        return []
    again = [consent for among in in_chunks(Consent.id, withdrawn.keys())
             for consent in session.scalars(select(Consent).where(among, NOT_WITHDRAWN))]
    for consent in again:
        withdraw_again(consent, at=withdrawn[consent.id])
    return [consent.id for consent in again]


def withdraw_again(consent: Consent, *, at: datetime) -> None:
    """Withdraw ``consent`` as the journal says it was, at the journal's time."""
    consent.status = ConsentStatus.WITHDRAWN
    consent.withdrawn_at = at


def choices_again(runtime: Runtime, journal: Sequence[Entry],
                  session: Session) -> tuple[int, int]:
    """Make again, in ``session``, the subjects' own choices the database lacks (a copy from
    before): the opt-outs of 1:N search and the choices of the non-biometric alternative; how
    many of each. One pass: each subject that may be named is hashed once, whatever the
    journal holds.

    The journal keeps opt-outs only, and the person may have opted in again after one: replaying
    every opt-out would undo that later choice. Each signed choice sets the subject's
    ``last_interaction_at`` to the very time its journal line carries, so a subject searchable
    with an earlier ``last_interaction_at`` than their latest opt-out is a database that lacks
    the opt-out (a copy restored from before it, or a crash between the line and the commit,
    of an act the person signed): the opt-out is made again. A subject whose
    ``last_interaction_at`` is not earlier holds it already, with any opt-in that followed it,
    and is left alone. Per subject, and never the audit log's or the start's own times: a start
    with another clock (the ``restore`` command's) changes nothing. The alternative is final,
    so no later act stands against it: the subject is unsearchable and refused enrolment from
    the journal's time.
    """
    opted_out = {entry.subject_hash: entry.at for entry in journal
                 if isinstance(entry, OptedOut)}  # each subject's latest
    chosen = {entry.subject_hash: entry.at for entry in journal
              if isinstance(entry, AlternativeTaken)}
    if not opted_out and not chosen:
        return 0, 0
    latest = max([*opted_out.values(), *chosen.values()])
    opt_outs = alternatives = 0
    for subject in session.scalars(select(Subject).where(
            Subject.created_at <= latest,  # only those can be named
            or_(Subject.searchable.is_(True), Subject.alternative_chosen_at.is_(None)))):
        ref = tombstone_hash(runtime.keys, subject.pseudonym)
        at = opted_out.get(ref)
        if at is not None and subject.searchable and subject.last_interaction_at < at:
            row_seals.set_opt_in(runtime.keys, subject, False, at=at)
            opt_outs += 1
        at = chosen.get(ref)
        if at is not None and subject.alternative_chosen_at is None:
            subject.alternative_chosen_at = at
            row_seals.set_opt_in(runtime.keys, subject, False, at=at)
            alternatives += 1
    return opt_outs, alternatives


def pending_templates(runtime: Runtime, journal: Sequence[Entry], session: Session) -> set[int]:
    """The templates the journal destroyed that the database still holds (a copy from
    before). Only templates created before the latest such line can be one, so only their
    nonces are read and hashed, never their ciphertexts."""
    refs = {entry.template_ref: entry.at for entry in journal
            if isinstance(entry, TemplateDestroyed)}
    if not refs:
        return set()
    rows = session.execute(select(Template.id, Template.nonce)
                           .where(Template.created_at <= max(refs.values())))
    return {label for label, nonce in rows if template_ref(runtime.keys, nonce) in refs}


def pending(runtime: Runtime, journal: Sequence[Entry]) -> list[tuple[str, ErasureReason]]:
    """(pseudonym, reason) of the subjects the journal erased and the database still holds.

    Only the journal's hashes without a tombstone are looked for: a copy restored from before
    the erasure, or an erasure whose proof was deleted five years on
    (:mod:`consent.proof_retention`). A subject can only be one of them if it was created
    before that erasure, so only those subjects are hashed, not every subject at every start.
    """
    erased = {entry.subject_hash: entry for entry in journal if isinstance(entry, JournalEntry)}
    if not erased:
        return []
    with runtime.db.transaction() as session:
        done = {found for among in in_chunks(Tombstone.subject_hash, erased.keys())
                for found in session.scalars(select(Tombstone.subject_hash).where(among))}
        missing = {h: entry for h, entry in erased.items() if h not in done}
        if not missing:
            return []
        latest = max(entry.at for entry in missing.values())
        pseudonyms = list(session.scalars(select(Subject.pseudonym).where(
            Subject.created_at <= latest)))
    found = []
    for pseudonym in pseudonyms:
        entry = missing.get(tombstone_hash(runtime.keys, pseudonym))
        if entry is not None:
            found.append((pseudonym, entry.reason))
    return found

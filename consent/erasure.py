"""Erasure: unsearchable at once, then physically gone, in one call.

Copies made before the erasure (backups, snapshots) still hold the wrapped key: they become
undecryptable at the next epoch boundary, when the epoch key that wrapped it is destroyed
(:mod:`consent.epochs`); the receipt states that time.

Order matters. (1) The subject is marked excluded and committed, so every search started
from then on leaves it out of its allowed set, and its vectors are scrubbed from the in-memory
index. (2) Their slots in the saved index file are overwritten in place (journaled, see
``engine.index_file``). (3) Template rows, the wrapped data key
and the subject's tokens are deleted (SQLite ``secure_delete`` zeroes the freed bytes) and the
WAL, which still holds the old pages, is checkpointed and truncated. The signed receipt is
built and stored in the transaction of step (3), so a destruction never commits without its
proof (a crash before the checkpoint is caught up at start-up, see ``reconcile``), and only
once that transaction has read back that no row of the subject is left and that nothing on the
ledger's tables can undo its deletes (:func:`consent.ledger_alterations.require_held`):
a trigger made by hand once kept every row while the receipt said them destroyed. An
erasure stopped between (1) and (3) is finished by the next start or sweep
(:func:`finish_interrupted`).

One consent ending while the subject holds another ends only the templates enrolled under it:
``destroy_ended_templates`` (sweep, start-up), like withdrawal, destroys them and keeps the
subject, each consent with its signed end receipt (``destroy_with_end_receipts``).

What remains, on purpose, holds no biometric data: a tombstone (keyed hash of the pseudonym,
reason, time, signed receipt) that stops the pseudonym being reused, with the keyed hashes of
the subject's passkey credential ids and the receipt's one-time codes
(:mod:`consent.after_erasure`); the consent rows, as proof
that past processing had a legal basis, with the subject replaced by the tombstone hash and
the guardian's name and the receipt (which names the pseudonym) removed; the disclosures of
their export, naming the tombstone hash, whose recipients the receipt lists to be told of the
erasure (GDPR art. 19; :mod:`consent.disclosures`); and the audit chain,
which is append-only and now names the subject only by salted hashes no one can link back to
the pseudonym (:mod:`consent.audit_seals`; events from before migration 0019 keep the
pseudonym; on PostgreSQL the rows' old versions keep it until overwritten, see
:mod:`consent.residue`), and passkeys by a keyed hash, never by the credential id their
authenticator presents (``passkeys.audit_reference``).
Five years after the erasure the sweep deletes the tombstone and all kept with it
(:mod:`consent.proof_retention`); the audit chain stays.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, delete, event, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from optinface.consent import (
    activity,
    after_erasure,
    audit_seals,
    changefeed,
    disclosures,
    end_receipts,
    erasure_journal,
    erasure_receipts,
    key_renewal,
    ledger_alterations,
    page_sessions,
    receipt_key_in_force,
)
from optinface.consent.accountability import accountability
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.changefeed import ChangeOp
from optinface.consent.crypto import canonical_json
from optinface.consent.db import unreachable
from optinface.consent.epochs import promise_boundary
from optinface.consent.errors import (
    ConsentError,
    ErasureUnfinished,
    LedgerAltered,
    LedgerRestored,
    NotFound,
    SubjectErased,
)
from optinface.consent.keys import destroy_index_file_keys
from optinface.consent.ledger import get_subject, new_id, tombstone_hash
from optinface.consent.policies import ended_reason, erasure_due, held_to_its_limits, in_force
from optinface.consent.receipts import CONSENT_RECEIPT_VERSION, pii_controllers
from optinface.consent.residue import after_destroyed
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    ErasureReason,
    ErasureReceipt,
    ReviewStatus,
    SignedErasureReceipt,
)
from optinface.consent.tables import (
    AuditEvent,
    Base,
    Consent,
    ConsentStatus,
    MatchReview,
    ProbeConsent,
    RightsRequest,
    Subject,
    SubjectKey,
    SubjectStatus,
    SubjectToken,
    Template,
    Tombstone,
)

logger = logging.getLogger(__name__)

KEPT_TOMBSTONE = "tombstone"
KEPT_CONSENTS = "consent records without the subject"
KEPT_DISCLOSURES = "disclosure records without the subject"
KEPT_AUDIT_CHAIN = "audit chain, naming the subject by salted hashes only"
KEPT_AUDIT_CHAIN_UNSEALED = ("audit chain; {unsealed} events from before salted hashes"
                             " (migration 0019) still name the pseudonym")
KEPT = (KEPT_TOMBSTONE, KEPT_CONSENTS, KEPT_DISCLOSURES, KEPT_AUDIT_CHAIN,
        KEPT_AUDIT_CHAIN_UNSEALED)
"""What the erasure receipt's ``kept`` lists, as English source strings: the receipt's page
states each in the reader's language."""


@dataclass(frozen=True, slots=True)
class Destroyed:
    """What one step of a destruction removed: template rows, vectors from the index, and the
    keys of the index files saved before it (every copy, wherever it lies)."""

    templates: int
    index_entries: int
    index_file_keys: int = 0

    def __add__(self, other: Destroyed) -> Destroyed:
        return Destroyed(templates=self.templates + other.templates,
                         index_entries=self.index_entries + other.index_entries,
                         index_file_keys=self.index_file_keys + other.index_file_keys)


NOTHING = Destroyed(templates=0, index_entries=0)


def destroy_templates(runtime: Runtime, session: Session, labels: Collection[int]) -> Destroyed:
    """:func:`remove_templates`, for subjects who stay: each of their keys is renewed
    (:func:`consent.key_renewal.renew`), so a copy made before holds the templates destroyed
    under a key the next epoch rotation makes unopenable, as an erasure's.

    The caller commits and then checkpoints the WAL.
    """
    if not labels:
        return NOTHING
    subject_ids = set(session.scalars(select(Template.subject_id).where(
        Template.id.in_(list(labels)))))
    destroyed = remove_templates(runtime, session, labels)
    session.flush()
    key_renewal.renew(session, subject_ids, keys=runtime.keys, now=runtime.clock.now())
    return destroyed


def remove_templates(runtime: Runtime, session: Session, labels: Collection[int]) -> Destroyed:
    """Remove ``labels`` from the index (and its file) and their rows from the ledger, and
    every index file's key from the key store (:func:`_shred_index_copies`); their subjects'
    keys are the caller's (an erasure deletes them; :func:`destroy_templates` renews them).

    The caller commits and then checkpoints the WAL.
    """
    if not labels:
        return NOTHING
    present = runtime.index.labels() & set(labels)
    if present:
        runtime.index.remove(present)
    runtime.index.flush_removals()  # also when scrubbed in memory: the file has them
    session.execute(delete(Template).where(Template.id.in_(list(labels))))
    changefeed.record(session, ChangeOp.REMOVE, labels, now=runtime.clock.now())
    return Destroyed(templates=len(labels), index_entries=len(present),
                     index_file_keys=_shred_index_copies(runtime, session))


def destroy_lost_keys(runtime: Runtime, session: Session, subject_ids: Collection[int]) -> int:
    """Delete the subject keys of ``subject_ids``, which open nothing any more (their epoch key
    destroyed, or bound to another person: :mod:`consent.reconcile`, :mod:`consent.epochs`), and
    destroy the templates under them, which no key opens again (:func:`destroy_templates`),
    chained as ``subject_keys_lost``, one event a subject (each names its person alone, with
    their own count, so no one's access export says how many others lost theirs:
    :mod:`consent.audit_seal_tree`); how many keys. The subjects stay: with no template to
    compare a face with, each enrols again at the desk (``reenrol_at_desk``,
    :mod:`consent.one_person`), rather than being refused as unreadable for good."""
    ids = sorted(subject_ids)
    if not ids:
        return 0
    held = session.execute(select(Template.id, Template.subject_id)
                           .where(Template.subject_id.in_(ids))).all()
    remove_templates(runtime, session, [label for label, _ in held])
    session.execute(delete(SubjectKey).where(SubjectKey.subject_id.in_(ids)))
    pseudonyms: dict[int, str] = {
        subject_id: pseudonym for subject_id, pseudonym in session.execute(
            select(Subject.id, Subject.pseudonym).where(Subject.id.in_(ids)))}
    templates = Counter(subject_id for _, subject_id in held)
    for subject_id in ids:
        pseudonym = pseudonyms.get(subject_id)
        runtime.audit(session, Entry(
            action=AuditAction.SUBJECT_KEYS_LOST, actor=None,
            subjects=[] if pseudonym is None else [pseudonym],
            details={"subject_keys": 1, "templates": templates[subject_id]}))
    return len(ids)


def templates_gone(labels: Collection[int]) -> ledger_alterations.Left:
    """What :func:`destroy_templates` must have left none of, for the read-back of a
    destruction that keeps the subject (:func:`ledger_alterations.require_held`)."""
    return [(Template.__tablename__, Template.id.in_(list(labels)))] if labels else []


_SHREDS_AFTER_COMMIT = "optinface.shred_index_copies"


def _shred_index_copies(runtime: Runtime, session: Session) -> int:
    """No index file saved before this destruction opens once it commits, wherever it lies;
    how many files' keys this destroyed before the commit (what the receipt states).

    Every index file (this worker's, a stopped worker's, a CLI run's, a backup's copy) holds
    its data key wrapped under a key-store key of its own, and scrubbing reaches only the
    files of running workers. So every such key is destroyed: now, before the commit (a crash
    after the commit cannot skip it), and again once the transaction commits (a worker may
    have saved its index meanwhile, still holding the destroyed templates, which it learns of
    from the change feed only after the commit). Then this worker saves its index whole under
    a new key, without the destroyed templates, in the background half a second later (1.5 s
    at 100k templates, which the erasure does not wait for); the other running workers do the
    same when they find their file's key gone (:mod:`consent.replica`). A worker that dies
    first, or is stopped, rebuilds its index from the ledger at its next start. A rollback
    destroys keys for nothing: it costs saves (this worker's at its next save) or a rebuild,
    never an erasure.
    """
    destroyed = destroy_index_file_keys(runtime.keys.store)
    if not session.info.get(_SHREDS_AFTER_COMMIT):
        session.info[_SHREDS_AFTER_COMMIT] = True
        event.listen(session, "after_commit", lambda _: _after_commit(runtime), once=True)
    return destroyed


def _after_commit(runtime: Runtime) -> None:
    destroy_index_file_keys(runtime.keys.store)
    runtime.index.save_later()  # a whole save: the erasure does not wait for it


def erase_subject(
    runtime: Runtime, *, pseudonym: str, reason: ErasureReason, actor: Actor | None,
    journaled: bool = False, destroyed_before: Destroyed = NOTHING,
    signed_by: dict[str, str] | None = None,
) -> ErasureReceipt:
    """Erase everything biometric about ``pseudonym`` and return the signed receipt.

    Args:
        journaled: The erasure journal already names it (a replay after a restore).
        destroyed_before: What the act that led here destroyed in its own transaction (a
            withdrawal's templates, gone at once): the receipt, the one proof kept, counts it.
        signed_by: The person's signature of this erasure, as
            :func:`consent.subject_acts.signed_right` checked it: the ``erase`` event and the
            receipt name it (``signed``, ``personSignature``), so the chain shows their act.
    """
    receipt = _erase(runtime, pseudonym=pseudonym, reason=reason, actor=actor,
                     journaled=journaled, destroyed_before=destroyed_before, unless_kept=False,
                     signed_by=signed_by)
    assert receipt is not None  # only an erasure unless kept may keep its subject
    return receipt


def erase_unless_kept(
    runtime: Runtime, *, pseudonym: str, reason: ErasureReason, actor: Actor | None,
    destroyed_before: Destroyed = NOTHING,
) -> ErasureReceipt | None:
    """Erase ``pseudonym`` for want of a basis to keep them (``reason``: a withdrawal, an
    expiry, retention), unless :func:`policies.erasure_due`, asked again in the transaction
    that excludes them, finds one: a consent given since the caller looked, through another
    worker between the caller's transaction and this one. None then, and nothing is changed."""
    return _erase(runtime, pseudonym=pseudonym, reason=reason, actor=actor, journaled=False,
                  destroyed_before=destroyed_before, unless_kept=True, signed_by=None)


def _erase(
    runtime: Runtime, *, pseudonym: str, reason: ErasureReason, actor: Actor | None,
    journaled: bool, destroyed_before: Destroyed, unless_kept: bool,
    signed_by: dict[str, str] | None,
) -> ErasureReceipt | None:
    """:func:`_excluded_then_destroyed`, but an erasure the ledger would not let finish (rows
    kept, or triggers, rules or row security on its tables) is reported as unfinished
    (:func:`_report_unfinished`) whoever asked for it (a request, a withdrawal, a sweep), then
    raised: its subject stays excluded, and the next sweep tries again."""
    try:
        return _excluded_then_destroyed(
            runtime, pseudonym=pseudonym, reason=reason, actor=actor, journaled=journaled,
            destroyed_before=destroyed_before, unless_kept=unless_kept, signed_by=signed_by)
    except (ErasureUnfinished, LedgerAltered) as refusal:
        _report_unfinished(runtime, pseudonym=pseudonym, reason=reason, actor=actor,
                           error=refusal)
        raise


def _excluded_then_destroyed(
    runtime: Runtime, *, pseudonym: str, reason: ErasureReason, actor: Actor | None,
    journaled: bool, destroyed_before: Destroyed, unless_kept: bool,
    signed_by: dict[str, str] | None,
) -> ErasureReceipt | None:
    started = time.perf_counter()
    requested_at = runtime.clock.now()
    excluded = _exclude(runtime, pseudonym=pseudonym, reason=reason, unless_kept=unless_kept)
    if excluded is None:
        return None
    labels, removed = excluded
    unsearchable = Destroyed(templates=0, index_entries=removed)
    unsearchable_ms = (time.perf_counter() - started) * 1000
    unsearchable_at = runtime.clock.now()

    subject_hash = tombstone_hash(runtime.keys, pseudonym)
    if not journaled:  # before the destruction commits: a restore must never undo it
        erasure_journal.record(runtime, erasure_journal.JournalEntry(
            subject_hash=subject_hash, reason=reason, at=requested_at))
    with runtime.db.transaction() as session:
        subject = get_subject(session, pseudonym, runtime=runtime, include_excluded=True)
        # A tombstone already there: an erasure signed while something kept its rows (or a
        # copy of them put back), finished now under a receipt that replaces its own.
        earlier = session.scalar(select(Tombstone).where(Tombstone.subject_hash == subject_hash))
        replaced = None if earlier is None else str((earlier.receipt or {}).get("receiptID"))
        # The index lost the vectors in the first step; this one scrubs the file, deletes rows.
        destroyed = destroyed_before + unsearchable + remove_templates(runtime, session, labels)
        key_row = session.get(SubjectKey, subject.id)
        key_destroyed = key_row is not None
        # Copies made before now hold the key wrapped under this epoch (or an older one,
        # destroyed by then): they become undecryptable when the next rotation destroys it.
        copies_epoch = key_row.epoch if key_row is not None else runtime.keys.epoch
        copies_undecryptable_at = promise_boundary(runtime, session)
        session.execute(delete(SubjectKey).where(SubjectKey.subject_id == subject.id))
        session.execute(delete(SubjectToken).where(or_(
            SubjectToken.subject_id == subject.id,
            # sealed as theirs: a token moved to another subject in the database goes too
            SubjectToken.owner_hash == subject_hash)))
        # GDPR art. 19: whoever received the subject's data is told of the erasure.
        recipients = disclosures.recipients_of(session, pseudonym)
        _anonymise_consents(session, subject=subject, subject_hash=subject_hash)
        _anonymise_records(session, pseudonym=pseudonym, subject_hash=subject_hash,
                           now=unsearchable_at)
        page_sessions.end_for_subject(session, subject_hash)
        credentials = after_erasure.credential_hashes(session, runtime.keys,
                                                      subject_id=subject.id)
        # Before anything is signed: what the deletes were to remove is gone (theirs first,
        # then the subject's row and all that names it), and nothing on the ledger's tables
        # can undo them or put it back before this commits.
        kept = _kept_rows(subject_hash)
        if tables := ledger_alterations.kept(session, _deleted_first(subject, subject_hash)):
            raise kept(tables)
        _delete_subject(session, subject)
        ledger_alterations.require_held(session, _naming(subject), refusal=kept)
        found = audit_seals.find(session, pseudonym)
        erase_event = runtime.audit(
            session,
            Entry(
                action=AuditAction.ERASE,
                actor=actor,
                subjects=[pseudonym],
                details={
                    "reason": str(reason),
                    "templates": destroyed.templates,
                    "index_entries": destroyed.index_entries,
                    "recipients_to_notify": recipients,
                    # Chained before they are forgotten: the verification tells this from an
                    # edit that hides who was searched.
                    audit_seals.FORGOTTEN: found.seals,
                    **_signed(signed_by),
                    **({} if replaced is None else {"replaces_receipt": replaced}),
                },
            ),
        )
        # This event's pseudonym too: from now on the log names the subject by hashes alone.
        log_events = audit_seals.forget([*found.sealed, erase_event], pseudonym)
        unsealed = found.unsealed
        # Never a key another process retired; read once, for the receipt served too.
        ring = receipt_key_in_force.in_force(runtime)
        receipt = {
            "version": CONSENT_RECEIPT_VERSION,
            "type": "erasure",
            "receiptID": new_id("era"),
            "piiControllers": pii_controllers(runtime.settings.controller_name,
                                              runtime.settings.controller_contact),
            "subjectHash": subject_hash,
            # Whose it is, for whoever holds the salt handed out beside it (and the pseudonym).
            **erasure_receipts.commitment(ring, pseudonym=pseudonym,
                                          subject_hash=subject_hash),
            "reason": str(reason),
            # The first request's, where an earlier erasure of the subject left its tombstone.
            "requestedAt": (requested_at if earlier is None else earlier.erased_at).isoformat(),
            "unsearchableAt": unsearchable_at.isoformat(),
            # Taken with the index file already scrubbed and the rows deleted, in the
            # transaction that commits them together with this receipt: stored iff they are.
            "destroyedAt": runtime.clock.now().isoformat(),
            "afterDestroyedAt": after_destroyed(runtime.settings.url),
            # Backups and snapshots taken before this erasure: the subject key they hold is
            # wrapped under epoch key ``keyEpoch``, destroyed at the next epoch rotation
            # (``optinface keys epochs`` shows when it was).
            "keyEpoch": copies_epoch,
            "copiesUndecryptableAt": copies_undecryptable_at.isoformat(),
            "destroyed": {
                "templates": destroyed.templates,
                "indexEntries": destroyed.index_entries,
                # Index files saved before (this worker's, others', backups' copies): their
                # keys are gone, so none of them opens again.
                "indexFileKeys": destroyed.index_file_keys,
                "subjectKey": key_destroyed,
                "logPseudonyms": log_events,
            },
            # Those the subject's data were disclosed to: the controller tells them.
            "recipientsToNotify": recipients,
            # The person's own passkey signed it: the credential's keyed hash (never its id,
            # which would lead back to them) and the SHA-256 of the statement they signed.
            **({} if signed_by is None else {"personSignature": {
                "credentialHash": signed_by["credential_hash"],
                "statementSha256": signed_by["statement_sha256"]}}),
            "kept": [KEPT_TOMBSTONE, KEPT_CONSENTS,
                     *([KEPT_DISCLOSURES] if recipients else []),
                     KEPT_AUDIT_CHAIN if not unsealed
                     else KEPT_AUDIT_CHAIN_UNSEALED.format(unsealed=unsealed)],
            "accountability": accountability(runtime.settings).model_dump(mode="json"),
            "publicKey": ring.public_key,
            # The receipt an earlier erasure signed while the rows were still there: this one
            # takes its place on the tombstone, and says what that one did not hold.
            **({} if replaced is None else {"replacesReceipt": replaced}),
        }
        signature = ring.sign(canonical_json(receipt))
        if earlier is None:
            tombstone = Tombstone(subject_hash=subject_hash, reason=str(reason),
                                  erased_at=requested_at, receipt=receipt,
                                  receipt_signature=signature)
            session.add(tombstone)
        else:
            tombstone = earlier
            tombstone.receipt, tombstone.receipt_signature = receipt, signature
            logger.error("the erasure of subject %s was signed on %s while its rows were still"
                         " in the ledger: destroyed now, its receipt replaced by one that says"
                         " so", subject_hash, earlier.erased_at.isoformat())
        after_erasure.remember_credentials(session, tombstone, credentials)
    runtime.db.checkpoint()
    gone_ms = (time.perf_counter() - started) * 1000
    return ErasureReceipt(
        subject_hash=subject_hash,
        reason=reason,
        templates_destroyed=destroyed.templates,
        index_entries_removed=destroyed.index_entries,
        index_file_keys_destroyed=destroyed.index_file_keys,
        key_destroyed=key_destroyed,
        unsearchable_ms=unsearchable_ms,
        gone_ms=gone_ms,
        copies_undecryptable_at=copies_undecryptable_at,
        recipients_to_notify=recipients,
        signed=erasure_receipts.served(runtime, tombstone, keys=ring.loaded_receipt_keys),
    )


def _delete_subject(session: Session, subject: Subject) -> None:
    """Delete the subject's row, and with it (their foreign keys) what names it: passkeys,
    links, challenges; consents and rights requests keep the tombstone hash instead.

    In a savepoint, so that a foreign key refusing the delete leaves the transaction usable on
    every database for the read-back to say what was kept: SQLite's refuses it where a
    row that names the subject was kept by something in the database (PostgreSQL deletes the
    subject's row and leaves the kept one naming no one)."""
    try:
        with session.begin_nested():
            session.execute(delete(Subject).where(Subject.id == subject.id))
    except IntegrityError:
        return  # the subject's row stays: the read-back finds it with what held it
    session.expunge(subject)


_NAMING_THE_SUBJECT = tuple(
    foreign_key.parent for table in Base.metadata.sorted_tables
    for foreign_key in table.foreign_keys if foreign_key.column is Subject.__table__.c.id)
"""Every column that names a subject by its row id: none may name an erased one."""

_Rows = list[tuple[str, ColumnElement[bool]]]
"""Rows an erasure must leave none of (:data:`ledger_alterations.Left`)."""


def _deleted_first(subject: Subject, subject_hash: str) -> _Rows:
    """The rows an erasure deletes before the subject's own: their templates, key and tokens,
    those moved to someone else by SQL included (found by the tombstone hash they keep)."""
    return [(Template.__tablename__, or_(Template.subject_id == subject.id,
                                         Template.owner_hash == subject_hash)),
            (SubjectKey.__tablename__, SubjectKey.subject_id == subject.id),
            (SubjectToken.__tablename__, or_(SubjectToken.subject_id == subject.id,
                                             SubjectToken.owner_hash == subject_hash))]


def _naming(subject: Subject) -> _Rows:
    """The subject's own row (by id or pseudonym), and every row that names its id."""
    return [(Subject.__tablename__, or_(Subject.id == subject.id,
                                        Subject.pseudonym == subject.pseudonym)),
            *((column.table.name, column == subject.id) for column in _NAMING_THE_SUBJECT)]


def _kept_rows(subject_hash: str) -> Callable[[list[str]], ErasureUnfinished]:
    """The erasure's refusal where the ledger still holds rows of the subject it deleted
    (:func:`ledger_alterations.require_held`, read back in its transaction before its receipt
    is signed: a trigger once kept every row while the receipt said them destroyed); the
    tables in ``details.kept``, rolled back, nothing signed."""
    def refusal(kept: list[str]) -> ErasureUnfinished:
        return ErasureUnfinished(
            f"the ledger kept rows of subject {subject_hash} that the erasure deleted ("
            + ", ".join(kept) + "): nothing is signed; the subject stays unsearchable and the"
            " next sweep tries again", details={"kept": kept})
    return refusal


def _exclude(
    runtime: Runtime, *, pseudonym: str, reason: ErasureReason, unless_kept: bool,
) -> tuple[set[int], int] | None:
    """Step (1): the subject excluded, committed, and its vectors out of this worker's index;
    the ids of its templates and how many vectors left the index, or None where
    ``unless_kept`` found a basis to keep the subject (nothing is changed then)."""
    with runtime.db.transaction() as session:
        subject = get_subject(session, pseudonym, runtime=runtime, include_excluded=True)
        if unless_kept and erasure_due(subject, runtime.settings,
                                       now=runtime.clock.now()) is None:
            return None
        subject.status = SubjectStatus.EXCLUDED
        subject.erasure_reason = str(reason)
        labels = set(session.scalars(select(Template.id).where(or_(
            Template.subject_id == subject.id,
            # sealed as theirs: a template moved to another subject in the database goes too
            Template.owner_hash == tombstone_hash(runtime.keys, pseudonym)))))
    present = runtime.index.labels() & labels
    runtime.index.remove(present)
    return labels, len(present)


@dataclass(frozen=True, slots=True)
class Erasures:
    """What a run of erasures (a sweep's, a start's, an order's) did: the receipts of those
    finished here, and how many raised and were left, each reported, for the next sweep."""

    receipts: list[ErasureReceipt] = field(default_factory=list)
    unfinished: int = 0

    def __add__(self, other: Erasures) -> Erasures:
        return Erasures(receipts=self.receipts + other.receipts,
                        unfinished=self.unfinished + other.unfinished)


ERASURE_UNFINISHED = ErasureUnfinished.code
"""The stable code of the log line (and the audit action) of an erasure that raised in a run
of them: one subject's failure stops neither the others nor the rest of the run."""


def erase_each(
    runtime: Runtime, subjects: Iterable[tuple[str, ErasureReason]], *, actor: Actor | None,
    journaled: bool = False, unless_kept: bool = False,
) -> Erasures:
    """Erase each (pseudonym, reason) found due (``unless_kept``: as
    :func:`erase_unless_kept`), one subject's failure leaving the others to go on.

    With several workers on one ledger another worker may erase the same subject meanwhile
    (a start-up finishing an erasure the other is still running, a request during a sweep);
    that one is skipped, its receipt is the other's. An erasure that raises (a journal that
    cannot be written, anything else) is reported (:func:`_left_unfinished`) and the next
    subject erased: the subject stays excluded, so the next sweep's :func:`finish_interrupted`
    tries again. A ledger out of reach, or found restored behind the running service (the
    journal's replay comes first: :mod:`consent.live_replay`), is no one subject's failure: it
    is raised.
    """
    receipts: list[ErasureReceipt] = []
    unfinished = 0
    for pseudonym, reason in subjects:
        try:
            receipt = (erase_unless_kept(runtime, pseudonym=pseudonym, reason=reason, actor=actor)
                       if unless_kept else
                       erase_subject(runtime, pseudonym=pseudonym, reason=reason, actor=actor,
                                     journaled=journaled))
        except SubjectErased:
            continue
        except (ErasureUnfinished, LedgerAltered):  # reported by _erase, the subject excluded
            unfinished += 1
            continue
        except Exception as error:
            if unreachable(error) or isinstance(error, LedgerRestored):
                raise
            _left_unfinished(runtime, pseudonym=pseudonym, reason=reason, actor=actor,
                             error=error, unless_kept=unless_kept)
            unfinished += 1
            continue
        if receipt is not None:
            receipts.append(receipt)
    return Erasures(receipts=receipts, unfinished=unfinished)


def _left_unfinished(
    runtime: Runtime, *, pseudonym: str, reason: ErasureReason, actor: Actor | None,
    error: Exception, unless_kept: bool,
) -> None:
    """Keep an erasure that raised unsearchable and say so: a log line with
    :data:`ERASURE_UNFINISHED` and the tombstone hash at every run (operators keep seeing it,
    and the run counts it), and an event of that action naming the subject (sealed like every
    event, forgotten by the erasure that finishes it) when the failure is new
    (:func:`_chain_if_new`), the error by its code or type only (a database error's text may
    quote the row).

    An erasure that must happen is excluded again first (its first step may be what raised,
    or the index's removal): while it is unfinished no search may find the subject. If even
    that fails, the error is raised: nothing else may go on as if they were unsearchable. One
    ``unless_kept`` is left as it is: it holds no consent in force, so no search finds it, and
    a consent given meanwhile must keep it (the next sweep asks again).
    """
    if not unless_kept:
        try:
            _exclude(runtime, pseudonym=pseudonym, reason=reason, unless_kept=False)
        except (SubjectErased, NotFound):
            return  # finished meanwhile by another worker or request: nothing to keep out
    _report_unfinished(runtime, pseudonym=pseudonym, reason=reason, actor=actor, error=error)


def _report_unfinished(runtime: Runtime, *, pseudonym: str, reason: ErasureReason,
                       actor: Actor | None, error: Exception) -> None:
    """The log line and, when new, the event of an erasure left unfinished (see
    :func:`_left_unfinished`)."""
    code = error.code if isinstance(error, ConsentError) else type(error).__name__
    logger.error("%s: the erasure of subject %s (%s) could not be finished (%s); it is kept"
                 " unsearchable and the next sweep tries again", ERASURE_UNFINISHED,
                 tombstone_hash(runtime.keys, pseudonym), reason, code)
    _chain_if_new(runtime, Entry(action=AuditAction.ERASURE_UNFINISHED, actor=actor,
                                 outcome=code, subjects=[pseudonym],
                                 details={"reason": str(reason), "error": code}))


def _chain_if_new(runtime: Runtime, unfinished: Entry) -> None:
    """Chain ``unfinished`` unless the subject's latest ``erasure_unfinished`` event already
    says the same (its reason and error code): a journal that fails for a month of hourly
    sweeps would otherwise chain hundreds of identical events, which tell a reader nothing
    the first did not. A new failure is chained: the first, or one whose error (or reason)
    changed. The latest event is read in the transaction that would chain the new one
    (serialised with every other on the ledger, so two workers' sweeps chain it once), by
    the action's index; the log line and the run's count say it at every run meanwhile."""
    (pseudonym,) = unfinished.subjects
    with runtime.db.transaction() as session:
        latest = session.scalars(
            select(AuditEvent.details)
            .where(AuditEvent.action == unfinished.action, audit_seals.mentions(pseudonym))
            .order_by(AuditEvent.seq.desc()).limit(1)).first()
        if latest != unfinished.details:
            runtime.audit(session, unfinished)


def destroy_ended_templates(
    runtime: Runtime, session: Session, *, now: datetime, actor: Actor | None
) -> int:
    """Destroy the templates whose own consent is no longer in force; return how many.

    A template's legal basis is the consent it was enrolled under, so that consent's expiry or
    the end of its purposes' retention ends the template as withdrawal does, even while another
    consent keeps its subject. Subjects with no consent left are ``erase_subject``'s (tombstone
    and receipt); an excluded subject's erasure is under way and counts its own templates; any
    other status, one the service never writes included, is no reason to keep them
    (:func:`policies.held_to_its_limits`).
    One audit event per consent, naming the subject, so their access export shows it, and one
    signed receipt, kept with the consent (:mod:`consent.end_receipts`). The caller commits,
    then checkpoints the WAL.
    """
    rows = session.execute(
        select(Template.id, Consent, Subject.id, Subject.pseudonym)
        .join(Consent, Consent.id == Template.consent_id)
        .join(Subject, Subject.id == Template.subject_id)
        .where(held_to_its_limits(), not_(in_force(now)))
    ).all()
    if not rows:
        return 0
    ended: dict[str, EndedConsent] = {}
    for label, consent, subject_id, pseudonym in rows:
        ended.setdefault(consent.id, EndedConsent(consent, subject_id, pseudonym)).labels.add(label)
    destroy_with_end_receipts(runtime, session, ended.values())
    for end in ended.values():
        runtime.audit(session, Entry(
            action=AuditAction.CONSENT_ENDED, actor=actor, subjects=[end.pseudonym],
            details={"consent_id": end.consent.id,
                     "reason": str(ended_reason(end.consent)),
                     "templates_erased": len(end.labels)}))
    return len(rows)


@dataclass(frozen=True, slots=True)
class EndedConsent:
    """A consent no longer in force whose subject stays, and the templates enrolled under it."""

    consent: Consent
    subject_id: int
    pseudonym: str
    labels: set[int] = field(default_factory=set)


def destroy_with_end_receipts(runtime: Runtime, session: Session,
                              ended: Collection[EndedConsent]) -> Destroyed:
    """Destroy the templates of consents that ended while their subjects stay
    (:func:`destroy_templates`: their keys renewed), and keep with each consent that had any
    its signed end receipt (:mod:`consent.end_receipts`), whether it ended by itself or was
    withdrawn: the person's statement, signed by the controller, of what was destroyed and
    from when copies made before open no more. The caller commits, then checkpoints the WAL."""
    ended = [end for end in ended if end.labels]
    if not ended:
        return NOTHING
    # Before the destruction renews them: the epochs that wrap the copies made before.
    key_epochs: dict[int, int] = {
        subject_id: epoch for subject_id, epoch in session.execute(
            select(SubjectKey.subject_id, SubjectKey.epoch).where(SubjectKey.subject_id.in_(
                {end.subject_id for end in ended})))}
    destroyed = destroy_templates(runtime, session, set().union(*(end.labels for end in ended)))
    destruction = end_receipts.Destruction(
        at=runtime.clock.now(), index_file_keys=destroyed.index_file_keys,
        after_destroyed=after_destroyed(runtime.settings.url),
        copies_undecryptable_at=promise_boundary(runtime, session))
    ring = receipt_key_in_force.in_force(runtime)  # never a key another process retired
    for end in ended:
        end_receipts.sign(end.consent, pseudonym=end.pseudonym, templates=len(end.labels),
                          key_epoch=key_epochs.get(end.subject_id, runtime.keys.epoch),
                          destruction=destruction, ring=ring, settings=runtime.settings)
    return destroyed


def _anonymise_consents(session: Session, *, subject: Subject, subject_hash: str) -> None:
    """The consents stay as proof under the tombstone hash; the receipts that name the
    pseudonym go, a verify's probe consents' included (their rows hold the hash only)."""
    session.execute(update(ProbeConsent).where(ProbeConsent.subject_ref == subject_hash)
                    .values(receipt=None, receipt_signature=None))
    session.execute(
        update(Consent)
        .where(Consent.subject_id == subject.id)
        .values(
            subject_ref=subject_hash,
            guardian_name=None,
            receipt=None,
            receipt_signature=None,
            withdrawal_receipt=None,
            withdrawal_signature=None,
            end_receipt=None,
            end_signature=None,
            status=ConsentStatus.ERASED,
        )
    )


def _anonymise_records(session: Session, *, pseudonym: str, subject_hash: str,
                       now: datetime) -> None:
    """The human reviews of searches that found the subject, their rights requests and their
    disclosures stay (proof of the verification, of the deadline kept, of each disclosure's
    basis) naming the tombstone hash instead; a review not yet decided is closed as lapsed
    (consent.review): no one confirms an erased person."""
    session.execute(update(MatchReview).where(
        MatchReview.candidate == pseudonym, MatchReview.status == ReviewStatus.PROVISIONAL)
        .values(status=str(ReviewStatus.LAPSED), decided_at=now))
    session.execute(update(MatchReview).where(MatchReview.candidate == pseudonym)
                    .values(candidate=subject_hash))
    session.execute(update(RightsRequest).where(RightsRequest.subject_ref == pseudonym)
                    .values(subject_ref=subject_hash))
    disclosures.anonymise(session, pseudonym=pseudonym, subject_hash=subject_hash)


def finish_interrupted(runtime: Runtime, *, actor: Actor | None) -> Erasures:
    """Finish every erasure that excluded its subject and did not destroy it (the process
    died or raised in between: a crash, a killed worker, a journal that could not be
    written); the receipts of those finished here.

    Start-up reconciliation and every sweep call it, so a worker that dies mid-erasure and
    never comes back leaves it to whichever worker sweeps next. Each is finished as a repeated
    request finishes it, by :func:`erase_subject` with the reason its exclusion recorded:
    the same journal line, ``erase`` event and signed receipt; a subject the journal already
    names is not journaled again, so a journal that cannot be written now holds back only
    the erasures it never recorded. It needs no bound on how long
    the subject was excluded: both of an erasure's transactions take the ledger lock, and the
    destroying one reads the subject again, so of two workers finishing the same erasure (or
    this one and the worker still running it) one commits the destruction and its receipt and
    the other finds the tombstone and is skipped (:func:`erase_each`).
    """
    with runtime.db.transaction() as session:
        excluded = [(pseudonym, ErasureReason(reason or ErasureReason.REQUEST))
                    for pseudonym, reason in session.execute(
                        select(Subject.pseudonym, Subject.erasure_reason)
                        .where(Subject.status == SubjectStatus.EXCLUDED))]
    if not excluded:
        return Erasures()
    try:
        named = runtime.journal_ends.erased_subjects()
    except OSError:  # their erasures write their lines again, refused if the folder is unusable
        named = frozenset()
    journaled = [(p, r) for p, r in excluded if tombstone_hash(runtime.keys, p) in named]
    return (erase_each(runtime, journaled, actor=actor, journaled=True)
            + erase_each(runtime, [e for e in excluded if e not in journaled], actor=actor))


def _signed(signed_by: dict[str, str] | None) -> dict[str, dict[str, str]]:
    """An erasure event's ``signed`` detail: the person's signature, where they signed it."""
    return {} if signed_by is None else {"signed": signed_by}


def erase_requested(
    runtime: Runtime, *, pseudonym: str, reason: ErasureReason, actor: Actor | None,
    signed_by: dict[str, str] | None = None,
) -> ErasureReceipt:
    """A request's erasure (``DELETE /v1/subjects/{s}``): :func:`erase_subject`, but a request
    that found the subject still there and lost the race to another erasure of them (a sweep,
    another worker, a second request: the ledger lock lets one destroy, the other then finds
    the tombstone) answers with that erasure's signed receipt, as if it had done the work:
    the subject is erased either way. Only a subject erased before the request came is
    refused (``subject_erased``).

    The request that lost is chained too, as :attr:`AuditAction.ERASE_ALREADY_DONE`: the
    other erasure's ``erase`` event names its own actor (none for a sweep), so without this
    one the log would not show that this actor asked for this erasure. It names the subject
    as every event after their erasure does, by the tombstone hash
    (:func:`after_erasure.log_names`: the erasure took the pseudonym out of the log, and this
    event must not write it back), and the receipt it answered with, in the transaction that
    reads that receipt. That receipt is served only if it is this deployment's signed receipt
    of this erasure; else ``erasure_receipt_altered``, chained with the request (its
    ``receipt_id`` null) in that transaction."""
    with runtime.db.reading() as session:  # waits for no writer
        get_subject(session, pseudonym, runtime=runtime, include_excluded=True)
    try:
        return erase_subject(runtime, pseudonym=pseudonym, reason=reason, actor=actor,
                             signed_by=signed_by)
    except SubjectErased:
        with runtime.db.transaction() as session:
            tombstone = activity.tombstone(session, tombstone_hash(runtime.keys, pseudonym))
            if (tombstone is None or tombstone.receipt is None
                    or tombstone.receipt_signature is None):  # its proof deleted since
                raise
            keys = runtime.keys.receipt_keys  # once, for the check and the receipt served
            refused = erasure_receipts.refusal(runtime, session, tombstone,
                                               asked="erase_request", keys=keys, actor=actor)
            runtime.audit(session, Entry(
                action=AuditAction.ERASE_ALREADY_DONE, actor=actor,
                subjects=after_erasure.log_names(runtime, session, [pseudonym]),
                details={"reason": str(reason),
                         "receipt_id": None if refused else tombstone.receipt["receiptID"],
                         **_signed(signed_by)}))
            signed = erasure_receipts.served(runtime, tombstone, keys=keys)
        if refused is not None:  # once the transaction committed the refusal's event
            raise refused from None
        return _receipt_of(signed)


def _receipt_of(signed: SignedErasureReceipt) -> ErasureReceipt:
    """The answer :func:`_erase` gave, read back from the receipt it signed (checked by
    :func:`erasure_receipts.refusal`); the times it measured are the receipt's own, from the
    request to unsearchable and to destroyed."""
    receipt = signed.receipt
    destroyed = receipt["destroyed"]
    requested = datetime.fromisoformat(receipt["requestedAt"])

    def since_requested(key: str) -> float:
        return (datetime.fromisoformat(receipt[key]) - requested).total_seconds() * 1000

    return ErasureReceipt(
        subject_hash=receipt["subjectHash"],
        reason=ErasureReason(receipt["reason"]),
        templates_destroyed=destroyed["templates"],
        index_entries_removed=destroyed["indexEntries"],
        index_file_keys_destroyed=destroyed.get("indexFileKeys"),
        key_destroyed=destroyed["subjectKey"],
        unsearchable_ms=since_requested("unsearchableAt"),
        gone_ms=since_requested("destroyedAt"),
        copies_undecryptable_at=datetime.fromisoformat(receipt["copiesUndecryptableAt"]),
        recipients_to_notify=receipt["recipientsToNotify"],
        signed=signed,
    )

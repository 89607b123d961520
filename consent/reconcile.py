"""Start-up reconciliation: the index is a cache of the ledger, never the other way round.

A crash between a ledger commit and an index write can leave a vector without a consent, or a
consented template out of the index. Here index entries the ledger does not allow are removed,
and allowed templates missing from the index are decrypted and added back. Nothing is rebuilt
from scratch, so start-up stays fast at scale.

Where the index must be filled (a saved file that did not open: every template goes back in),
the hnswlib graph build takes minutes at 50,000 templates; it runs with no write lock, from
short read snapshots (:func:`build_from_snapshot`), so other workers' writes, erasures
included, go on meanwhile. Then, under the write lock, the index is compared with the ledger
again and only the difference applied (:func:`_bring_in_line`): what an erasure or a
withdrawal committed during the build removed, what was enrolled meanwhile added, every kept
entry's seal checked again, and the index saved. So once the start answers the index holds
exactly the sealed, decryptable templates the ledger allows, as if built under the lock.

Erasures come first, and not only those a crash interrupted (subject already excluded): a
subject whose last consent ended without the erasure that must follow is erased here too. A
withdrawal committed just before a crash, or a consent that expired while the sweep was killed
or the server down, would otherwise leave template rows that the index may not hold and that
nothing allows keeping, until some later sweep. Likewise the templates of a consent that ended
while another keeps their subject are destroyed here. After this, every template row is in the
index or belongs to another model (kept for re-enrolment, see ``indexable_labels``).

Before anything else, the erasures the journal in the witness directory records and this
database does not (a copy restored from before them, see :mod:`consent.erasure_journal`) are
made again, with the withdrawals of consents and of purposes, the API-key revocations, the
admin keys' passkeys bound, the opt-outs of 1:N search and the regulators' orders placed or
lifted it records (:mod:`consent.order_replay`).

A template whose seal fails (written, moved to another subject or consent, in the database
without the key store: :mod:`consent.row_seals`) or whose ciphertext does not open under its
subject's key (or whose subject's wrapped key does not open) is left out of the index, the
service starts, and the rows left out are chained (``authority_mismatch``, by template id
only) and logged as an error, once for as long as they stay the same; the row itself is kept
for the operator to look at (an erasure of the subject it was sealed for still destroys it).

Subject keys wrapped under an epoch key that no longer exists (a copy of the data restored
from before an epoch rotation) can never be unwrapped again: their templates are destroyed and
the subjects kept, to enrol again (``subject_keys_lost``).

The WAL is checkpointed first: an erasure whose process died between its commit and its
checkpoint left the deleted pages' old copies there, and its receipt says they go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from optinface.consent import (
    admin_mfa,
    apikeys,
    break_glass,
    erasure_journal,
    order_replay,
    purpose_withdrawal,
)
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.authority import Mismatch, report
from optinface.consent.erasure import (
    Erasures,
    destroy_ended_templates,
    destroy_lost_keys,
    destroy_templates,
    erase_each,
    finish_interrupted,
)
from optinface.consent.keys import KeyRing
from optinface.consent.ledger import decrypt_template
from optinface.consent.policies import indexable_labels, subjects_with_consent_ended
from optinface.consent.row_seals import template_row_sealed, template_seal_rows
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ReconcileReport
from optinface.consent.tables import AuditEvent, SubjectKey, Template

logger = logging.getLogger(__name__)


class ReconcileStopped(Exception):
    """``stopped`` said so between two steps of :func:`reconcile`: the service closed, and
    the rest (each step is one or more transactions of its own) is the next start's."""


def reconcile(
    runtime: Runtime, *, model_id: str, index_discarded: str | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> ReconcileReport:
    """Bring the index in line with the ledger and record what changed in the audit log.

    In named steps: the erasure journal replayed (:func:`_replay_journal`), the consents
    ended erased (:func:`_erase_ended`), what can no longer be indexed destroyed
    (:func:`_destroy_unindexable`), the index built from a read snapshot with no lock held
    (:func:`build_from_snapshot`), then brought in line under the write lock
    (:func:`_bring_in_line`), where the ``reconciled`` event is chained.

    Args:
        index_discarded: Why the saved index file was unusable and deleted, if it was; the
            index then starts empty and every allowed template is re-added.
        stopped: Asked before each step: a replay of the journal while the service runs
            (:mod:`consent.live_replay`) stops there once the service has closed its
            database and key store, rather than sign receipts or change the index after.

    Raises:
        ReconcileStopped: ``stopped`` said so before a step.
    """
    _go_on(stopped)
    now = runtime.clock.now()
    runtime.db.checkpoint()
    replayed = _replay_journal(runtime)
    _go_on(stopped)
    ended = _erase_ended(runtime, now=now)
    _go_on(stopped)
    destroyed = _destroy_unindexable(runtime, now=now)
    _go_on(stopped)
    built = build_from_snapshot(runtime, model_id=model_id, now=now)
    _go_on(stopped)
    with runtime.db.transaction() as session:
        indexed = _bring_in_line(runtime, session, model_id=model_id, now=now, built=built)
        report = ReconcileReport(
            **indexed, **replayed.counts, **ended.counts, **destroyed.counts,
            erasures_unfinished=(replayed.erased + ended.erased).unfinished,
            index_discarded=index_discarded)
        runtime.audit(
            session,
            Entry(action=AuditAction.RECONCILED, actor=None, details=report.model_dump()),
        )
    if report.templates_destroyed or report.subject_keys_lost or report.templates_replayed:
        runtime.db.checkpoint()
    return report


def _go_on(stopped: Callable[[], bool]) -> None:
    """Between two steps of :func:`reconcile`.

    Raises:
        ReconcileStopped: ``stopped`` says so.
    """
    if stopped():
        raise ReconcileStopped


@dataclass(frozen=True, slots=True)
class _Step:
    """What a step of :func:`reconcile` did: its erasures, and its fields of the report."""

    counts: dict[str, int]
    erased: Erasures = field(default_factory=Erasures)


def _replay_journal(runtime: Runtime) -> _Step:
    """A restored copy first loses every subject erased after it was taken, then what else the
    journal ended since (withdrawals, revocations, opt-outs, orders...) is ended again."""
    journal = runtime.journal_ends.entries()  # parsed once, taken up by the ends
    replayed = erasure_journal.pending(runtime, journal)
    # One erasure that raises stops none of the others, nor the start (erasure.erase_each).
    erased = erase_each(runtime, replayed, actor=None, journaled=True)
    with runtime.db.transaction() as session:
        withdrawals = erasure_journal.pending_withdrawals(journal, session)
        purposes = purpose_withdrawal.withdraw_again(runtime, journal, session)
        revocations = apikeys.revoke_again(journal, session, keys=runtime.keys)
        break_glass_openings = break_glass.chain_again(runtime, journal, session)
        admin_passkeys = admin_mfa.bind_again(runtime, journal, session)
        opt_outs, alternatives = erasure_journal.choices_again(runtime, journal, session)
        orders, order_lifts = order_replay.replay(runtime, journal, session)
        templates = destroy_templates(
            runtime, session, erasure_journal.pending_templates(runtime, journal, session)
        ).templates
    return _Step(erased=erased, counts={
        "erasures_replayed": len(replayed), "withdrawals_replayed": len(withdrawals),
        "templates_replayed": templates, "purpose_withdrawals_replayed": purposes,
        "revocations_replayed": revocations, "break_glass_replayed": break_glass_openings,
        "admin_passkeys_replayed": admin_passkeys, "opt_outs_replayed": opt_outs,
        "alternatives_replayed": alternatives, "orders_replayed": orders,
        "order_lifts_replayed": order_lifts})


def _erase_ended(runtime: Runtime, *, now: datetime) -> _Step:
    """Finish the erasures a crash interrupted, then erase every subject whose last consent
    ended without the erasure that must follow."""
    interrupted = finish_interrupted(runtime, actor=None)
    with runtime.db.transaction() as session:
        ended = subjects_with_consent_ended(session, now=now)
    return _Step(erased=interrupted + erase_each(runtime, ended, actor=None), counts={
        "erasures_completed": len(interrupted.receipts), "consents_ended_erased": len(ended)})


def _destroy_unindexable(runtime: Runtime, *, now: datetime) -> _Step:
    """Destroy the templates whose subject key's epoch is gone and those whose own consent
    ended while another keeps their subject: before the build, which so never reads them."""
    with runtime.db.transaction() as session:
        lost = _destroy_unreadable(runtime, session)
        destroyed = destroy_ended_templates(runtime, session, now=now, actor=None)
    return _Step(counts={"subject_keys_lost": lost, "templates_destroyed": destroyed})


def build_from_snapshot(runtime: Runtime, *, model_id: str, now: datetime) -> set[int]:
    """Add to the index the templates the ledger allows and the index lacks, as read snapshots
    of the ledger hold them, with no write lock: the labels it added.

    A whole rebuild (an index file that did not open) is an hnswlib graph build of every
    template, minutes at 50,000: under the write lock, every other worker's write would wait
    for it, erasures included. Here the labels are read once, then each :data:`CHUNK` is read,
    checked and added (:func:`index_templates`) in a short read of its own, so no snapshot is
    held for the whole build either. What commits meanwhile (an erasure, a withdrawal, an
    enrolment through another worker) is left to :func:`_bring_in_line`, which compares the
    index with the ledger again under the lock. After each chunk, :data:`between_chunks`.
    """
    with runtime.db.reading() as session:
        wanted = sorted(indexable_labels(session, model_id=model_id, now=now)
                        - runtime.index.labels())
    for start in range(0, len(wanted), CHUNK):
        with runtime.db.reading() as session:
            index_templates(runtime, session, wanted[start:start + CHUNK])
        between_chunks(runtime)
    return runtime.index.labels() & set(wanted)


def _no_pause(runtime: Runtime) -> None:
    """Nothing between two chunks of the build."""


between_chunks: Callable[[Runtime], None] = _no_pause
"""Called by :func:`build_from_snapshot` after each chunk it added, no transaction open: the
seam through which a test has another worker commit an erasure or an enrolment while a start's
build runs (``tests/consent/test_rebuild_snapshot.py``). The service never sets it."""


def _bring_in_line(runtime: Runtime, session: Session, *, model_id: str, now: datetime,
                   built: set[int]) -> dict[str, int]:
    """Under the write lock (``session``), make the index hold exactly the sealed, decryptable
    templates the ledger allows now, and save it: remove what it may not hold (erased,
    withdrawn or no longer sealed since the build, or never allowed), add what it lacks
    (enrolled since the build; a start that did not rebuild: what a crash kept out). Every
    kept entry's seal is checked again here (one keyed hash each, no ciphertext read), so a
    row changed during the build is judged as it is now. Saved here, under the lock, so no
    file saved holds what an erasure committed during the build. The report's index fields.
    """
    indexable = indexable_labels(session, model_id=model_id, now=now)
    present = runtime.index.labels()
    # Each seal checked here once: the entries kept, the templates added by index_templates.
    unsealed = unsealed_labels(runtime.keys, session, present & indexable)
    extra = (present - indexable) | unsealed
    missing = indexable - present
    if extra:
        runtime.index.remove(extra)
    left_out = index_templates(runtime, session, missing)
    unsealed |= left_out.unsealed
    re_added = (len(built - extra) + len(missing) - len(left_out.unsealed)
                - len(left_out.unreadable))
    if extra or re_added:
        runtime.index.save()
    _report_left_out(runtime, session, Mismatch.TEMPLATE, unsealed)
    _report_left_out(runtime, session, Mismatch.UNREADABLE, left_out.unreadable)
    return {"ledger_templates": len(indexable - unsealed), "index_entries": runtime.index.count(),
            "removed": len(extra - built), "re_added": re_added,
            "templates_left_out": len(unsealed) + len(left_out.unreadable)}


@dataclass(slots=True)
class LeftOut:
    """The templates :func:`index_templates` left out of the index, by why: filled in as the
    templates are read (:func:`decrypted_templates`), so not frozen."""

    unsealed: set[int] = field(default_factory=set)  # the seal fails
    unreadable: set[int] = field(default_factory=set)  # the subject key or ciphertext does not open


def index_templates(runtime: Runtime, session: Session, labels: Collection[int]) -> LeftOut:
    """Add to the index the templates ``labels`` names (those still in the ledger), each only
    once its seal is checked and its ciphertext opened under its subject's key; those whose
    seal fails or whose subject key or ciphertext does not open are left out, for the caller
    to report. Start-up reconciliation (a whole rebuild, when the index file did not open) and
    the replicas' change feed use it.

    :data:`CHUNK` templates at a time (:func:`decrypted_templates`), each chunk going into the
    index in one insertion (hnswlib's threads).
    """
    left_out = LeftOut()
    for added, vectors in decrypted_templates(runtime, session, labels, left_out=left_out):
        runtime.index.add(added, vectors)
    return left_out


def index_as_in_ledger(runtime: Runtime, labels: Collection[int]) -> None:
    """After a writing transaction that changed the index failed (rolled back, or its commit
    refused), make the index hold of ``labels`` what the ledger holds: a replaced template
    whose destruction was rolled back is found again at once, not at the next start's
    reconciliation, and a new one the ledger did not keep is not found.

    In a writing transaction of its own, so serialised with every other write: an erasure of
    the replaced template, or an enrolment handed the same id again, is either seen here or
    comes after. Each label is removed, then added again from the ledger only if the index may
    hold it now, by the rule reconciliation and the replicas follow
    (:func:`consent.policies.indexable_labels`: its subject active, its own consent in force),
    and its row is sealed and opens (:func:`index_templates`). So an erasure's first step (the
    subject excluded, its vectors removed) or a consent that ended, committed between the
    failure and this repair, is not undone: the template stays out of the index while its rows
    wait for the erasure's destroying step. If even that fails (the ledger unreachable), it is
    logged and the start's reconciliation does it. Called by :mod:`consent.enrolment`.
    """
    try:
        with runtime.db.transaction() as session:
            runtime.index.remove(labels)
            index_templates(runtime, session, indexable_labels(
                session, model_id=runtime.pipeline.model_id, now=runtime.clock.now(),
                among=labels))
    except Exception:
        logger.exception("the index could not be brought back in line with the ledger for"
                         " templates %s after a failed enrolment: the next start does it",
                         sorted(labels))


def decrypted_templates(
    runtime: Runtime, session: Session, labels: Collection[int], *, left_out: LeftOut
) -> Iterator[tuple[list[int], NDArray[np.float32]]]:
    """The protected vectors of the templates ``labels`` names (those still in the ledger),
    :data:`CHUNK` at a time: their ids and one row each, only once the template's seal is
    checked and its ciphertext opened under its subject's key; those that fail go into
    ``left_out``. One query a chunk reads the seals' fields, ciphertexts and wrapped subject
    keys; each subject's key is unwrapped once; each chunk's plaintext is zeroed when the
    caller asks for the next (or stops).
    """
    data_keys: dict[int, bytes] = {}
    wanted = sorted(labels)
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(_template_rows().where(
            Template.id.in_(wanted[start:start + CHUNK]))).all()
        opened: list[int] = []
        vectors = np.zeros((len(rows), runtime.index.dim), dtype=np.float32)
        try:
            for row in rows:
                if not template_row_sealed(runtime.keys, row):
                    left_out.unsealed.add(row.id)
                    continue
                try:
                    vectors[len(opened)] = decrypt_template(
                        row, key=_data_key(runtime.keys, row, data_keys))
                except ValueError:  # no key, a forged one, or bound to another id, subject or model
                    left_out.unreadable.add(row.id)
                    continue
                opened.append(row.id)
            if opened:
                yield opened, vectors[:len(opened)]
        finally:
            vectors.fill(0)


def _template_rows() -> Select[Any]:
    """What each template's seal covers (:func:`row_seals.template_seal_rows`), with what
    opens it: its ciphertext and its subject's wrapped key (None where there is none)."""
    return template_seal_rows().add_columns(
        Template.subject_id, Template.nonce, Template.ciphertext, SubjectKey.wrapped,
        SubjectKey.epoch).outerjoin(SubjectKey, SubjectKey.subject_id == Template.subject_id)


def _data_key(keyring: KeyRing, row: Row[Any], unwrapped: dict[int, bytes]) -> bytes:
    """The data key of ``row``'s subject, unwrapped at its first template (kept in
    ``unwrapped``).

    Raises:
        ValueError: The subject has no key, or its wrapped key does not open.
    """
    key = unwrapped.get(row.subject_id)
    if key is None:
        if row.wrapped is None:
            raise ValueError(f"subject {row.subject_id} has no key")
        key = unwrapped[row.subject_id] = keyring.unwrap(
            row.wrapped, subject_id=row.subject_id, pseudonym=row.pseudonym, epoch=row.epoch)
    return key


def unsealed_labels(keys: KeyRing, session: Session, labels: Collection[int]) -> set[int]:
    """Those of ``labels`` whose template is not sealed as its subject's under its consent
    (:func:`row_seals.template_row_sealed`): one keyed hash each, no ciphertext read."""
    found = template_seal_rows()
    wanted = sorted(labels)
    return {row.id for start in range(0, len(wanted), CHUNK)
            for row in session.execute(found.where(Template.id.in_(wanted[start:start + CHUNK])))
            if not template_row_sealed(keys, row)}


CHUNK = 500
"""Templates per query (within every database's limit on bound parameters) and, when they are
added to the index, per insertion."""


def _report_left_out(runtime: Runtime, session: Session, problem: Mismatch,
                     labels: set[int]) -> None:
    """Chain (and log) the templates left out of the index for ``problem``, unless the last
    start's report of it named the same ones: said once, not at every start."""
    if not labels:
        return
    ids = sorted(labels)
    reported = session.scalars(select(AuditEvent.details).where(
        AuditEvent.action == str(AuditAction.AUTHORITY_MISMATCH)).order_by(AuditEvent.seq.desc()))
    last = next((details for details in reported if isinstance(details, dict)
                 and details.get("use") == LEFT_OUT and details.get("mismatch") == str(problem)),
                None)
    if last is not None and last.get("template_ids") == ids:
        return
    report(runtime, session, actor=None, row_id=None, problem=str(problem), use=LEFT_OUT,
           purpose=None, templates=ids)


LEFT_OUT = "index"
"""The use a template left out of the index at start is reported under."""


def _destroy_unreadable(runtime: Runtime, session: Session) -> int:
    """Destroy templates whose subject key's epoch key is gone; return how many keys were."""
    epochs = runtime.keys.store.epochs()
    return destroy_lost_keys(runtime, session, set(session.scalars(
        select(SubjectKey.subject_id).where(SubjectKey.epoch.not_in(epochs)))))

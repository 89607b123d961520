"""Start-up reconciliation: the index is a cache of the ledger, never the other way round.

A crash between a ledger commit and an index write can leave a vector without a consent, or a
consented template out of the index. Here index entries the ledger does not allow are removed,
and allowed templates missing from the index are decrypted and added back. Nothing is rebuilt
from scratch, so start-up stays fast at scale.

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
admin keys' passkeys bound and the opt-outs of 1:N search it records.

Subject keys wrapped under an epoch key that no longer exists (a copy of the data restored
from before an epoch rotation) can never be unwrapped again: their templates are destroyed and
the subjects kept, to enrol again (``subject_keys_lost``).

The WAL is checkpointed first: an erasure whose process died between its commit and its
checkpoint left the deleted pages' old copies there, and its receipt says they go.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from optinface.consent import (
    admin_mfa,
    apikeys,
    break_glass,
    erasure_journal,
    purpose_withdrawal,
)
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.erasure import (
    destroy_ended_templates,
    destroy_templates,
    erase_each,
    excluded_subjects,
)
from optinface.consent.keys import KeyRing
from optinface.consent.ledger import decrypt_template
from optinface.consent.policies import indexable_labels, subjects_with_consent_ended
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ErasureReason, ReconcileReport
from optinface.consent.tables import Subject, SubjectKey, Template


def reconcile(
    runtime: Runtime, *, model_id: str, index_discarded: str | None = None
) -> ReconcileReport:
    """Bring the index in line with the ledger and record what changed in the audit log.

    Args:
        index_discarded: Why the saved index file was unusable and deleted, if it was; the
            index then starts empty and every allowed template is re-added.
    """
    now = runtime.clock.now()
    runtime.db.checkpoint()
    # A restored copy first loses every subject erased after it was taken.
    journal = erasure_journal.entries(runtime.settings.witness_dir)  # read once
    replayed = erasure_journal.pending(runtime, journal)
    erase_each(runtime, replayed, actor=None, journaled=True)
    with runtime.db.transaction() as session:
        withdrawals_replayed = erasure_journal.pending_withdrawals(journal, session)
        purposes_replayed = purpose_withdrawal.withdraw_again(journal, session)
        revocations_replayed = apikeys.revoke_again(journal, session)
        break_glass_replayed = break_glass.chain_again(runtime, journal, session)
        admin_passkeys_replayed = admin_mfa.bind_again(runtime, journal, session)
        opt_outs_replayed, alternatives_replayed = erasure_journal.choices_again(
            runtime, journal, session)
        templates_replayed = destroy_templates(
            runtime, session, erasure_journal.pending_templates(runtime, journal, session)
        ).templates
    with runtime.db.transaction() as session:
        interrupted = [
            (pseudonym, ErasureReason(session.scalar(
                select(Subject.erasure_reason).where(Subject.pseudonym == pseudonym))
                or ErasureReason.REQUEST))
            for pseudonym in excluded_subjects(session)
        ]
        ended = subjects_with_consent_ended(session, now=now)
    erase_each(runtime, interrupted + ended, actor=None)
    with runtime.db.transaction() as session:
        lost = _destroy_unreadable(runtime, session)
        templates_destroyed = destroy_ended_templates(runtime, session, now=now, actor=None)
        allowed = indexable_labels(session, model_id=model_id, now=now)
        present = runtime.index.labels()
        extra = present - allowed
        missing = sorted(allowed - present)
        if extra:
            runtime.index.remove(extra)
        if missing:
            index_templates(runtime, session, missing)
        if extra or missing:
            runtime.index.save()
        report = ReconcileReport(
            ledger_templates=len(allowed),
            index_entries=runtime.index.count(),
            removed=len(extra),
            re_added=len(missing),
            erasures_completed=len(interrupted),
            consents_ended_erased=len(ended),
            templates_destroyed=templates_destroyed,
            subject_keys_lost=lost,
            erasures_replayed=len(replayed),
            withdrawals_replayed=len(withdrawals_replayed),
            templates_replayed=templates_replayed,
            purpose_withdrawals_replayed=purposes_replayed,
            revocations_replayed=revocations_replayed,
            break_glass_replayed=break_glass_replayed,
            admin_passkeys_replayed=admin_passkeys_replayed,
            opt_outs_replayed=opt_outs_replayed,
            alternatives_replayed=alternatives_replayed,
            index_discarded=index_discarded,
        )
        runtime.audit(
            session,
            Entry(action=AuditAction.RECONCILED, actor=None, details=report.model_dump()),
        )
    if templates_destroyed or lost or templates_replayed:
        runtime.db.checkpoint()
    return report


def index_templates(runtime: Runtime, session: Session, labels: Collection[int]) -> int:
    """Decrypt the templates ``labels`` names (those still in the ledger) and add them to the
    index; how many were added. Start-up reconciliation and the replicas' change feed use it."""
    templates = list(session.scalars(select(Template).where(Template.id.in_(list(labels)))))
    if not templates:
        return 0
    keys = _data_keys(session, runtime.keys, {t.subject_id for t in templates})
    vectors = np.stack([decrypt_template(t, key=keys[t.subject_id]) for t in templates])
    runtime.index.add([t.id for t in templates], vectors)
    return len(templates)


def _destroy_unreadable(runtime: Runtime, session: Session) -> int:
    """Destroy templates whose subject key's epoch key is gone; return how many keys were."""
    epochs = runtime.keys.store.epochs()
    rows = list(session.scalars(select(SubjectKey).where(SubjectKey.epoch.not_in(epochs))))
    if not rows:
        return 0
    subject_ids = [row.subject_id for row in rows]
    labels = list(session.scalars(select(Template.id).where(
        Template.subject_id.in_(subject_ids))))
    destroy_templates(runtime, session, labels)
    session.execute(delete(SubjectKey).where(SubjectKey.subject_id.in_(subject_ids)))
    pseudonyms = list(session.scalars(select(Subject.pseudonym).where(
        Subject.id.in_(subject_ids))))
    runtime.audit(session, Entry(action=AuditAction.SUBJECT_KEYS_LOST, actor=None,
                                 subjects=pseudonyms,
                                 details={"subject_keys": len(rows), "templates": len(labels)}))
    return len(rows)


def _data_keys(session: Session, keyring: KeyRing, subject_ids: set[int]) -> dict[int, bytes]:
    rows = session.scalars(select(SubjectKey).where(SubjectKey.subject_id.in_(subject_ids)))
    return {row.subject_id: keyring.unwrap(row.wrapped, subject_id=row.subject_id,
                                           epoch=row.epoch) for row in rows}

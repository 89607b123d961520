"""Consents: giving one (with its signed receipt), withdrawing one, and probe consents.

A withdrawal takes effect in its own transaction: the templates enrolled under the consent are
destroyed with it, and a subject left with no consent in force is erased at once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from optinface.consent import erasure_journal, ledger, policies
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import canonical_json
from optinface.consent.erasure import destroy_templates, erase_subject
from optinface.consent.errors import InvalidRequest
from optinface.consent.receipts import receipt_for_consent
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    ConsentCreate,
    ConsentGiven,
    ConsentPublic,
    ErasureReason,
    ProbeConsentCreate,
    ProbeConsentPublic,
    WithdrawalResult,
)
from optinface.consent.tables import Consent, ConsentStatus, Template


def public(runtime: Runtime, consent: Consent) -> ConsentPublic:
    """The consent as the API shows it, with its status now and its signed receipt."""
    return ledger.consent_public(consent, public_key=runtime.keys.public_key,
                                 status=policies.consent_status(consent, now=runtime.clock.now()))


def give(runtime: Runtime, *, actor: Actor, pseudonym: str, body: ConsentCreate) -> ConsentGiven:
    """Record an express consent to some purposes under a notice, and sign its receipt."""
    now = runtime.clock.now()
    max_days = runtime.settings.max_consent_days
    if body.expires_at <= now or body.expires_at > now + timedelta(days=max_days):
        raise InvalidRequest(f"a consent must expire in the future and within {max_days} days",
                             details={"max_consent_days": max_days})
    with runtime.db.transaction() as session:
        subject = ledger.get_subject(session, pseudonym, keys=runtime.keys)
        policies.require_capacity(subject, body.given_by, runtime.settings)
        policies.require_written_release(subject, body.method)
        purposes = [ledger.get_purpose(session, p) for p in dict.fromkeys(body.purposes)]
        notice = ledger.get_notice(session, body.notice_id)
        consent = ledger.record_consent(session, subject=subject, body=body, purposes=purposes,
                                        notice=notice, now=now)
        consent.receipt = receipt_for_consent(consent, subject=subject, purposes=purposes,
                                              notice=notice, settings=runtime.settings,
                                              public_key=runtime.keys.public_key)
        consent.receipt_signature = runtime.keys.sign(canonical_json(consent.receipt))
        subject.last_interaction_at = now
        runtime.audit(session, Entry(action=AuditAction.CONSENT_GIVEN, actor=actor,
                                     subjects=[pseudonym],
                                     details={"consent_id": consent.id,
                                              "purposes": [p.id for p in purposes],
                                              "given_by": consent.given_by}))
        given = public(runtime, consent)
    assert given.receipt is not None
    return ConsentGiven(consent=given, receipt=given.receipt)


def withdraw(runtime: Runtime, *, actor: Actor, pseudonym: str,
             consent_id: str) -> WithdrawalResult:
    """Withdraw at once; templates enrolled under it go now; no consent left: erase all."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        row = ledger.get_subject(session, pseudonym, keys=runtime.keys)
        consent = ledger.get_consent(session, subject=row, consent_id=consent_id)
        if consent.withdrawn_at is not None:
            # Withdrawing again changes nothing: the first withdrawal's time stays the record.
            return WithdrawalResult(consent=public(runtime, consent), templates_erased=0,
                                    subject_erased=False, erasure=None)
        # Journaled before it commits, so a restored copy of the data withdraws it again.
        erasure_journal.record(runtime.settings.witness_dir,
                               erasure_journal.Withdrawal(consent_id=consent_id, at=now))
        consent.status = ConsentStatus.WITHDRAWN
        consent.withdrawn_at = now
        row.last_interaction_at = now
        labels = set(session.scalars(select(Template.id).where(
            Template.consent_id == consent_id)))
        destroyed = destroy_templates(runtime, session, labels)
        remaining = [c for c in row.consents
                     if policies.consent_status(c, now=now) is ConsentStatus.ACTIVE]
        runtime.audit(session, Entry(action=AuditAction.CONSENT_WITHDRAWN, actor=actor,
                                     subjects=[pseudonym],
                                     details={"consent_id": consent_id,
                                              "templates_erased": destroyed.templates}))
        withdrawn = public(runtime, consent)
    runtime.db.checkpoint()
    erasure = None
    if not remaining:
        erasure = erase_subject(runtime, pseudonym=pseudonym, reason=ErasureReason.WITHDRAWAL,
                                actor=actor)
        withdrawn = withdrawn.model_copy(update={"subject": erasure.subject_hash,
                                                 "receipt": None, "guardian_name": None})
    return WithdrawalResult(consent=withdrawn, templates_erased=destroyed.templates,
                            subject_erased=erasure is not None, erasure=erasure)


def record_probe_consent(runtime: Runtime, *, actor: Actor,
                         body: ProbeConsentCreate) -> ProbeConsentPublic:
    """The consent of the person in a probe image: one search, one purpose."""
    if body.expires_at <= runtime.clock.now():
        raise InvalidRequest("a probe consent must expire in the future")
    with runtime.db.transaction() as session:
        probe = ledger.record_probe_consent(session, body, created_by=actor.key_id,
                                            now=runtime.clock.now())
        runtime.audit(session, Entry(action=AuditAction.PROBE_CONSENT_CREATED, actor=actor,
                                     purpose=body.purpose_id,
                                     details={"probe_consent_id": probe.id}))
        return ProbeConsentPublic.model_validate(probe)

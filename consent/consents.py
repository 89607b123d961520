"""Consents: giving one (with its signed receipt), withdrawing one; both signed by the person.

A withdrawal takes effect in its own transaction: the templates enrolled under the consent are
destroyed with it, and a subject left with no consent in force is erased at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from optinface.consent import (
    coming_of_age,
    consent_form,
    erasure_journal,
    ledger,
    ledger_alterations,
    passkeys,
    policies,
    receipt_key_in_force,
    retention_policy,
    subject_acts,
)
from optinface.consent.accountability import require_subject_accepted
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import canonical_json
from optinface.consent.erasure import (
    NOTHING,
    EndedConsent,
    destroy_with_end_receipts,
    erase_unless_kept,
    templates_gone,
)
from optinface.consent.errors import ChallengeInvalid
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.receipts import receipt_for_consent, stated_recipients
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    ConsentCapacity,
    ConsentGiven,
    ConsentMethod,
    ConsentPublic,
    ErasureReason,
    PasskeyResponse,
    WithdrawalResult,
)
from optinface.consent.tables import Consent, ConsentStatus, Subject, Template


def public(runtime: Runtime, consent: Consent, *, keys: ReceiptKeys) -> ConsentPublic:
    """The consent as the API shows it, with its status now and its signed receipt, served
    with the receipt ``keys`` the caller read once (on a shared ledger, each read of them is
    a key-store read)."""
    return ledger.consent_public(consent, public_key=keys,
                                 status=policies.consent_status(consent, now=runtime.clock.now()))


def all_public(subject: Subject, *, public_key: ReceiptKeys, now: datetime) -> list[ConsentPublic]:
    """The subject's consents as the API shows them, oldest first, each with its status at
    ``now``: what their list, their access export and a disclosed record show."""
    return [ledger.consent_public(c, public_key=public_key,
                                  status=policies.consent_status(c, now=now))
            for c in sorted(subject.consents, key=lambda c: c.obtained_at)]


def give(runtime: Runtime, *, actor: Actor, pseudonym: str,
         response: PasskeyResponse) -> ConsentGiven:
    """Record the consent the person signed with their passkey (see :mod:`consent.subject_acts`
    for the statement); its capacity is the signing credential's, and the receipt embeds the
    person's assertion before the controller signs it."""
    settings, now = runtime.settings, runtime.clock.now()
    with subject_acts.signed_act(runtime, pseudonym, response, act="consent", actor=actor,
                                 now=now) as (session, subject, signed):
        statement = signed.ceremony.statement or {}
        capacity = ConsentCapacity(signed.credential.capacity)
        policies.require_capacity(subject, capacity, settings, today=now.date(),
                                  keys=runtime.keys)
        require_subject_accepted(subject, settings)
        policies.require_written_release(subject, ConsentMethod.PASSKEY)
        purposes = [ledger.get_purpose(session, p) for p in statement["purposes"]]
        # The receipt states the rows' texts: they must be the uses the person read and signed.
        consent_form.require_purposes_as_signed(session, settings, statement.get("wording"),
                                                purposes)
        notice = ledger.get_notice(session, statement["notice"]["id"])
        if notice.sha256 != statement["notice"]["sha256"]:
            raise ChallengeInvalid("the notice changed since the challenge; sign again")
        policy = retention_policy.versioned(settings)
        if statement.get("retentionPolicy") != policy:
            raise ChallengeInvalid("the retention policy changed since the challenge; sign again",
                                   details={"retention_policy_sha256": policy["sha256"]})
        recipients = stated_recipients(settings)
        if statement.get("recipients", []) != recipients:  # told others than those now
            raise ChallengeInvalid("the recipients changed since the challenge; sign again")
        consent = ledger.record_consent(
            session, subject=subject, purposes=purposes, notice=notice, now=now,
            retention_policy_sha256=policy["sha256"],
            language=statement["notice"]["language"], method=ConsentMethod.PASSKEY,
            given_by=capacity, evidence=canonical_json(signed.evidence),
            expires_at=datetime.fromisoformat(statement["expiresAt"]))
        if capacity is ConsentCapacity.PARENTAL_AUTHORITY:
            consent.guardian_until = policies.guardian_until(subject, settings)
        taken_over = coming_of_age.take_over(session, subject, consent, keys=runtime.keys,
                                               now=now)
        ring = receipt_key_in_force.in_force(runtime)  # never a key another process retired
        consent.receipt = receipt_for_consent(consent, subject=subject, purposes=purposes,
                                              notice=notice, settings=settings,
                                              retention_policy=policy,
                                              recipients=recipients,
                                              public_key=ring.public_key,
                                              subject_signature=signed.evidence)
        consent.receipt_signature = ring.sign(canonical_json(consent.receipt))
        subject.last_interaction_at = now
        runtime.audit(session, Entry(action=AuditAction.CONSENT_GIVEN, actor=actor,
                                     subjects=[pseudonym],
                                     details={"consent_id": consent.id,
                                              "purposes": [p.id for p in purposes],
                                              "given_by": consent.given_by,
                                              "takes_over": taken_over.consents,
                                              "templates_taken_over": taken_over.templates,
                                              "credential_hash": passkeys.audit_reference(
                                                  runtime.keys, signed.credential)}))
        given = public(runtime, consent, keys=ring.loaded_receipt_keys)
    assert given.receipt is not None
    return ConsentGiven(consent=given, receipt=given.receipt)


def withdraw(runtime: Runtime, *, actor: Actor, pseudonym: str, consent_id: str,
             response: PasskeyResponse) -> WithdrawalResult:
    """Withdraw at once, signed by the person like the consent; templates enrolled under it go
    now; no consent left: erase all.

    The erasure runs in transactions of its own, after the withdrawal's: it asks again whether
    a consent is in force (one given meanwhile keeps the subject), and a withdrawal repeated
    while no consent is left finishes it (a repeat that came between the two, or after a
    crash between them), so no answer says the record is kept when it is going.
    """
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        row = ledger.get_subject(session, pseudonym, runtime=runtime)
        consent = ledger.get_consent(session, subject=row, consent_id=consent_id)
        repeated = consent.withdrawn_at is not None
        if repeated:
            # Withdrawing again changes nothing: the first withdrawal's time stays the record.
            destroyed = NOTHING
            keys = runtime.keys.receipt_keys
        else:
            keys = subject_acts.sign_withdrawal(session, runtime, row, consent, actor=actor,
                                                response=response, now=now)
            # Journaled before it commits, so a restored copy of the data withdraws it again.
            erasure_journal.record(runtime,
                                   erasure_journal.Withdrawal(consent_id=consent_id, at=now))
            consent.status = ConsentStatus.WITHDRAWN
            consent.withdrawn_at = now
            row.last_interaction_at = now
            labels = set(session.scalars(select(Template.id).where(
                Template.consent_id == consent_id)))
            destroyed = destroy_with_end_receipts(
                runtime, session, [EndedConsent(consent, row.id, pseudonym, labels)])
            runtime.audit(session, Entry(action=AuditAction.CONSENT_WITHDRAWN, actor=actor,
                                         subjects=[pseudonym],
                                         details={"consent_id": consent_id,
                                                  "templates_erased": destroyed.templates}))
            # Before the person is told: the consent is withdrawn and its templates gone, as
            # the ledger holds them, and nothing on its tables can undo that at the commit.
            ledger_alterations.require_held(session, [
                (Consent.__tablename__, (Consent.id == consent_id) & or_(
                    Consent.status != ConsentStatus.WITHDRAWN, Consent.withdrawn_at.is_(None))),
                *templates_gone(labels)])
        withdrawn = public(runtime, consent, keys=keys)
        # A consent still in force keeps the subject; only another withdrawal can end it, and
        # that one erases. None left: the erasure asks again in its own transaction.
        due = policies.erasure_due(row, runtime.settings, now=now) is not None
    if not repeated:
        runtime.db.checkpoint()
    erasure = erase_unless_kept(runtime, pseudonym=pseudonym, reason=ErasureReason.WITHDRAWAL,
                                actor=actor, destroyed_before=destroyed) if due else None
    if erasure is not None:
        withdrawn = withdrawn.model_copy(update={"subject": erasure.subject_hash, "receipt": None,
                                                 "end_receipt": None, "guardian_name": None})
    return WithdrawalResult(consent=withdrawn, templates_erased=destroyed.templates,
                            subject_erased=erasure is not None, erasure=erasure)

"""Handing a subject's record to a recipient: the use case of a disclosure.

The rules (who may disclose on which basis, to where, what is recorded, what is handed over)
are :mod:`consent.disclosures`'. Here they meet in one transaction: the subject is found, a
recipient outside the area whose law protects them refused without the controller's document
(before any signature is spent), the
person's signature checked when the basis is theirs (and the signer's capacity: below the age
of consent only the holder of parental authority), the disclosure recorded with that signature
and chained into the audit log, and the minimal record built, so nothing is handed over without
its record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from optinface.consent import consents, disclosures, ledger, policies, subject_acts
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.passkeys import Signed
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    ConsentCapacity,
    DisclosedConsent,
    DisclosedRecord,
    DisclosureCreate,
    DisclosureMade,
    DisclosurePublic,
    SubjectPublic,
)
from optinface.consent.settings import Jurisdiction
from optinface.consent.tables import Subject


def disclose(runtime: Runtime, *, actor: Actor, pseudonym: str,
             body: DisclosureCreate) -> DisclosureMade:
    """Record the disclosure and its audit event, and return it with the record to hand over.
    The caller has checked that ``actor`` may disclose on this basis
    (:func:`consent.disclosures.permission_for`)."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        subject = ledger.get_subject(session, pseudonym, runtime=runtime)
        left = disclosures.area_left(body, Jurisdiction(subject.jurisdiction))
        signed = _authorisation(session, runtime=runtime, subject=subject, body=body,
                                actor=actor, now=now)
        row = disclosures.record(session, pseudonym=pseudonym, body=body, actor=actor,
                                 area_left=left,
                                 evidence=signed.evidence if signed else None, now=now)
        runtime.audit(session, Entry(
            action=AuditAction.DISCLOSURE, actor=actor, subjects=[pseudonym],
            details={"disclosure_id": row.id, "recipient": row.recipient,
                     "legal_basis": row.legal_basis,
                     "document_reference": row.document_reference,
                     "recipient_country": row.recipient_country,
                     "recipient_region": row.recipient_region, "area_left": row.area_left,
                     "transfer_assessment": row.transfer_assessment,
                     "contents": list(disclosures.CONTENTS),
                     **(subject_acts.signature_reference(runtime, signed) if signed else {})}))
        return DisclosureMade(disclosure=DisclosurePublic.model_validate(row),
                              handed_over=handed_over(session, runtime=runtime, subject=subject,
                                                      now=now))


def handed_over(session: Session, *, runtime: Runtime, subject: Subject,
                now: datetime) -> DisclosedRecord:
    """The parts of the subject's data a recipient is handed (:data:`disclosures.CONTENTS`),
    from the same rows the access export reads, with less of them."""
    return DisclosedRecord(
        generated_at=now, controller_name=runtime.settings.controller_name,
        controller_contact=runtime.settings.controller_contact,
        subject=SubjectPublic.model_validate(subject),
        consents=[DisclosedConsent.model_validate(c) for c in consents.all_public(
            subject, public_key=runtime.keys.receipt_keys, now=now)],
        templates=ledger.templates_public(session, subject))


def _authorisation(session: Session, *, runtime: Runtime, subject: Subject,
                   body: DisclosureCreate, actor: Actor,
                   now: datetime) -> Signed | None:
    """For the person's own bases, their verified signature of this very disclosure, by whoever
    speaks for them today (the person, or below the age of consent the holder of parental
    authority); for the controller's, none (:func:`disclosures.require_signature_fits`)."""
    disclosures.require_signature_fits(body.legal_basis, signed=body.signed is not None)
    if body.signed is None:
        return None
    signed = subject_acts.complete(session, subject, body.signed, act=subject_acts.DISCLOSE,
                                   actor=actor, keys=runtime.keys, settings=runtime.settings,
                                   now=now)
    # Checked again here: the signer's capacity may have ended since the challenge.
    policies.require_capacity(subject, ConsentCapacity(signed.credential.capacity),
                              runtime.settings, today=now.date(), keys=runtime.keys)
    statement: dict[str, Any] = signed.ceremony.statement or {}
    disclosures.require_signed(statement, body)
    return signed

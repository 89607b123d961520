"""Disclosures: to whom a subject's data went, on which legal basis, under which document.

BIPA 15(d) lets biometric data be disclosed only (1) with the person's consent, (2) to complete
a financial transaction they asked for or authorised, (3) when the law requires it, or (4) under
a valid warrant or subpoena. Nothing is disclosed by default: each disclosure names one
:class:`~consent.schemas.DisclosureBasis`, its recipient and the document it rests on, and is
recorded here, and chained into the audit log, in the transaction that builds what is handed
over (:mod:`consent.handover`). What is handed over is the least that identifies the subject
and the consents their data rest on, :data:`CONTENTS` (GDPR art. 5(1)(c)): never a vector, nor
the person's earlier disclosures, requests, searches or log events.

Who may disclose follows the basis. The first two rest on the person's own authorisation: only
the person, signing a ``disclose`` act with their passkey (:mod:`consent.subject_acts`) that
names this recipient, basis, reference and the parts handed over; an operator key is refused
as for every personal act. Below the age of consent only the holder of parental authority signs,
and once the person reaches it the guardian no longer does (as for a consent). The signature is
kept on the row (``evidence``), verifiable offline like a consent receipt's. The last two are
the controller's obligation: an administrator's act (``disclose``), with no signature.

Where the recipient is counts too. A disclosure that takes the person's data out of the area
whose law protects them (Québec, where a communication outside Québec needs an assessment
first, P-39.1 s. 17; the EEA, where a transfer needs a GDPR chapter V safeguard) names the
controller's document allowing it, or is refused (``transfer_assessment_required``); the area
it left is recorded with it, so the person, the register's reader and a regulator see which
disclosures left. Which place is within which area is :mod:`consent.transfers`' rule, the one
the hosting is read by.

The subject's access export lists their disclosures. At erasure the rows stay as proof, naming
the tombstone hash instead of the pseudonym (like rights requests) and without the signature
(its statement names the pseudonym), and the erasure's receipt
names their recipients, whom the controller tells of the erasure (GDPR art. 19); they are
deleted with the erasure's other proof five years later (:mod:`consent.proof_retention`).
A rectification needs no notification: it replaces a template, and a template is never
disclosed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from optinface.consent import transfers
from optinface.consent.errors import ChallengeInvalid, InvalidRequest, TransferAssessmentRequired
from optinface.consent.ledger import new_id
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import (
    DisclosureBasis,
    DisclosureCreate,
    DisclosurePublic,
    DisclosureTerms,
)
from optinface.consent.settings import Jurisdiction
from optinface.consent.tables import Disclosure

PERSONS_OWN = frozenset({DisclosureBasis.CONSENT, DisclosureBasis.FINANCIAL_TRANSACTION})
"""The bases that rest on the person's own authorisation, signed with their passkey."""
RULE = ("a person's data are disclosed only on one of the four grounds of BIPA 15(d): their"
        " consent, a financial transaction they asked for or authorised, a requirement of law,"
        " or a valid warrant or subpoena; each disclosure is recorded with its recipient, ground"
        " and document, and shown to the person in their access export")
"""How disclosures happen, stated in the register (GDPR art. 30(1)(d)) and told at collection
and on /privacy (GDPR art. 13(1)(e)): the controller has no standing recipients by default,
but these grounds may oblige it to disclose. An English source string the pages translate."""
CONTENTS = ("controller", "subject", "consents", "templates")
"""The parts of :class:`~consent.schemas.DisclosedRecord` a recipient is handed, named in the
statement the person signs so that they sign what goes."""


def permission_for(basis: DisclosureBasis) -> Permission:
    """The person's own permission for :data:`PERSONS_OWN`, an administrator's for the rest."""
    return Permission.AUTHORISE_DISCLOSURE if basis in PERSONS_OWN else Permission.DISCLOSE


def require_signature_fits(basis: DisclosureBasis, *, signed: bool) -> None:
    """Refuse (``invalid_request``) a disclosure on the person's own basis without their
    signature, or one on the controller's with a signature (or a person asking to sign one):
    a signature there would be a person's word the controller does not rest on."""
    persons = basis in PERSONS_OWN
    if persons and not signed:
        raise InvalidRequest(f"a disclosure on {basis} is the person's act: it needs their"
                             " signed disclose act", details={"field": "signed"})
    if signed and not persons:
        raise InvalidRequest(f"a disclosure on {basis} is the controller's act: the person"
                             " signs none", details={"field": "signed"})


def area_left(body: DisclosureTerms, jurisdiction: Jurisdiction) -> str | None:
    """The area whose law protects the person that this disclosure takes their data out of,
    or ``None``; refused (``transfer_assessment_required``) when it leaves one and names no
    document allowing it."""
    left = transfers.area_left(jurisdiction, country=body.recipient_country,
                               region=body.recipient_region)
    if left is not None and body.transfer_assessment is None:
        raise TransferAssessmentRequired(
            f"the recipient is outside {left}: the controller's assessment or safeguard for"
            " communicating the data there comes first", details={"area": left})
    return left


def statement(body: DisclosureTerms) -> dict[str, Any]:
    """The fields of a ``disclose`` act the person signs (beside the act's common ones): the
    recipient and where they are, the basis, the document, the controller's document for data
    leaving the person's area, and what the recipient is handed."""
    return {"recipient": body.recipient, "recipientCountry": body.recipient_country,
            "recipientRegion": body.recipient_region, "legalBasis": str(body.legal_basis),
            "documentReference": body.document_reference,
            "transferAssessment": body.transfer_assessment, "contents": list(CONTENTS)}


def require_signed(signed: dict[str, Any], body: DisclosureCreate) -> None:
    """Refuse (``challenge_invalid``) a signature that authorises another disclosure."""
    if any(signed.get(k) != v for k, v in statement(body).items()):
        raise ChallengeInvalid("this signature authorises another disclosure")


def record(session: Session, *, pseudonym: str, body: DisclosureCreate, actor: Actor,
           area_left: str | None, evidence: dict[str, Any] | None, now: datetime) -> Disclosure:
    """Keep the disclosure, with the person's signature of it on their own bases: the proof the
    controller shows a regulator or the person that each disclosure had a BIPA 15(d) ground,
    flushed so the audit event and the reply can name its id."""
    row = Disclosure(id=new_id("dsc"), subject_ref=pseudonym, recipient=body.recipient,
                     legal_basis=str(body.legal_basis),
                     document_reference=body.document_reference,
                     recipient_country=body.recipient_country,
                     recipient_region=body.recipient_region, area_left=area_left,
                     transfer_assessment=body.transfer_assessment, disclosed_at=now,
                     disclosed_by=actor.key_id, evidence=evidence)
    session.add(row)
    session.flush()
    return row


def of_subject(session: Session, subject_ref: str) -> list[DisclosurePublic]:
    """The subject's disclosures, oldest first."""
    rows = session.scalars(select(Disclosure).where(Disclosure.subject_ref == subject_ref)
                           .order_by(Disclosure.disclosed_at, Disclosure.id))
    return [DisclosurePublic.model_validate(row) for row in rows]


def recipients_of(session: Session, subject_ref: str) -> list[str]:
    """Everyone the subject's data were disclosed to, once each, sorted: whom an erasure
    must be told to (GDPR art. 19)."""
    return sorted(set(session.scalars(
        select(Disclosure.recipient).where(Disclosure.subject_ref == subject_ref))))


class DisclosedTo(NamedTuple):
    """One recipient data went to on one ground, from one place, and how many times."""

    recipient: str
    legal_basis: DisclosureBasis
    country: str | None  # None for disclosures recorded before the place was asked
    area_left: str | None
    transfer_assessment: str | None
    times: int


def recipients_and_grounds(session: Session) -> list[DisclosedTo]:
    """Every recipient data were ever disclosed to (erased subjects' kept disclosures too), with
    each ground, place, area left and how many times, sorted: the recipients and transfers the
    record of processing states beyond the configured ones (GDPR art. 30(1)(d), (e)), naming
    no subject."""
    kept = (Disclosure.recipient, Disclosure.legal_basis, Disclosure.recipient_country,
            Disclosure.area_left, Disclosure.transfer_assessment)
    rows = session.execute(select(*kept, func.count()).group_by(*kept)
                           .order_by(*(func.coalesce(column, "") for column in kept)))
    return [DisclosedTo(recipient, DisclosureBasis(basis), country, left, assessment, count)
            for recipient, basis, country, left, assessment, count in rows]


def anonymise(session: Session, *, pseudonym: str, subject_hash: str) -> None:
    """At erasure: the disclosures stay as proof, naming the tombstone hash instead, and
    without the person's signature, whose statement names the pseudonym."""
    session.execute(update(Disclosure).where(Disclosure.subject_ref == pseudonym)
                    .values(subject_ref=subject_hash, evidence=None))

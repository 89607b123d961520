"""Authority: a consent row grants no more than the receipt its person signed.

Rows of the ledger can be written by whoever can write its database file (a SQL console, a
restored copy edited first), with no key at all. The receipt of each consent cannot: the
controller signs it with the signing key, held by the key store apart from the data
(:mod:`consent.keys`), and it embeds the person's own passkey signature over its purposes and
expiry (:mod:`consent.receipts`). So a use of a face that rests on a consent row also asks that
row's receipt, here, once per use: after a search, for each consent its nearest templates were
enrolled under (a few Ed25519 verifications per search, never one per gallery entry); at
enrolment, for the consent the photo is enrolled under. Each probe consent is asked the same of
its own receipt (:func:`probe_problem`).

A row may be *narrower* than its receipt, never wider. Legitimately narrower: a purpose
withdrawn (:mod:`consent.purpose_withdrawal` takes it out of the row and brings the retention
end nearer), a guardian's end (``guardian_until`` is set before the receipt is made, so the
receipt's termination already counts it), a withdrawal or an erasure (the row's status, which
the gates read first). Wider is tampering: a purpose the receipt does not name, or an end
(:attr:`Consent.ends_at`) later than the receipt's ``termination`` for that purpose.

Older receipts: every consent row ever written got its receipt in the transaction that wrote
it (``consent.consents.give``, and the service's consent call before it), under the receipt
key then in force: one replaced since (``optinface keys rotate-receipt-key``) still checks the
receipts it signed before its retirement (:mod:`consent.receipt_keys`). Receipts made
before the retention limit and the guardian's end existed state ``termination`` as the expiry
alone; a row's end is the earliest of its limits, so it is never later than that either. No
consent row in force lacks a receipt: the only rows without one are those of erased subjects,
whose receipts the erasure removed with the pseudonym (status ``erased``, granting nothing).
A row without a receipt is therefore not backed and grants nothing.

What this cannot stop: whoever also holds the key store can sign a receipt of their own making
(though not the person's passkey signature inside it, which ``optinface receipt verify`` checks
offline).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.errors import (
    RECEIPT_MISMATCH,
    ConsentError,
    ConsentNarrowed,
    ConsentRequired,
)
from optinface.consent.receipt_keys import ReceiptKeys, stated_time
from optinface.consent.receipts import verify_receipt
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.tables import Consent, ProbeConsent, PurposeWithdrawal

logger = logging.getLogger(__name__)


class Mismatch(StrEnum):
    """Why a row is not backed by its receipt: what the log and the audit event say."""

    NO_RECEIPT = "no_receipt"
    SIGNATURE = "signature_invalid"
    OTHER_ROW = "receipt_of_another_row"
    OTHER_SUBJECT = "receipt_of_another_subject"
    PURPOSE = "purpose_not_in_receipt"
    LATER_END = "ends_later_than_receipt"
    BINDING = "binding_not_in_receipt"
    OPT_IN = "opt_in_not_sealed"  # searchable, without the seal of a signed opt-in (row_seals)
    TEMPLATE = "template_not_sealed"  # not the subject, consent or model it was enrolled as
    UNREADABLE = "template_unreadable"  # its ciphertext does not open under its subject's key


def own_receipt(receipt: dict[str, Any] | None, signature: str | None, *, names_it: str,
                own: object, public_key: ReceiptKeys,
                subject: tuple[str, object] | None = None) -> dict[str, Any] | Mismatch:
    """A row's ``receipt``, signed by the service's key and naming the row (``own``, its id or
    its hash) in its ``names_it`` field, or why not: a receipt copied from another row is not
    this one's. With ``subject`` (a field and what it must hold), a receipt naming another
    subject there is not this one's either."""
    if receipt is None or signature is None:
        return Mismatch.NO_RECEIPT
    if not verify_receipt(receipt, signature, public_key):
        return Mismatch.SIGNATURE
    if receipt.get(names_it) != own:
        return Mismatch.OTHER_ROW
    if subject is not None and receipt.get(subject[0]) != subject[1]:
        return Mismatch.OTHER_SUBJECT
    return receipt


def _not_before(end: datetime, stated: object) -> bool:
    """``end`` is no later than the receipt's ``stated`` time (unreadable: not backed)."""
    limit = stated_time(stated)
    return limit is not None and end <= limit


def _terminations(consent: Consent, *, pseudonym: str,
                  public_key: ReceiptKeys) -> dict[object, object] | Mismatch:
    """Each purpose's termination as the consent's own receipt states it, or why no receipt of
    this row and this subject is there to state any."""
    receipt = own_receipt(consent.receipt, consent.receipt_signature, names_it="consentReceiptID",
                          own=consent.id, public_key=public_key,
                          subject=("piiPrincipalId", pseudonym))
    if isinstance(receipt, Mismatch):
        return receipt
    return {p.get("purposeId"): p.get("termination")
            for service in receipt.get("services", [])
            for p in service.get("purposes", [])}


def consent_problem(consent: Consent, *, pseudonym: str,
                    public_key: ReceiptKeys) -> Mismatch | None:
    """Why the consent row grants more than its signed receipt, or None when it is backed.

    ``pseudonym`` is the subject the row belongs to (the caller has it from the same query);
    ``public_key``: the service's receipt keys, from the key store (the one the receipt names
    among them: :meth:`consent.receipt_keys.ReceiptKeys.signer_of`), never a key named outside
    them.
    """
    terminations = _terminations(consent, pseudonym=pseudonym, public_key=public_key)
    if isinstance(terminations, Mismatch):
        return terminations
    for purpose in consent.purposes:
        if purpose.id not in terminations:
            return Mismatch.PURPOSE
        if not _not_before(consent.ends_at, terminations[purpose.id]):
            return Mismatch.LATER_END
    return None


def receipt_end(consent: Consent, *, pseudonym: str,
                public_key: ReceiptKeys) -> datetime | Mismatch:
    """How long the consent's own receipt lets it run: the earliest termination it states for
    the row's purposes it names (a row is never backed past it: :func:`consent_problem`), or
    why no receipt of this row and subject backs any of them, unreadable terminations included
    (nothing lets it run at all).

    The row's end (:attr:`Consent.ends_at`) stays the one definition of when a consent ends;
    this is what bounds it when the row was written wider than its person signed
    (:mod:`consent.receipt_ends`: the sweep ends a consent at the earlier of the two).
    """
    terminations = _terminations(consent, pseudonym=pseudonym, public_key=public_key)
    if isinstance(terminations, Mismatch):
        return terminations
    named = [stated_time(terminations[p.id]) for p in consent.purposes if p.id in terminations]
    if not named:
        return Mismatch.PURPOSE
    ends = [end for end in named if end is not None]
    return min(ends) if len(ends) == len(named) else Mismatch.LATER_END


def purposes_signed(session: Session, consent: Consent, *, pseudonym: str,
                    public_key: ReceiptKeys) -> list[str]:
    """The purposes ``consent`` still covers by its person's signatures: those its own receipt
    names, less those each of their purpose withdrawals took out (a withdrawal's receipt
    signed by the service and naming this consent and purpose; a row of another, or none,
    takes nothing out), sorted; what a purpose withdrawal decides what remains from.

    Raises:
        ConsentNarrowed: The row covers fewer (a purpose deleted by SQL), or no receipt of this
            row and subject backs it: the row alone would decide.
    """
    terminations = _terminations(consent, pseudonym=pseudonym, public_key=public_key)
    if isinstance(terminations, Mismatch):
        raise ConsentNarrowed(f"consent {consent.id} has no signed receipt to withdraw from",
                              details={"consent_id": consent.id, "mismatch": str(terminations)})
    withdrawn = set()
    for row in session.scalars(select(PurposeWithdrawal).where(
            PurposeWithdrawal.consent_id == consent.id)):
        receipt = own_receipt(row.receipt, row.receipt_signature, names_it="receiptID",
                              own=row.id, public_key=public_key)
        if not isinstance(receipt, Mismatch) and (
                receipt.get("withdrawnConsentID"), receipt.get("withdrawnPurposeID")) == (
                consent.id, row.purpose_id):
            withdrawn.add(row.purpose_id)
    signed = sorted(str(p) for p in terminations if p not in withdrawn)
    missing = sorted(set(signed) - {p.id for p in consent.purposes})
    if missing:
        raise ConsentNarrowed(
            f"consent {consent.id} covers fewer purposes than its person signed",
            details={"consent_id": consent.id, "missing_purposes": missing})
    return signed


def probe_problem(probe: ProbeConsent, *, subject: str | None,
                  public_key: ReceiptKeys) -> Mismatch | None:
    """Why the probe consent row is not what its person signed, or None when it is: the
    service's signature over a receipt naming this row, its purpose, image, researcher key and
    (a verify's) subject, ending no later than the row."""
    receipt = own_receipt(probe.receipt, probe.receipt_signature, names_it="probeConsentID",
                          own=probe.id, public_key=public_key, subject=("subject", subject))
    if isinstance(receipt, Mismatch):
        return receipt
    if (receipt.get("purposeId"), receipt.get("probeSha256"), receipt.get("researcherKeyId")) != (
            probe.purpose_id, probe.probe_sha256, probe.researcher_key_id):
        return Mismatch.BINDING
    if not _not_before(probe.expires_at, receipt.get("expiresISO")):
        return Mismatch.LATER_END
    return None


def require_backed(consent: Consent, *, pseudonym: str, public_key: ReceiptKeys) -> None:
    """Refuse (``consent_required``, problem ``receipt_mismatch``; chained and logged by
    :mod:`consent.refusals`) a use of ``consent`` its receipt does not back."""
    problem = consent_problem(consent, pseudonym=pseudonym, public_key=public_key)
    if problem is not None:
        raise ConsentRequired(
            f"consent {consent.id} grants more than its signed receipt",
            details={"consent_id": consent.id, "subject": pseudonym,
                     "problem": RECEIPT_MISMATCH, "mismatch": str(problem)})


def named_by(refusal: ConsentError) -> tuple[str, str] | None:
    """(the row, the mismatch) when ``refusal`` is for a consent or a probe consent its
    receipt does not back, else None: what :mod:`consent.refusals` reports."""
    details = refusal.details
    if details.get("problem") != RECEIPT_MISMATCH:
        return None
    row = details.get("consent_id", details.get("probe_consent_id"))
    return str(row), str(details.get("mismatch"))


def report(runtime: Runtime, session: Session, *, actor: Actor | None, row_id: str | None,
           problem: str, use: str, purpose: str | None, subjects: Sequence[str] = (),
           outcome: str = ConsentRequired.code, templates: Sequence[int] = ()) -> None:
    """Say it twice: an error line in the operator's log, and an ``authority_mismatch`` event
    in the chain (in ``session``), naming the consent (or probe consent; None for an opt-in,
    whose subject is named in ``subjects``, sealed like every subject, or for ``templates``,
    named by id) and the use refused under it (``outcome``: the refusal's code), never a face
    or a score."""
    what = (f"consent {row_id}" if row_id else
            f"template(s) {', '.join(map(str, templates))}" if templates else
            "an opt-in to search")
    logger.error("%s is not backed by what its person signed (%s): %s refused under it",
                 what, problem, use)
    details: dict[str, Any] = ({"mismatch": problem, "use": use}
                               | ({"consent_id": row_id} if row_id else {})
                               | ({"template_ids": list(templates)} if templates else {}))
    runtime.audit(session, Entry(action=AuditAction.AUTHORITY_MISMATCH, actor=actor,
                                 outcome=outcome, purpose=purpose, subjects=list(subjects),
                                 details=details))

"""Withdrawing one purpose of a consent, as easily as it was given.

A consent covers the purposes ticked together; the person may stop one and keep the others,
signing it with their passkey like any withdrawal (:mod:`consent.subject_acts`).
The purpose leaves the consent at once (every gate reads the consent's purposes, so no later
search or enrolment can use it), the controller signs a receipt the person keeps, and the audit
chain records it. Templates stay: they were enrolled under the consent, which still holds for
its other purposes. The consent's retention end is recomputed from the purposes it keeps, so
it can only come sooner.

Withdrawing the consent's last purpose is withdrawing the consent: :func:`narrow` refuses to
empty a consent and the service withdraws it whole instead (templates destroyed, and the
subject erased if it was their last consent); its withdrawal receipt names the purpose the
person's signature names (``withdrawnPurposeID``). When the subject remains,
:func:`record_ended` then gives that withdrawal its signed receipt too (purposes kept: none).
Which purpose is the last is decided from what the person signed (the consent's receipt less
their purpose withdrawals, :func:`consent.authority.purposes_signed`), never from the row
alone: a row narrowed by SQL would turn "stop this use" into "erase me", so it is refused
(``consent_narrowed``).

The erasure journal names each purpose taken out (the consent's and the purpose's random ids)
before it commits, so a copy of the ledger restored from before loses it again at start-up
(:func:`withdraw_again`). The copy lacks the signed withdrawal too, and what remains is decided
from the signed withdrawals: so the line also names the receipt's id and carries the key
store's seal over all of it (:func:`_journaled`), made only once the person's signature was
verified, and the replay of a line whose seal holds signs that receipt again for the copy
(``rebuiltFromJournal``). A line without a seal that holds (written before the seal, or by
whoever can write the witness folder but has not the key store) still takes the purpose out of
the row, erring on the side of the person, but backs no withdrawal: a later one on that consent
is then refused (``consent_narrowed``), as a row narrowed by SQL is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from optinface.consent import (
    authority,
    erasure_journal,
    ledger,
    ledger_alterations,
    passkeys,
    policies,
    receipt_key_in_force,
    row_seals,
    subject_acts,
)
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import canonical_json
from optinface.consent.db import in_chunks
from optinface.consent.errors import ChallengeInvalid, ConsentWithdrawn, NotFound
from optinface.consent.keys import KeyRing
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.receipts import CONSENT_RECEIPT_VERSION
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import PasskeyResponse, PurposeWithdrawalPublic, SignedReceipt
from optinface.consent.tables import (
    Consent,
    ConsentStatus,
    Purpose,
    PurposeWithdrawal,
    Subject,
    consent_purposes,
)


class Narrowed(NamedTuple):
    """A purpose withdrawn from a consent that keeps others, and the receipt keys the act read
    (once: on a shared ledger a key-store read), which the caller checks what it shows with."""

    withdrawal: PurposeWithdrawalPublic
    keys: ReceiptKeys


def narrow(
    runtime: Runtime, *, actor: Actor, pseudonym: str, consent_id: str, purpose_id: str,
    response: PasskeyResponse,
) -> Narrowed | None:
    """Take ``purpose_id`` out of the consent, as the person signed it (a ``withdraw`` act
    naming the purpose); None when it is the consent's only purpose (the caller withdraws the
    whole consent with the same signature). A purpose already withdrawn from it answers that
    withdrawal again, signing nothing, as a consent withdrawn twice does."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        consent = _active_consent(session, runtime, pseudonym, consent_id, now=now)
        # Read once for the act: its checks, its signature (never a key another process
        # retired), the receipt served and the consent kept, listed after (Narrowed.keys).
        ring = receipt_key_in_force.in_force(runtime)
        keys = ring.loaded_receipt_keys
        purpose = next((p for p in consent.purposes if p.id == purpose_id), None)
        if purpose is None:
            earlier = session.scalar(select(PurposeWithdrawal).where(
                PurposeWithdrawal.consent_id == consent_id,
                PurposeWithdrawal.purpose_id == purpose_id))
            if earlier is not None:
                # Withdrawing again changes nothing: the first withdrawal stays the record.
                return Narrowed(public(earlier, public_key=keys), keys)
        subject = consent.subject
        assert subject is not None  # an active consent has its subject
        # What remains is what the person signed less what they withdrew, never the row alone.
        signed_for = authority.purposes_signed(session, consent, pseudonym=pseudonym,
                                               public_key=keys)
        if purpose is None:
            raise NotFound(f"consent {consent_id} does not cover purpose {purpose_id}",
                           details={"consent_id": consent_id, "purpose_id": purpose_id})
        if signed_for == [purpose_id]:
            return None
        signed = subject_acts.complete(session, subject, response, act="withdraw", actor=actor,
                                       keys=runtime.keys, settings=runtime.settings, now=now)
        statement = signed.ceremony.statement or {}
        if (statement.get("consentId"), statement.get("purposeId")) != (consent_id, purpose_id):
            raise ChallengeInvalid("this signature withdraws something else")
        receipt_id = ledger.new_id("pwd")
        # Journaled before it commits, so a restored copy of the data takes it out again.
        erasure_journal.record(runtime, _journaled(runtime, erasure_journal.PurposeWithdrawn(
            consent_id=consent_id, purpose_id=purpose_id, at=now, receipt_id=receipt_id)))
        _take_out(consent, purpose)
        subject.last_interaction_at = now
        # Before the receipt is signed: the purpose is out of the consent and its end no later
        # than recomputed, as the ledger holds them, and nothing can undo that at the commit.
        ledger_alterations.require_held(session, [
            (consent_purposes.name, (consent_purposes.c.consent_id == consent_id)
             & (consent_purposes.c.purpose_id == purpose_id)),
            (Consent.__tablename__, (Consent.id == consent_id)
             & (Consent.retained_until > consent.retained_until))])
        withdrawal = _signed_record(ring, subject, consent, purpose.id, purpose.name, now,
                                    receipt_id=receipt_id, evidence=signed.evidence)
        session.add(withdrawal)
        runtime.audit(session, Entry(
            action=AuditAction.CONSENT_WITHDRAWN, actor=actor, purpose=purpose.id,
            subjects=[pseudonym],
            details={"consent_id": consent.id, "purpose_id": purpose.id,
                     "purposes_kept": [p.id for p in consent.purposes],
                     "receipt_id": withdrawal.id,
                     "credential_hash": passkeys.audit_reference(runtime.keys, signed.credential)}))
        return Narrowed(public(withdrawal, public_key=keys), keys)


def withdraw_again(runtime: Runtime, journal: Sequence[erasure_journal.Entry],
                   session: Session) -> int:
    """Take out again, in ``session``, the purposes the journal took out of consents the
    database still has in force with them (a copy restored from before); how many.

    As :func:`narrow` did: the purpose leaves the consent, its templates stay for the purposes
    kept, and, where the line's seal holds (:func:`_sealed_receipt`), the withdrawal's receipt is
    signed again under the id the person's copy names, so what remains is still decided from
    what the person signed (:func:`consent.authority.purposes_signed`). This copy holds none
    of the person's signature, which their own receipt keeps: the journal names no one. A
    purpose that is the consent's last in this copy withdraws the consent, as the service does
    (its templates, and its subject if no consent remains, then go with the rest of the
    start-up reconciliation).
    """
    entries = [e for e in journal if isinstance(e, erasure_journal.PurposeWithdrawn)]
    if not entries:
        return 0
    in_force = {consent.id: consent
                for among in in_chunks(Consent.id, {e.consent_id for e in entries})
                for consent in session.scalars(
                    select(Consent).where(among, erasure_journal.NOT_WITHDRAWN)
                    .options(selectinload(Consent.purposes)))}
    ring = receipt_key_in_force.in_force(runtime)  # what it signs again: never a retired key
    replayed = 0
    for entry in entries:
        consent = in_force.get(entry.consent_id)
        if consent is None or consent.withdrawn_at is not None:  # the last purpose went above
            continue
        purpose = next((p for p in consent.purposes if p.id == entry.purpose_id), None)
        if purpose is None:
            continue
        if len(consent.purposes) == 1:
            erasure_journal.withdraw_again(consent, at=entry.at)
        else:
            _take_out(consent, purpose)
            receipt_id = _sealed_receipt(runtime, entry)
            if receipt_id is not None and session.get(PurposeWithdrawal, receipt_id) is None:
                assert consent.subject is not None  # a consent in force has its subject
                session.add(_signed_record(ring, consent.subject, consent, purpose.id,
                                           purpose.name, entry.at, receipt_id=receipt_id,
                                           evidence=None, rebuilt=True))
        replayed += 1
    return replayed


def _seal_fields(entry: erasure_journal.PurposeWithdrawn) -> dict[str, str | None]:
    return {"consentId": entry.consent_id, "purposeId": entry.purpose_id,
            "receiptId": entry.receipt_id, "at": entry.at.isoformat()}


def _journaled(runtime: Runtime,
               entry: erasure_journal.PurposeWithdrawn) -> erasure_journal.PurposeWithdrawn:
    """``entry`` sealed with the key store's HMAC key: what the person's verified signature
    lets the replay sign again; whoever writes the witness folder alone cannot make one."""
    return replace(entry, seal=row_seals.seal(runtime.keys, row_seals.RowKind.PURPOSE_WITHDRAWN,
                                              _seal_fields(entry)))


def _sealed_receipt(runtime: Runtime, entry: erasure_journal.PurposeWithdrawn) -> str | None:
    """The receipt id ``entry`` names when :func:`_journaled` sealed it, else None."""
    sealed = row_seals.matches(runtime.keys, row_seals.RowKind.PURPOSE_WITHDRAWN,
                               _seal_fields(entry), entry.seal)
    return entry.receipt_id if sealed else None


def _take_out(consent: Consent, purpose: Purpose) -> None:
    """``purpose`` leaves ``consent``, one of several; the retention end is recomputed from the
    purposes kept, so it can only come sooner."""
    consent.purposes.remove(purpose)
    consent.retained_until = consent.obtained_at + timedelta(
        days=max(p.retention_days for p in consent.purposes))


def record_ended(
    runtime: Runtime, *, pseudonym: str, consent_id: str, purpose_id: str
) -> PurposeWithdrawalPublic:
    """The signed receipt of a consent withdrawn with its last purpose, its subject kept."""
    with runtime.db.transaction() as session:
        subject = ledger.get_subject(session, pseudonym, runtime=runtime)
        consent = ledger.get_consent(session, subject=subject, consent_id=consent_id)
        purpose = ledger.get_purpose(session, purpose_id)
        ring = receipt_key_in_force.in_force(runtime)  # never a key another process retired
        withdrawal = _signed_record(ring, subject, consent, purpose.id, purpose.name,
                                    consent.withdrawn_at or runtime.clock.now(),
                                    receipt_id=ledger.new_id("pwd"),
                                    evidence=(consent.withdrawal_receipt or {}).get(
                                        "subjectSignature"))
        session.add(withdrawal)
        return public(withdrawal, public_key=ring.loaded_receipt_keys)


def for_subject(
    session: Session, subject: Subject, *, public_key: ReceiptKeys
) -> list[PurposeWithdrawalPublic]:
    """Every purpose the subject withdrew from a consent they keep, oldest first."""
    rows = session.scalars(select(PurposeWithdrawal)
                           .where(PurposeWithdrawal.subject_id == subject.id)
                           .order_by(PurposeWithdrawal.withdrawn_at))
    return [public(r, public_key=public_key) for r in rows]


def public(row: PurposeWithdrawal, *, public_key: ReceiptKeys) -> PurposeWithdrawalPublic:
    return PurposeWithdrawalPublic(
        id=row.id, consent_id=row.consent_id, purpose_id=row.purpose_id,
        withdrawn_at=row.withdrawn_at,
        receipt=SignedReceipt.served(row.receipt, row.receipt_signature, keys=public_key))


def _active_consent(
    session: Session, runtime: Runtime, pseudonym: str, consent_id: str, *, now: datetime
) -> Consent:
    subject = ledger.get_subject(session, pseudonym, runtime=runtime)
    consent = ledger.get_consent(session, subject=subject, consent_id=consent_id)
    if policies.consent_status(consent, now=now) is not ConsentStatus.ACTIVE:
        raise ConsentWithdrawn(f"consent {consent_id} is no longer active",
                               details={"consent_id": consent_id})
    return consent


def _signed_record(ring: KeyRing, subject: Subject, consent: Consent, purpose_id: str,
                   purpose_name: str, now: datetime, *, receipt_id: str,
                   evidence: dict[str, Any] | None, rebuilt: bool = False) -> PurposeWithdrawal:
    """The controller's signed receipt, embedding the person's signed act (``evidence``) so
    anyone can check offline that the person, not the operator, stopped this use; ``rebuilt``:
    signed again from the journal's sealed line for a restored copy, which lacks the act (the
    person's own copy of the first receipt holds it). Signed with, and naming, the ``ring`` the
    caller's :func:`consent.receipt_key_in_force.in_force` returned in this transaction (once an
    act)."""
    receipt = {
        "version": CONSENT_RECEIPT_VERSION,
        "receiptType": "purpose withdrawal",
        "receiptID": receipt_id,
        "withdrawnConsentID": consent.id,
        "withdrawnPurposeID": purpose_id,
        "withdrawnPurpose": purpose_name,
        "purposesKept": [{"id": p.id, "name": p.name} for p in consent.purposes
                         if p.id != purpose_id],
        "consentWithdrawn": consent.withdrawn_at is not None,
        "piiPrincipalId": subject.pseudonym,
        "withdrawnAt": now.isoformat(),
        "publicKey": ring.public_key,
        "subjectSignature": evidence,
    } | ({"rebuiltFromJournal": True} if rebuilt else {})
    return PurposeWithdrawal(
        id=receipt_id, subject_id=subject.id, consent_id=consent.id, purpose_id=purpose_id,
        withdrawn_at=now, receipt=receipt,
        receipt_signature=ring.sign(canonical_json(receipt)))


def withdrawn_purposes(session: Session) -> list[str]:
    """The purpose of each withdrawal from a consent that kept others (one entry each): the
    consent ledger counts them, the consents themselves no longer naming those purposes."""
    return list(session.scalars(select(PurposeWithdrawal.purpose_id)))

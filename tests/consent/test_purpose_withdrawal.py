"""Withdrawing one purpose of a consent: it stops at once, the others stay, a receipt is signed."""

from __future__ import annotations

from sqlalchemy import select

from optinface.consent.receipts import verify_receipt
from optinface.consent.schemas import ErasureReason, Operation
from optinface.consent.tables import PurposeWithdrawal
from tests.support.consent import World


def test_a_withdrawn_purpose_finds_nobody_while_the_kept_purpose_still_does(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    other = world.purpose_with(Operation.ENROL, Operation.IDENTIFY, name="study-2")
    subject, consent = world.subject(purposes=[world.purpose, other])
    world.enrol(subject, consent, portrait_jpegs[0])

    def found(purpose: str) -> bool:
        image = portrait_jpegs[0]
        result = world.identify(image, purpose=purpose)
        return [c.subject for c in result.candidates] == [subject]

    assert found(world.purpose) and found(other)
    result = world.withdraw_purpose(subject, consent, other)
    assert not found(other) and found(world.purpose)
    assert result.consent.purposes == [world.purpose] and not result.subject_erased
    signed = result.purpose_withdrawal
    assert signed is not None and signed.receipt.receipt["withdrawnPurposeID"] == other
    assert verify_receipt(signed.receipt.receipt, signed.receipt.signature,
                          world.service.public_key)
    kept = world.service.purpose_withdrawals(actor=world.portal, subject=subject)
    assert [w.id for w in kept] == [signed.id]
    again = world.withdraw_purpose(subject, consent, other)  # changes nothing, refuses nothing
    assert again.purpose_withdrawal == signed and again.consent.purposes == [world.purpose]
    assert [w.id for w in world.service.purpose_withdrawals(
        actor=world.portal, subject=subject)] == [signed.id]


def test_the_consent_ledger_counts_a_purpose_withdrawn_from_a_consent_that_kept_others(
    world: World,
) -> None:
    """The consent no longer names the purpose; the ledger still says it was consented to and
    taken back, for the reviewer reading it."""
    other = world.purpose_with(Operation.ENROL, name="study-4")
    subject, consent = world.subject(purposes=[world.purpose, other])
    world.withdraw_purpose(subject, consent, other)
    ledger = world.service.consent_ledger(actor=world.reviewer)
    assert ledger.by_purpose == {world.purpose: {"active": 1}, other: {"withdrawn": 1}}


def test_withdrawing_the_last_purpose_withdraws_the_consent_and_erases_a_lone_subject(
    world: World,
) -> None:
    subject, consent = world.subject()
    result = world.withdraw_purpose(subject, consent, world.purpose)
    assert result.subject_erased and result.erasure is not None
    assert result.purpose_withdrawal is None


def test_purpose_withdrawal_receipts_go_with_the_subject_on_erasure(world: World) -> None:
    other = world.purpose_with(Operation.ENROL, name="study-3")
    subject, consent = world.subject(purposes=[world.purpose, other])
    world.withdraw_purpose(subject, consent, other)
    assert world.service.purpose_withdrawals(actor=world.portal, subject=subject)
    world.service.erase(actor=world.portal, subject=subject, reason=ErasureReason.REQUEST)
    with world.service.runtime.db.transaction() as session:
        assert session.scalars(select(PurposeWithdrawal)).all() == []


def test_a_consent_ended_with_its_last_purpose_gets_a_signed_receipt_when_the_subject_stays(
    world: World,
) -> None:
    subject, first = world.subject()
    world.consent(subject)
    result = world.withdraw_purpose(subject, first, world.purpose)
    assert result.consent.status == "withdrawn" and not result.subject_erased
    signed = result.purpose_withdrawal
    assert signed is not None and signed.receipt.receipt["consentWithdrawn"] is True
    assert signed.receipt.receipt["purposesKept"] == []
    assert verify_receipt(signed.receipt.receipt, signed.receipt.signature,
                          world.service.public_key)

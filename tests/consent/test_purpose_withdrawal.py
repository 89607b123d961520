"""Withdrawing one purpose of a consent: it stops at once, the others stay, a receipt is signed."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select, text

from optinface.consent.crypto import canonical_json
from optinface.consent.receipts import subject_signature_problem, verify_receipt
from optinface.consent.schemas import ErasureReason, Operation, WithdrawAct
from optinface.consent.tables import PurposeWithdrawal, Template
from tests.support.api import verify_receipt_file
from tests.support.backends import both_backends
from tests.support.consent import World, refused


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


WITHDRAWS_ONE = "the person signed a different statement than this receipt states"


def _sql(world: World, statement: str, **values: object) -> None:
    """As the database's writer: plain SQL, no key."""
    with world.service.runtime.db.transaction() as session:
        session.execute(text(statement), values)


@both_backends
def test_a_row_narrowed_by_sql_never_turns_stopping_one_use_into_erasure(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Red team 7, #7: the person signs "stop purpose B"; before it is posted, SQL deletes the
    consent's purpose A. What remains is decided from what they signed (A and B, less nothing
    withdrawn), not from the row: refused, nothing withdrawn, the face and the record kept."""
    other = world.purpose_with(Operation.ENROL, name="study-5")
    subject, consent = world.subject(purposes=[world.purpose, other])
    world.enrol(subject, consent, portrait_jpegs[0])
    person = world.signer(subject)
    signed = person.sign(WithdrawAct(consent_id=consent, purpose_id=other))
    _sql(world, "DELETE FROM consent_purposes WHERE consent_id = :c AND purpose_id = :p",
         c=consent, p=world.purpose)
    refused("consent_narrowed", lambda: world.service.withdraw_purpose(
        actor=person.actor, subject=subject, consent_id=consent, purpose_id=other,
        signed=signed))
    [kept] = world.service.list_consents(actor=world.portal, subject=subject)
    assert kept.status == "active" and kept.purposes == [other]
    assert world.service.get_subject(actor=world.portal, subject=subject).status == "active"
    with world.service.runtime.db.transaction() as session:
        assert len(session.scalars(select(Template)).all()) == 1
    # The purpose deleted is the one named: refused the same, not "not found".
    _sql(world, "INSERT INTO consent_purposes (consent_id, purpose_id) VALUES (:c, :p)",
         c=consent, p=world.purpose)
    _sql(world, "DELETE FROM consent_purposes WHERE consent_id = :c AND purpose_id = :p",
         c=consent, p=other)
    refused("consent_narrowed", lambda: world.withdraw_purpose(subject, consent, other))


def test_the_last_purpose_left_by_signed_withdrawals_ends_the_consent_and_its_receipt_says_so(
    world: World, tmp_path: Path
) -> None:
    """B withdrawn, then A: the consent ends, and its withdrawal receipt names A, the purpose
    the person's signature names; each receipt verifies offline, and neither verifies once it
    names another purpose than the one signed."""
    other = world.purpose_with(Operation.ENROL, name="study-6")
    subject, consent = world.subject(purposes=[world.purpose, other])
    world.consent(subject)  # a second consent keeps the subject, and their receipts
    first = world.withdraw_purpose(subject, consent, other).purpose_withdrawal
    ended = world.withdraw_purpose(subject, consent, world.purpose)
    assert ended.consent.status == "withdrawn" and not ended.subject_erased
    full = ended.consent.withdrawal_receipt
    assert first is not None and full is not None and ended.purpose_withdrawal is not None
    assert full.receipt["withdrawnPurposeID"] == world.purpose
    keys, key = world.service.runtime.keys, world.service.public_key
    path = tmp_path / "receipt.json"
    for signed in (first.receipt, full, ended.purpose_withdrawal.receipt):
        assert subject_signature_problem(signed.receipt) is None
        path.write_text(signed.model_dump_json())
        assert verify_receipt_file(path, key).exit_code == 0
        restated = {**signed.receipt, "withdrawnPurposeID": "pur_other"}
        assert subject_signature_problem(restated) == WITHDRAWS_ONE
        path.write_text(json.dumps({"receipt": restated,
                                    "signature": keys.sign(canonical_json(restated))}))
        result = verify_receipt_file(path, key)
        assert result.exit_code == 1 and WITHDRAWS_ONE in result.output, result.output


def test_a_consent_withdrawal_receipt_naming_a_purpose_its_person_did_not_sign_is_invalid(
    world: World,
) -> None:
    """A whole consent withdrawn (no purpose in the signature) has a receipt naming none; one
    made to name a purpose is not what was signed. One made before receipts named the last
    purpose (none named, the signature naming it) verifies as it always did."""
    subject, consent = world.subject()
    world.consent(subject)
    whole = world.withdraw(subject, consent).consent.withdrawal_receipt
    assert whole is not None and "withdrawnPurposeID" not in whole.receipt
    assert subject_signature_problem(whole.receipt) is None
    assert subject_signature_problem(
        {**whole.receipt, "withdrawnPurposeID": world.purpose}) == WITHDRAWS_ONE
    _, last = world.subject()
    world.consent(_)
    ended = world.withdraw_purpose(_, last, world.purpose).consent.withdrawal_receipt
    assert ended is not None
    before = {k: v for k, v in ended.receipt.items() if k != "withdrawnPurposeID"}
    assert subject_signature_problem(before) is None


def test_a_recorded_withdrawal_deleted_by_sql_does_not_let_the_row_decide(world: World) -> None:
    """The person's withdrawals are read from their signed receipts: one deleted by SQL
    leaves the receipt's purpose owed, so the row (which lacks it) is refused as narrowed."""
    third = world.purpose_with(Operation.ENROL, name="study-7")
    other = world.purpose_with(Operation.ENROL, name="study-8")
    subject, consent = world.subject(purposes=[world.purpose, other, third])
    world.withdraw_purpose(subject, consent, other)
    _sql(world, "DELETE FROM purpose_withdrawals WHERE consent_id = :c", c=consent)
    refused("consent_narrowed", lambda: world.withdraw_purpose(subject, consent, third))


def test_a_receipt_with_no_signature_of_the_person_is_verified_not_a_traceback(
    world: World, tmp_path: Path
) -> None:
    """A consent ended without the person's signature leaves ``subjectSignature`` null in the
    receipts that follow it (``purpose_withdrawal.record_ended``): ``receipt verify`` checks
    such a receipt like any other, where reading the person's capacity from it raised."""
    other = world.purpose_with(Operation.ENROL, name="study-9")
    subject, consent = world.subject(purposes=[world.purpose, other])
    signed = world.withdraw_purpose(subject, consent, other).purpose_withdrawal
    assert signed is not None
    unsigned = {**signed.receipt.receipt, "subjectSignature": None}
    keys = world.service.runtime.keys
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps({"receipt": unsigned,
                                "signature": keys.sign(canonical_json(unsigned))}))
    result = verify_receipt_file(path, world.service.public_key)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "valid passkey signature" not in result.output


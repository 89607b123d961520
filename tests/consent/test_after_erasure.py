"""What an erased person can still get: the receipt by one-time code, the truth at sign-in.

Both live in the ledger with the tombstone, on SQLite and PostgreSQL, so they hold after a
restart and on every worker; the ledger keeps keyed hashes only, never a code or credential id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import closing
from datetime import datetime

import pytest
from sqlalchemy import select

from optinface.consent.audit import AuditAction
from optinface.consent.errors import PasskeyInvalid, ReceiptCodeInvalid, SubjectErased
from optinface.consent.passkeys import from_b64url
from optinface.consent.receipts import verify_receipt
from optinface.consent.retention_policy import RECEIPT_YEARS
from optinface.consent.schemas import ErasureReason, PasskeyResponse
from optinface.consent.service import OptinFace
from optinface.consent.soft_authenticator import SoftAuthenticator
from optinface.consent.tables import (
    AuditEvent,
    Consent,
    ErasedCredential,
    ErasureReceiptCode,
    PasskeyCredential,
    ProbeConsent,
    Tombstone,
)
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, make_world, outside_sql, row_count, sign_in_answer

pytestmark = both_backends


def _erase_one(service: OptinFace, clock: FakeClock) -> tuple[str, str, SoftAuthenticator]:
    """A person consents and erases themself: (their code, the receipt id, their passkey)."""
    world = make_world(service, clock)
    pseudonym, _ = world.subject()
    person = world.people[pseudonym]
    erasure = service.erase(actor=person.actor, subject=pseudonym, reason=ErasureReason.REQUEST)
    code = service.keep_erasure_receipt(erasure)
    return code, str(erasure.signed.receipt["receiptID"]), person.authenticator


def test_an_erasure_receipt_code_works_after_a_restart_and_only_twice(
    open_service: Callable[[], OptinFace], clock: FakeClock
) -> None:
    with closing(open_service()) as service:
        code, receipt_id, _ = _erase_one(service, clock)
    with closing(open_service()) as restarted:
        for typed in (code.lower(), code.replace("-", " ")):  # typed by hand, any case
            signed = restarted.erasure_receipt_by_code(typed)
            assert signed.receipt["receiptID"] == receipt_id
            assert verify_receipt(signed.receipt, signed.signature, signed.public_key)
        with pytest.raises(ReceiptCodeInvalid):
            restarted.erasure_receipt_by_code(code)  # used twice
        with pytest.raises(ReceiptCodeInvalid):
            restarted.erasure_receipt_by_code("AAAA-BBBB-CCCC")


def test_an_erasure_receipt_code_expires_after_a_day(
    open_service: Callable[[], OptinFace], clock: FakeClock
) -> None:
    with closing(open_service()) as service:
        code, _, _ = _erase_one(service, clock)
        clock.advance(hours=24, seconds=1)
        with pytest.raises(ReceiptCodeInvalid) as refused:
            service.erasure_receipt_by_code(code)
        assert refused.value.code == "receipt_code_invalid"


def test_a_passkey_of_an_erased_record_is_told_when_it_was_erased(
    open_service: Callable[[], OptinFace], clock: FakeClock
) -> None:
    with closing(open_service()) as service:
        erased_at = clock.now()
        code, _, authenticator = _erase_one(service, clock)
        clock.advance(days=30)
        challenge = service.sign_in_options()
        credential = authenticator.get(challenge.options)
        with pytest.raises(SubjectErased) as told:
            service.sign_in(PasskeyResponse(ceremony_id=challenge.ceremony_id,
                                            credential=credential))
        assert told.value.details["erased_at"] == erased_at.isoformat()
        stranger = SoftAuthenticator(origin=authenticator.origin)
        stranger.create({"rp": {"id": challenge.options["rpId"]}, "user": {"id": "c3RyYW5nZXI"},
                         "challenge": "c3RyYW5nZXI"})
        with pytest.raises(PasskeyInvalid):  # a passkey nobody erased: the usual refusal
            service.sign_in(sign_in_answer(service, stranger))
        with service.runtime.db.transaction() as session:
            kept = [*session.scalars(select(ErasedCredential.credential_hash)),
                    *session.scalars(select(ErasureReceiptCode.code_hash))]
            assert session.scalars(select(PasskeyCredential.id)).all() == []
    assert len(kept) == 2 and all(len(h) == 64 for h in kept)
    assert not {credential["id"], code, code.replace("-", "")} & set(kept)


def test_the_audit_log_names_a_passkey_by_a_keyed_hash_never_by_its_credential_id(
    open_service: Callable[[], OptinFace], clock: FakeClock
) -> None:
    """The log outlives an erasure, and the credential id is what the person's authenticator
    presents at every sign-in: in the log, it would lead back to the erased pseudonym's
    events. An auditor can still follow each passkey from its registration to its acts."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        pseudonym, _ = world.subject()
        world.probe(image=b"the bytes of a probe photo")
        with service.runtime.db.transaction() as session:
            credential_ids = {*session.scalars(select(PasskeyCredential.id)),
                              # the probe person's passkey went once it signed: in the receipt
                              *(receipt["subjectSignature"]["credentialId"] for receipt
                                in session.scalars(select(ProbeConsent.receipt)) if receipt)}
        service.erase(actor=world.people[pseudonym].actor, subject=pseudonym,
                      reason=ErasureReason.REQUEST)
        with service.runtime.db.transaction() as session:
            logged = [(AuditAction(e.action), bool(e.subject_seals), e.details)
                      for e in session.scalars(select(AuditEvent))]
    assert len(credential_ids) == 2  # the subject's passkey and the probe person's
    raw = {form for i in credential_ids for form in (i, from_b64url(i).hex())}
    assert not [a for a, _, details in logged if any(r in json.dumps(details) for r in raw)]
    signed = {(action, names_a_subject): details["credential_hash"]
              for action, names_a_subject, details in logged if "credential_hash" in details}
    theirs = {signed[(action, True)] for action in (
        AuditAction.PASSKEY_REGISTERED, AuditAction.CONSENT_GIVEN, AuditAction.SUBJECT_UPDATED)}
    assert len(theirs) == 1  # one passkey, followed from its registration through its acts
    assert signed[(AuditAction.PROBE_CONSENT_CREATED, False)] not in theirs


def _proof_kept(service: OptinFace) -> list[int]:
    """The rows of an erasure's proof: tombstone with receipt, credential hashes, receipt
    codes, consent rows."""
    return [row_count(service, table)
            for table in (Tombstone, ErasedCredential, ErasureReceiptCode, Consent)]


def test_the_proof_of_an_erasure_is_deleted_five_years_after_it(
    open_service: Callable[[], OptinFace], clock: FakeClock
) -> None:
    """Kept for the processing and five years (the retention schedule), then swept: the
    tombstone with its receipt, the credential hashes, the receipt codes, the consent rows."""
    with closing(open_service()) as service:
        _, _, authenticator = _erase_one(service, clock)

        def kept() -> list[int]:
            return _proof_kept(service)

        def sign_in() -> None:
            service.sign_in(sign_in_answer(service, authenticator))

        clock.advance(days=365 * RECEIPT_YEARS)
        service.sweep()
        assert kept() == [1, 1, 1, 1]
        with pytest.raises(SubjectErased):
            sign_in()
        clock.advance(days=3)
        service.sweep()
        assert kept() == [0, 0, 0, 0]
        with pytest.raises(PasskeyInvalid):  # now a passkey like any unknown one
            sign_in()
        assert service.verify_audit().ok


def test_a_tombstone_dated_back_in_the_database_keeps_its_proof_till_its_receipt_says(
    open_service: Callable[[], OptinFace], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Red team 4, finding 7: ``erased_at`` set to 2019 no longer deletes the proof years early.
    The signed receipt dates the erasure; the row that disagrees is kept, the error said once."""
    with closing(open_service()) as service:
        _erase_one(service, clock)
        outside_sql(service, "UPDATE tombstones SET erased_at = :at", at=datetime(2019, 1, 1))
        for _ in range(2):
            service.sweep()
            assert _proof_kept(service) == [1, 1, 1, 1]
        said = [r for r in caplog.records
                if r.levelname == "ERROR" and "signed receipt does not say so" in r.message]
        assert len(said) == 1
        clock.advance(days=365 * RECEIPT_YEARS + 3)  # the receipt's five years: now it goes
        service.sweep()
        assert _proof_kept(service) == [0, 0, 0, 0]
        assert service.verify_audit().ok


def test_an_old_receipt_copied_onto_a_recent_tombstone_deletes_nothing_early(
    open_service: Callable[[], OptinFace], clock: FakeClock
) -> None:
    """A receipt dates its own tombstone only: an old erasure's signed receipt copied onto a
    recent tombstone, its ``erased_at`` set back to match, leaves the recent proof in place
    while the old one goes at its time."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        people = [world.subject()[0] for _ in range(2)]

        def erase(pseudonym: str) -> str:
            erasure = service.erase(actor=world.people[pseudonym].actor, subject=pseudonym,
                                    reason=ErasureReason.REQUEST)
            return str(erasure.signed.receipt["subjectHash"])

        old = erase(people[0])
        clock.advance(days=365 * RECEIPT_YEARS + 3)
        recent = erase(people[1])
        outside_sql(service, "UPDATE tombstones SET"
                    " receipt = (SELECT receipt FROM tombstones WHERE subject_hash = :old),"
                    " receipt_signature = (SELECT receipt_signature FROM tombstones"
                    " WHERE subject_hash = :old),"
                    " erased_at = (SELECT erased_at FROM tombstones WHERE subject_hash = :old)"
                    " WHERE subject_hash = :recent", old=old, recent=recent)
        service.sweep()
        assert row_count(service, Tombstone, Tombstone.subject_hash == old) == 0
        assert row_count(service, Tombstone, Tombstone.subject_hash == recent) == 1

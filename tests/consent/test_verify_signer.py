"""A verify needs the probe consent of the subject compared with, signed by their own passkey.

The person in a verify's probe claims to be that subject, so only the subject's registered
passkey can agree to it: not a passkey made on the link (whoever holds the link, the
researcher included, could make one), not another subject's. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from optinface.consent.errors import LinkInvalid, PasskeyInvalid, ProbeConsentRequired
from optinface.consent.ledger import tombstone_hash
from optinface.consent.receipts import subject_signature_problem, verify_receipt
from optinface.consent.schemas import AgeCategory, ErasureReason, LinkSecret, PasskeyResponse
from optinface.consent.soft_authenticator import SoftAuthenticator
from optinface.consent.soft_person import DEFAULT_ORIGIN
from optinface.consent.tables import PasskeyCredential, ProbeConsent
from tests.support.backends import both_backends
from tests.support.consent import World, refused, row_count

pytestmark = both_backends


def _problem(call: Callable[[], object]) -> str:
    """The probe consent's problem a match was refused for."""
    with pytest.raises(ProbeConsentRequired) as refused:
        call()
    return str(refused.value.details["problem"])


def test_a_verify_is_refused_unless_the_subject_compared_with_signed_its_probe_consent(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    image = portrait_jpegs[0]
    subject = world.enrolled(image)
    other = world.enrolled(portrait_jpegs[1])
    service, researcher = world.service, world.researcher

    def verify(probe_consent_id: str) -> object:
        return service.verify(actor=researcher, subject=subject, purpose_id=world.purpose,
                              probe_consent_id=probe_consent_id, image=image)

    # A passkey made on an ordinary link: whoever held the link could have signed.
    assert _problem(lambda: verify(world.probe(image=image))) == "not_signed_by_the_subject"
    # Another subject's own signature is theirs, not this subject's.
    assert _problem(lambda: verify(world.probe(image=image, subject=other))) == "other_subject"
    # The subject agreed to be compared with their record, not to a search among everyone.
    assert _problem(lambda: service.identify(
        actor=researcher, purpose_id=world.purpose, image=image,
        probe_consent_id=world.probe(image=image, subject=subject))) == "for_a_verify"

    # The subject's link makes no passkey, and no other passkey can sign it.
    link = world.probe_link(image=image, subject=subject)
    with pytest.raises(LinkInvalid):
        service.probe_registration_options(LinkSecret(link=link))
    challenge = service.probe_subject_challenge(LinkSecret(link=link))
    assert challenge.statement is not None and challenge.statement["subject"] == subject
    # The link passes through the researcher's hands: it names none of the subject's passkeys.
    assert not challenge.options.get("allowCredentials")
    stranger = SoftAuthenticator(origin=DEFAULT_ORIGIN)
    stranger.create({"rp": {"id": challenge.options["rpId"]}, "user": {"id": "c3RyYW5nZXI"},
                     "challenge": "c3RyYW5nZXI"})
    with pytest.raises(PasskeyInvalid):
        service.sign_probe_consent(PasskeyResponse(ceremony_id=challenge.ceremony_id,
                                                   credential=stranger.get(challenge.options)))

    passkeys_before = row_count(service, PasskeyCredential)
    signed = world.signer(subject).sign_probe(link)  # the same link, still unused
    with pytest.raises(LinkInvalid):  # one link, one probe consent
        service.probe_subject_challenge(LinkSecret(link=link))
    result = verify(signed.id)
    assert result.outcome == "candidates_for_review" and result.candidates[0].subject == subject
    assert row_count(service, PasskeyCredential) == passkeys_before  # the subject's stays
    assert signed.receipt is not None and signed.receipt.receipt["subject"] == subject
    assert verify_receipt(signed.receipt.receipt, signed.receipt.signature,
                          signed.receipt.public_key)
    assert subject_signature_problem(signed.receipt.receipt) is None
    forged = {**signed.receipt.receipt, "subject": other}
    assert subject_signature_problem(forged) == (
        "the person signed a different statement than this receipt states")
    # The subject sees, in their access export, each request naming them and what they signed.
    actions = [e.action for e in service.export(actor=world.reviewer, subject=subject).events]
    assert actions.count("probe_consent_requested") == 2  # the links that named them
    assert actions.count("probe_consent_created") == 2  # for the identify refused, the verify
    assert actions.count("verify") == 1 and actions.count("refused") == 2  # the two verifies


def test_an_erasure_leaves_no_receipt_naming_the_subject_in_their_probe_consents(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    image = portrait_jpegs[0]
    subject = world.enrolled(image)
    world.verify(subject, image)
    world.service.erase(actor=world.signer(subject).actor, subject=subject,
                        reason=ErasureReason.REQUEST)
    with world.service.runtime.db.transaction() as session:
        [kept] = session.scalars(select(ProbeConsent).where(
            ProbeConsent.subject_ref.is_not(None))).all()
        assert kept.subject_ref == tombstone_hash(world.service.runtime.keys, subject)
        assert kept.receipt is None and kept.receipt_signature is None
        assert kept.used_at is not None  # the proof that it was used stays, naming no one


def test_a_minor_below_the_age_of_consent_cannot_agree_to_a_verify_alone(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Like a consent: the holder of parental authority signs for them."""
    minor = world.person(age=AgeCategory.UNDER_13)
    link = world.probe_link(image=portrait_jpegs[0], subject=minor.pseudonym)
    refused("guardian_consent_required", lambda: minor.sign_probe(link))
    signed = world.guardians[minor.pseudonym].sign_probe(link)  # the link was not used up
    assert signed.receipt is not None
    assert signed.receipt.receipt["subjectSignature"]["capacity"] == "parental_authority"

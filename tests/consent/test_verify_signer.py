"""A verify needs the probe consent of the subject compared with, signed by their own passkey.

The person in a verify's probe claims to be that subject, so only the subject's registered
passkey can agree to it: not a passkey made on the link (whoever holds the link, the
researcher included, could make one), not another subject's. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import partial

import pytest
from sqlalchemy import func, select

from optinface.consent.errors import (
    ConsentError,
    LinkInvalid,
    PasskeyInvalid,
    ProbeConsentRequired,
)
from optinface.consent.identifiers import PSEUDONYM_PREFIX
from optinface.consent.ledger import tombstone_hash
from optinface.consent.receipts import subject_signature_problem, verify_receipt
from optinface.consent.schemas import (
    AgeCategory,
    ErasureReason,
    LinkSecret,
    Operation,
    PasskeyResponse,
    ProbeConsentRequest,
)
from optinface.consent.soft_authenticator import SoftAuthenticator
from optinface.consent.soft_person import DEFAULT_ORIGIN
from optinface.consent.tables import (
    AuditEvent,
    OneTimeLink,
    PasskeyCredential,
    ProbeConsent,
    Subject,
)
from tests.support.backends import both_backends
from tests.support.consent import World, refused, row_count

pytestmark = both_backends


def _events_since(world: World, seq: int) -> list[AuditEvent]:
    with world.service.runtime.db.transaction() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > seq)
                                      .order_by(AuditEvent.seq)))
        session.expunge_all()
    return events


def _last_seq(world: World) -> int:
    with world.service.runtime.db.transaction() as session:
        return int(session.scalar(select(func.max(AuditEvent.seq))) or 0)


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
    # The subject sees, in their access export, what they signed; a researcher's request
    # naming them is no act of theirs, and is not written into their record.
    actions = [e.action for e in service.export(actor=world.reviewer, subject=subject).events]
    assert actions.count("probe_consent_requested") == 0
    assert actions.count("probe_consent_created") == 2  # for the identify refused, the verify
    assert actions.count("verify") == 1 and actions.count("refused") == 2  # the two verifies


def _refusal(call: Callable[[], object]) -> tuple[str, str, dict[str, object]]:
    """The refusal as its reader gets it: code, message and details."""
    with pytest.raises(ConsentError) as refused_:
        call()
    return refused_.value.code, str(refused_.value), refused_.value.details


def test_a_verify_link_tells_its_asker_nothing_of_the_subject_and_only_they_may_sign_it(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Asking is answered alike for an active, erased, unknown or never-consenting pseudonym,
    and names no one in the log; whether the subject may sign is asked when they sign, and
    refused with one code, whatever the reason (red team 6, #2)."""
    image = portrait_jpegs[0]
    service = world.service
    consenting = world.enrolled(image)
    never_consented = world.person().pseudonym
    erased_before = world.subject()[0]
    erased_since = world.subject()[0]
    unknown = PSEUDONYM_PREFIX + "0" * 24
    early = world.probe_link(image=image, subject=erased_since)
    for pseudonym in (erased_before, erased_since):
        service.erase(actor=world.signer(pseudonym).actor, subject=pseudonym,
                      reason=ErasureReason.REQUEST)
    seq = _last_seq(world)

    asked = {pseudonym: service.request_probe_consent(
        actor=world.researcher, body=ProbeConsentRequest(
            purpose_id=world.purpose, notice_id=world.notice,
            probe_sha256=hashlib.sha256(image).hexdigest(), subject=pseudonym))
        for pseudonym in (consenting, never_consented, erased_before, unknown)}
    answers = {p: (a.link_url.split("#")[0], a.expires_at) for p, a in asked.items()}
    assert len(set(answers.values())) == 1, answers
    events = _events_since(world, seq)
    assert [e.action for e in events] == ["probe_consent_requested"] * 4
    assert all(e.subjects == [] and set(e.details) == {"request_id", "for_a_verify", "expires_at"}
               for e in events)
    with service.runtime.db.transaction() as session:
        links = session.scalars(select(OneTimeLink).where(
            OneTimeLink.id.in_([a.request_id for a in asked.values()]))).all()
        assert {link.subject_id for link in links} == {None}  # an erasure deletes none
        assert not [link for link in links if unknown in json.dumps(link.details)
                    or erased_before in json.dumps(link.details)]

    refusals = [_refusal(partial(service.probe_subject_challenge, LinkSecret(link=link)))
                for link in (asked[never_consented].secret, asked[erased_before].secret,
                             asked[unknown].secret, early)]
    assert refusals[0][0] == "purpose_not_consented"
    assert refusals[0][2] == {"purpose_id": world.purpose}  # naming no subject, no reason
    assert refusals == [refusals[0]] * 4
    signed = world.signer(consenting).sign_probe(asked[consenting].secret)
    result = service.verify(actor=world.researcher, subject=consenting, purpose_id=world.purpose,
                            probe_consent_id=signed.id, image=image)
    assert result.candidates[0].subject == consenting


def test_a_consent_ended_between_the_challenge_and_the_signature_refuses_the_signature(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    pseudonym, consent_id = world.subject()
    other = world.purpose_with(Operation.VERIFY, name="another study")
    world.consent(pseudonym, purposes=[other])  # kept: withdrawing the first erases no one
    link = world.probe_link(image=portrait_jpegs[0], subject=pseudonym)
    challenge = world.service.probe_subject_challenge(LinkSecret(link=link))
    world.withdraw(pseudonym, consent_id)
    credential = world.signer(pseudonym).authenticator.get(challenge.options)
    refused("purpose_not_consented", lambda: world.service.sign_probe_consent(
        PasskeyResponse(ceremony_id=challenge.ceremony_id, credential=credential)))


def test_a_verify_link_moved_to_another_subject_in_the_database_names_no_one(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The link keeps the row it found and the pseudonym's keyed hash: a row id pointed at
    another subject (or reused by a later one) does not let that subject sign. Edited in the
    database, the link's details are not those its keyed hash covers: it opens nothing."""
    named, other = world.subject()[0], world.subject()[0]
    link = world.probe_link(image=portrait_jpegs[0], subject=named)
    with world.service.runtime.db.transaction() as session:
        row = session.scalars(select(OneTimeLink).where(OneTimeLink.kind == "probe-subject")).one()
        row.details = {**row.details, "subject_row": session.scalar(
            select(Subject.id).where(Subject.pseudonym == other))}
    refused("link_invalid", lambda: world.signer(other).sign_probe(link))


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
    world.consent(minor.pseudonym)  # given by the guardian: a verify needs it
    link = world.probe_link(image=portrait_jpegs[0], subject=minor.pseudonym)
    refused("guardian_consent_required", lambda: minor.sign_probe(link))
    signed = world.guardians[minor.pseudonym].sign_probe(link)  # the link was not used up
    assert signed.receipt is not None
    assert signed.receipt.receipt["subjectSignature"]["capacity"] == "parental_authority"

"""Disclosures (BIPA 15(d)) on an enumerated basis with a document, and the recipients an erasure
must be told of (GDPR art. 19)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import partial

from sqlalchemy import select

from optinface.api.web import export as my_data
from optinface.consent.audit import AuditAction
from optinface.consent.passkeys import verify_evidence
from optinface.consent.receipts import verify_receipt
from optinface.consent.retention_policy import RECEIPT_YEARS
from optinface.consent.schemas import (
    AgeCategory,
    AuditFilter,
    DiscloseAct,
    DisclosureBasis,
    DisclosureCreate,
    ErasureReason,
)
from optinface.consent.settings import Jurisdiction
from optinface.consent.soft_person import SoftPerson
from optinface.consent.tables import AuditEvent, Ceremony, Disclosure
from tests.support.api import AS_TYPED, ENGLISH
from tests.support.backends import both_backends
from tests.support.consent import World, refused, row_count

pytestmark = both_backends
DECLARED = date(2026, 6, 1)  # 13 then: surely 14, Québec's age of consent, on 1 June 2027
COMES_OF_AGE = datetime(2027, 6, 1, tzinfo=UTC)

IN_QUEBEC = {"recipient_country": "CA", "recipient_region": "Québec"}
WARRANT = DisclosureCreate(recipient="Montréal Police",
                           legal_basis=DisclosureBasis.WARRANT_SUBPOENA,
                           document_reference="2027-SW-0042", **IN_QUEBEC)


def _disclosure_events(world: World) -> list[AuditEvent]:
    return world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.DISCLOSURE)).events


def _on_their_consent(world: World, pseudonym: str, recipient: str, *,
                      basis: DisclosureBasis = DisclosureBasis.CONSENT,
                      signer: SoftPerson | None = None) -> DisclosureCreate:
    """The person (or ``signer``) signs a ``disclose`` act on their own ``basis``: the body to
    disclose with."""
    act = DiscloseAct(recipient=recipient, legal_basis=basis,
                      document_reference="their-authorisation-1", **IN_QUEBEC)
    signed = (signer or world.people[pseudonym]).sign(act)
    return DisclosureCreate(**act.model_dump(exclude={"act"}), signed=signed)


def test_an_admin_discloses_under_a_warrant_logged_and_listed_in_the_subjects_export(
    world: World,
) -> None:
    pseudonym, _ = world.subject()
    made = world.service.disclose(actor=world.admin, subject=pseudonym, body=WARRANT)
    assert (made.disclosure.recipient, made.disclosure.legal_basis,
            made.disclosure.document_reference) == (WARRANT.recipient, "warrant_subpoena",
                                                     "2027-SW-0042")
    assert made.handed_over.subject.pseudonym == pseudonym
    assert "vector" not in made.handed_over.model_dump_json()
    [event] = _disclosure_events(world)
    assert event.subjects == [pseudonym] and event.actor_key_id == world.admin.key_id
    assert {k: event.details[k] for k in ("recipient", "legal_basis", "document_reference")} == {
        "recipient": WARRANT.recipient, "legal_basis": "warrant_subpoena",
        "document_reference": "2027-SW-0042"}
    export = world.service.export(actor=world.people[pseudonym].actor, subject=pseudonym)
    assert export.disclosures == [made.disclosure]
    markdown = my_data.markdown(export, ENGLISH, AS_TYPED)
    assert ("- **Montréal Police:** on " in markdown
            and "on the ground of a warrant or subpoena (document 2027-SW-0042)" in markdown)
    # No standing recipient, but a disclosure: "no one receives your data" would be untrue.
    assert ("- **none:** no one receives your data as a rule; only the disclosures below, each"
            " on a ground the law allows\n") in markdown
    assert world.service.list_disclosures(actor=world.reviewer,
                                          subject=pseudonym) == [made.disclosure]


def test_an_operator_may_not_disclose_on_the_persons_consent_and_nothing_is_recorded(
    world: World,
) -> None:
    pseudonym, _ = world.subject()
    for basis in (DisclosureBasis.CONSENT, DisclosureBasis.FINANCIAL_TRANSACTION):
        body = WARRANT.model_copy(update={"legal_basis": basis})
        for operator in (world.admin, world.portal):
            refused("subject_credential_required", partial(
                world.service.disclose, actor=operator, subject=pseudonym, body=body))
    person = world.people[pseudonym].actor
    refused("forbidden",
            lambda: world.service.disclose(actor=person, subject=pseudonym, body=WARRANT))
    assert row_count(world.service, Disclosure) == 0 and _disclosure_events(world) == []
    export = world.service.export(actor=world.admin, subject=pseudonym)
    assert export.disclosures == []
    assert "- **none:** no one receives your data\n" in my_data.markdown(export, ENGLISH, AS_TYPED)


def test_the_person_discloses_on_their_consent_with_a_signature_of_that_very_disclosure(
    world: World,
) -> None:
    pseudonym, _ = world.subject()
    person = world.people[pseudonym].actor
    body = _on_their_consent(world, pseudonym, "Acme Bank")
    other = body.model_copy(update={"recipient": "Someone Else"})
    refused("challenge_invalid",  # signed for Acme Bank, used for another
            lambda: world.service.disclose(actor=person, subject=pseudonym, body=other))
    refused("invalid_request", lambda: world.service.disclose(  # no signature at all
        actor=person, subject=pseudonym, body=body.model_copy(update={"signed": None})))
    assert row_count(world.service, Disclosure) == 0
    body = _on_their_consent(world, pseudonym, "Acme Bank")
    made = world.service.disclose(actor=person, subject=pseudonym, body=body)
    assert made.disclosure.legal_basis == DisclosureBasis.CONSENT
    refused("challenge_invalid",  # a signature discloses once
            lambda: world.service.disclose(actor=person, subject=pseudonym, body=body))
    [event] = _disclosure_events(world)
    assert event.details["recipient"] == "Acme Bank" and "credential_hash" in event.details
    # The person cannot sign the controller's bases, nor an operator open their act.
    refused("invalid_request", lambda: world.people[pseudonym].sign(
        DiscloseAct(recipient="Police", legal_basis=DisclosureBasis.LAW,
                    document_reference="x1", **IN_QUEBEC)))
    refused("subject_credential_required", lambda: world.people[pseudonym].sign(
        DiscloseAct(recipient="Police", legal_basis=DisclosureBasis.CONSENT,
                    document_reference="x1", **IN_QUEBEC), opener=world.admin))


def test_the_erasure_receipt_names_the_recipients_to_notify_and_the_rows_only_the_tombstone(
    world: World,
) -> None:
    pseudonym, _ = world.subject()
    world.service.disclose(actor=world.admin, subject=pseudonym, body=WARRANT)
    world.service.disclose(actor=world.admin, subject=pseudonym, body=WARRANT)
    world.service.disclose(actor=world.people[pseudonym].actor, subject=pseudonym,
                           body=_on_their_consent(world, pseudonym, "Acme Bank"))
    receipt = world.service.erase(actor=world.people[pseudonym].actor, subject=pseudonym,
                                  reason=ErasureReason.REQUEST)
    recipients = ["Acme Bank", "Montréal Police"]  # each once, sorted
    assert receipt.recipients_to_notify == recipients
    signed = receipt.signed
    assert signed.receipt["recipientsToNotify"] == recipients
    assert verify_receipt(signed.receipt, signed.signature, signed.public_key)
    with world.service.runtime.db.transaction() as session:
        refs = set(session.scalars(select(Disclosure.subject_ref)))
        events = list(session.scalars(select(AuditEvent)))
        [erase] = [e.details for e in events if e.action == AuditAction.ERASE]
    assert refs == {receipt.subject_hash}
    assert erase["recipients_to_notify"] == recipients
    assert not [e.seq for e in events
                if pseudonym in json.dumps([e.subjects, e.subject_seals, e.details])]
    refused("subject_erased",
            lambda: world.service.disclose(actor=world.admin, subject=pseudonym, body=WARRANT))
    assert world.service.verify_audit().ok


def test_an_erasure_with_no_disclosure_names_no_recipient(world: World) -> None:
    pseudonym, _ = world.subject()
    receipt = world.service.erase(actor=world.admin, subject=pseudonym,
                                  reason=ErasureReason.REQUEST)
    assert receipt.recipients_to_notify == [] == receipt.signed.receipt["recipientsToNotify"]


def test_an_erased_subjects_disclosures_are_deleted_five_years_after_the_erasure(
    world: World,
) -> None:
    pseudonym, _ = world.subject()
    world.service.disclose(actor=world.admin, subject=pseudonym, body=WARRANT)
    later, _ = world.subject()  # erased by the sweep, when its consent has long expired
    world.service.disclose(actor=world.admin, subject=later, body=WARRANT)
    world.service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    world.clock.advance(days=365 * RECEIPT_YEARS)
    world.service.sweep()
    assert row_count(world.service, Disclosure) == 2
    world.clock.advance(days=3)
    world.service.sweep()
    assert row_count(world.service, Disclosure) == 1  # the later erasure's are kept


def test_below_the_age_of_consent_only_the_guardian_authorises_a_disclosure(world: World) -> None:
    """A child under the age of consent is never asked to sign a disclosure: the holder of
    parental authority signs it (Québec: 14; Illinois: 18)."""
    child = world.person(age=AgeCategory.MINOR_13)  # Québec
    refused("guardian_consent_required",
            lambda: _on_their_consent(world, child.pseudonym, "Acme Bank"))
    guardian = world.guardians[child.pseudonym]
    made = world.service.disclose(
        actor=guardian.actor, subject=child.pseudonym,
        body=_on_their_consent(world, child.pseudonym, "Acme Bank", signer=guardian))
    assert made.disclosure.evidence is not None
    teen = world.person(age=AgeCategory.MINOR_16_17, jurisdiction=Jurisdiction.IL)
    refused("guardian_consent_required", lambda: _on_their_consent(
        world, teen.pseudonym, "Acme Bank", basis=DisclosureBasis.FINANCIAL_TRANSACTION))
    assert [e.subjects for e in _disclosure_events(world)] == [[child.pseudonym]]


def test_a_guardian_no_longer_authorises_a_disclosure_once_the_person_is_of_age(
    world: World,
) -> None:
    """Parental authority ends at the age of consent, even between the signature and the
    disclosure: the guardian's signature of the eve is refused the next day."""
    child = world.person(age=AgeCategory.MINOR_13, declared_on=DECLARED)
    guardian = world.guardians[child.pseudonym]
    world.clock.advance(seconds=(COMES_OF_AGE - world.clock.now()).total_seconds() - 60)
    body = _on_their_consent(world, child.pseudonym, "Acme Bank", signer=guardian)
    world.clock.advance(seconds=120)  # the ceremony is still open, the guardian's time is not
    refused("capacity_not_held", lambda: world.service.disclose(
        actor=guardian.actor, subject=child.pseudonym, body=body))
    refused("capacity_not_held",
            lambda: _on_their_consent(world, child.pseudonym, "Acme Bank", signer=guardian))
    assert row_count(world.service, Disclosure) == 0
    made = world.service.disclose(actor=child.actor, subject=child.pseudonym,
                                  body=_on_their_consent(world, child.pseudonym, "Acme Bank"))
    assert made.disclosure.recipient == "Acme Bank"


def test_a_recipient_is_handed_the_subjects_record_and_consents_and_the_person_signs_that(
    world: World,
) -> None:
    """Minimisation (GDPR art. 5(1)(c)): a later recipient never learns of an earlier warrant,
    nor of the person's requests, searches or log events; the person signs the list of what
    goes. Their own access export still lists every disclosure."""
    pseudonym, consent_id = world.subject()
    person = world.people[pseudonym]
    world.service.disclose(actor=world.admin, subject=pseudonym, body=WARRANT)
    act = DiscloseAct(recipient="Acme Bank", legal_basis=DisclosureBasis.CONSENT,
                      document_reference="their-authorisation-1", **IN_QUEBEC)
    statement = world.service.challenge(actor=person.actor, subject=pseudonym,
                                        act=act).statement
    assert statement["contents"] == ["controller", "subject", "consents", "templates"]
    made = world.service.disclose(actor=person.actor, subject=pseudonym,
                                  body=_on_their_consent(world, pseudonym, "Acme Bank"))
    handed = made.handed_over
    assert set(handed.model_dump()) == {"generated_at", "controller_name", "controller_contact",
                                        "subject", "consents", "templates"}
    assert handed.subject.pseudonym == pseudonym
    assert [(c.id, c.purposes, c.status) for c in handed.consents] == [
        (consent_id, [world.purpose], "active")]
    text = handed.model_dump_json()
    for never in ("2027-SW-0042", "Montréal Police", "subjectSignature", "vector"):
        assert never not in text, never
    [event] = [e for e in _disclosure_events(world) if e.details["recipient"] == "Acme Bank"]
    assert event.details["contents"] == statement["contents"]
    export = world.service.export(actor=person.actor, subject=pseudonym)
    assert sorted(d.recipient for d in export.disclosures) == ["Acme Bank", "Montréal Police"]


def test_the_persons_signature_of_a_disclosure_is_kept_verifies_and_goes_at_erasure(
    world: World,
) -> None:
    """Like a consent receipt's subjectSignature: the person's WebAuthn assertion over the
    statement they signed, checked offline, kept after the used ceremony is swept; at erasure
    it goes (the statement names the pseudonym), the row stays under the tombstone."""
    pseudonym, _ = world.subject()
    made = world.service.disclose(actor=world.people[pseudonym].actor, subject=pseudonym,
                                  body=_on_their_consent(world, pseudonym, "Acme Bank"))
    warrant = world.service.disclose(actor=world.admin, subject=pseudonym, body=WARRANT)
    assert warrant.disclosure.evidence is None  # the controller's act: no person's word
    world.clock.advance(days=2)
    world.service.sweep()
    assert row_count(world.service, Ceremony, Ceremony.kind == "disclose") == 0  # swept
    [kept] = [d for d in world.service.list_disclosures(actor=world.reviewer, subject=pseudonym)
              if d.id == made.disclosure.id]
    assert kept.evidence is not None and kept.evidence == made.disclosure.evidence
    assert verify_evidence(kept.evidence)
    assert kept.evidence["statement"]["recipient"] == "Acme Bank"
    assert kept.evidence["statement"]["subject"] == pseudonym
    forged = {**kept.evidence, "statement": {**kept.evidence["statement"],
                                             "recipient": "Someone Else"}}
    assert not verify_evidence(forged)
    world.service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    with world.service.runtime.db.transaction() as session:
        assert list(session.scalars(select(Disclosure.evidence))) == [None, None]


def test_a_disclosure_out_of_the_persons_area_needs_the_controllers_assessment_and_says_so(
    world: World,
) -> None:
    """P-39.1 s. 17: before personal information is communicated outside Québec, an assessment;
    GDPR chapter V: a safeguard for data leaving the EEA. A recipient in the same area needs
    none; a Canadian recipient not shown to be in Québec counts as outside (the cautious
    reading); an Illinois person's data have no area to leave."""
    quebec = world.person()
    abroad = [{"recipient_country": "US", "recipient_region": "Illinois"},
              {"recipient_country": "CA", "recipient_region": "Ontario"},
              {"recipient_country": "CA", "recipient_region": None},
              # Québec named, but not as the region the recipient is in
              {"recipient_country": "CA", "recipient_region": "Ontario (not Québec)"},
              {"recipient_country": "CA", "recipient_region": "Quebec Street, Toronto"}]
    for place in abroad:
        body = WARRANT.model_copy(update=place)
        refused("transfer_assessment_required", partial(
            world.service.disclose, actor=world.admin, subject=quebec.pseudonym, body=body))
    to_france = DiscloseAct(recipient="Acme Bank", legal_basis=DisclosureBasis.CONSENT,
                            document_reference="their-authorisation-1", recipient_country="FR")
    refused("transfer_assessment_required",  # the person is not asked to sign it either
            lambda: quebec.sign(to_france))
    assert row_count(world.service, Disclosure) == 0 and _disclosure_events(world) == []
    assessed = WARRANT.model_copy(update=abroad[0] | {"transfer_assessment": "EFVP-2027-03"})
    made = world.service.disclose(actor=world.admin, subject=quebec.pseudonym, body=assessed)
    within = world.service.disclose(actor=world.admin, subject=quebec.pseudonym, body=WARRANT)
    assert (made.disclosure.area_left, made.disclosure.transfer_assessment) == (
        "Québec", "EFVP-2027-03")
    assert (within.disclosure.area_left, within.disclosure.recipient_region) == (None, "Québec")
    [event, _] = _disclosure_events(world)
    assert {k: event.details[k] for k in ("recipient_country", "area_left",
                                          "transfer_assessment")} == {
        "recipient_country": "US", "area_left": "Québec", "transfer_assessment": "EFVP-2027-03"}
    export = world.service.export(actor=quebec.actor, subject=quebec.pseudonym)
    markdown = my_data.markdown(export, ENGLISH, AS_TYPED)
    assert "recipient in US, Illinois; outside Québec, under EFVP-2027-03" in markdown
    assert "recipient in CA, Québec\n" in markdown
    for region in ("QC", "quebec", "CA-QC"):
        assert world.service.disclose(actor=world.admin, subject=quebec.pseudonym,
                                      body=WARRANT.model_copy(update={"recipient_region": region})
                                      ).disclosure.area_left is None, region
    european = world.person(jurisdiction=Jurisdiction.EU)
    in_eea = WARRANT.model_copy(update={"recipient_country": "FR", "recipient_region": None})
    assert world.service.disclose(actor=world.admin, subject=european.pseudonym,
                                  body=in_eea).disclosure.area_left is None
    refused("transfer_assessment_required", lambda: world.service.disclose(
        actor=world.admin, subject=european.pseudonym, body=WARRANT))  # Canada: outside the EEA
    illinois = world.person(jurisdiction=Jurisdiction.IL)
    assert world.service.disclose(actor=world.admin, subject=illinois.pseudonym,
                                  body=in_eea).disclosure.area_left is None


def test_the_person_signs_where_their_record_goes_and_the_controllers_document_for_it(
    world: World,
) -> None:
    """The signed statement names the recipient's country and region and, for data leaving the
    person's area, the controller's document: a signature for a recipient in Québec does not
    disclose to the same name in Ontario."""
    pseudonym, _ = world.subject()
    person = world.people[pseudonym]
    body = _on_their_consent(world, pseudonym, "Acme Bank")
    moved = body.model_copy(update={"recipient_region": "Ontario",
                                    "transfer_assessment": "EFVP-2027-03"})
    refused("challenge_invalid",
            lambda: world.service.disclose(actor=person.actor, subject=pseudonym, body=moved))
    act = DiscloseAct(recipient="Acme Bank", legal_basis=DisclosureBasis.CONSENT,
                      document_reference="their-authorisation-1", recipient_country="CA",
                      recipient_region="Ontario", transfer_assessment="EFVP-2027-03")
    made = world.service.disclose(actor=person.actor, subject=pseudonym, body=DisclosureCreate(
        **act.model_dump(exclude={"act"}), signed=person.sign(act)))
    assert made.disclosure.area_left == "Québec"
    statement = made.disclosure.evidence["statement"]  # type: ignore[index]
    assert (statement["recipientCountry"], statement["recipientRegion"],
            statement["transferAssessment"]) == ("CA", "Ontario", "EFVP-2027-03")

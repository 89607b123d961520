"""Disclosures (BIPA 15(d)) on an enumerated basis with a document, and the recipients an erasure
must be told of (GDPR art. 19)."""

from __future__ import annotations

import json
from functools import partial

from sqlalchemy import select

from optinface.api.web import export as my_data
from optinface.consent.audit import AuditAction
from optinface.consent.receipts import verify_receipt
from optinface.consent.retention_policy import RECEIPT_YEARS
from optinface.consent.schemas import (
    AuditFilter,
    DiscloseAct,
    DisclosureBasis,
    DisclosureCreate,
    ErasureReason,
)
from optinface.consent.tables import AuditEvent, Disclosure
from tests.support.api import ENGLISH
from tests.support.backends import both_backends
from tests.support.consent import World, refused, row_count

pytestmark = both_backends

WARRANT = DisclosureCreate(recipient="Cook County Sheriff",
                           legal_basis=DisclosureBasis.WARRANT_SUBPOENA,
                           document_reference="2027-SW-0042")


def _disclosure_events(world: World) -> list[AuditEvent]:
    return world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.DISCLOSURE)).events


def _on_their_consent(world: World, pseudonym: str, recipient: str) -> DisclosureCreate:
    """The person signs a ``disclose`` act on their consent: the body to disclose with."""
    act = DiscloseAct(recipient=recipient, legal_basis=DisclosureBasis.CONSENT,
                      document_reference="their-authorisation-1")
    signed = world.people[pseudonym].sign(act)
    return DisclosureCreate(recipient=recipient, legal_basis=act.legal_basis,
                            document_reference=act.document_reference, signed=signed)


def test_an_admin_discloses_under_a_warrant_logged_and_listed_in_the_subjects_export(
    world: World,
) -> None:
    pseudonym, _ = world.subject()
    made = world.service.disclose(actor=world.admin, subject=pseudonym, body=WARRANT)
    assert (made.disclosure.recipient, made.disclosure.legal_basis,
            made.disclosure.document_reference) == (WARRANT.recipient, "warrant_subpoena",
                                                     "2027-SW-0042")
    assert made.export.subject.pseudonym == pseudonym
    assert made.export.disclosures == [made.disclosure]  # what is handed over says so too
    assert "vector" not in made.export.model_dump_json()
    [event] = _disclosure_events(world)
    assert event.subjects == [pseudonym] and event.actor_key_id == world.admin.key_id
    assert {k: event.details[k] for k in ("recipient", "legal_basis", "document_reference")} == {
        "recipient": WARRANT.recipient, "legal_basis": "warrant_subpoena",
        "document_reference": "2027-SW-0042"}
    export = world.service.export(actor=world.people[pseudonym].actor, subject=pseudonym)
    assert export.disclosures == [made.disclosure]
    markdown = my_data.markdown(export, ENGLISH)
    assert ("- **Cook County Sheriff**: on " in markdown
            and "on the ground of a warrant or subpoena (document 2027-SW-0042)" in markdown)
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
    assert world.service.export(actor=world.admin, subject=pseudonym).disclosures == []


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
                    document_reference="x1")))
    refused("subject_credential_required", lambda: world.people[pseudonym].sign(
        DiscloseAct(recipient="Police", legal_basis=DisclosureBasis.CONSENT,
                    document_reference="x1"), opener=world.admin))


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
    recipients = ["Acme Bank", "Cook County Sheriff"]  # each once, sorted
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

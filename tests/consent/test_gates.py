"""Every gate refuses with its own stable code, and the refusal is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from optinface.consent.audit import AuditAction
from optinface.consent.roles import Role
from optinface.consent.schemas import (
    AgeCategory,
    AuditFilter,
    ConsentCapacity,
    Operation,
)
from optinface.consent.settings import Jurisdiction
from optinface.consent.tables import Consent, ConsentStatus, Template
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, refused, row_count


def test_enrol_without_a_consent_covering_enrolment_is_refused(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    verify_only = world.purpose_with(Operation.VERIFY, name="verify-only")
    pseudonym, consent_id = world.subject(purposes=[verify_only])
    refused("consent_required", lambda: world.enrol(pseudonym, consent_id, portrait_jpegs[0]))
    events = world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.REFUSED))
    assert events.events[-1].outcome == "consent_required"


def test_enrol_under_an_expired_consent_is_refused(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    pseudonym, consent_id = world.subject(days=10)
    clock.advance(days=11)
    refused("consent_expired", lambda: world.enrol(pseudonym, consent_id, portrait_jpegs[0]))


def test_a_consent_past_its_expiry_leaves_the_search_at_once_without_a_sweep(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """Expiry is read at search time: the search after ``expires_at`` finds no one, while the
    template the retention sweep would destroy is still there (no sweep has run)."""
    pseudonym, consent_id = world.subject(days=10)
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    assert [c.subject for c in world.identify(portrait_jpegs[0]).candidates] == [pseudonym]
    clock.advance(days=10, seconds=1)
    assert world.identify(portrait_jpegs[0]).candidates == []
    assert row_count(world.service, Template) == 1


def test_a_withdrawn_consent_never_authorises_again(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    pseudonym, first = world.subject()
    second = world.consent(pseudonym).consent.id
    result = world.withdraw(pseudonym, first)
    assert not result.subject_erased  # another consent is still in force
    refused("consent_withdrawn", lambda: world.enrol(pseudonym, first, portrait_jpegs[0]))
    world.enrol(pseudonym, second, portrait_jpegs[0])


@pytest.mark.parametrize(
    ("age", "jurisdiction", "needs_guardian"),
    [
        (AgeCategory.MINOR_13, Jurisdiction.QC, True),
        (AgeCategory.MINOR_14, Jurisdiction.QC, False),
        (AgeCategory.MINOR_15, Jurisdiction.EU, True),
        (AgeCategory.MINOR_16_17, Jurisdiction.EU, False),
        (AgeCategory.ADULT, Jurisdiction.EU, False),
    ],
)
def test_a_minor_below_the_age_of_consent_needs_parental_authority(
    world: World, age: AgeCategory, jurisdiction: Jurisdiction, needs_guardian: bool
) -> None:
    person = world.person(age=age, jurisdiction=jurisdiction)
    own = lambda: person.consent(  # noqa: E731
        purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
        expires_at=world.clock.now() + timedelta(days=30))
    assert (person.pseudonym in world.guardians) is needs_guardian
    if needs_guardian:
        refused("guardian_consent_required", own)
        given = world.consent(person.pseudonym)  # signed by the guardian's own passkey
        assert given.consent.given_by is ConsentCapacity.PARENTAL_AUTHORITY
        assert given.receipt.receipt["subjectSignature"]["capacity"] == "parental_authority"
    else:
        assert own().consent.given_by is ConsentCapacity.SELF


def test_a_minors_own_passkey_never_claims_parental_authority(world: World) -> None:
    person = world.person(age=AgeCategory.MINOR_13)
    refused("capacity_not_held", lambda: person.consent(
        purposes=[world.purpose], notice_id=world.notice,
        expires_at=world.clock.now() + timedelta(days=30),
        given_by=ConsentCapacity.PARENTAL_AUTHORITY))


def test_verify_outside_the_subjects_consented_purposes_is_refused(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    other = world.purpose_with(Operation.VERIFY, Operation.IDENTIFY, name="other-study")
    pseudonym = world.enrolled(portrait_jpegs[0])
    refused("purpose_not_consented",
            lambda: world.verify(pseudonym, portrait_jpegs[0], purpose=other))


@both_backends
def test_identify_never_finds_subjects_outside_the_purpose_or_not_opted_in(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    other = world.purpose_with(Operation.ENROL, Operation.IDENTIFY, name="other-study")
    in_other, c1 = world.subject(purposes=[other])
    hidden, c2 = world.subject(searchable=False)
    world.enrol(in_other, c1, portrait_jpegs[0])
    world.enrol(hidden, c2, portrait_jpegs[1])
    for image in portrait_jpegs[:2]:
        assert world.identify(image).candidates == []


@both_backends
def test_probe_consent_is_single_use_unexpired_and_for_this_purpose_image_and_key(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    other = world.purpose_with(Operation.IDENTIFY, name="other-study")
    image = portrait_jpegs[0]
    search = lambda probe, picture=image, actor=world.researcher: (  # noqa: E731
        world.service.identify(actor=actor, purpose_id=world.purpose, probe_consent_id=probe,
                               image=picture))
    refused("probe_consent_required", lambda: search("prb_missing"))
    used = world.probe(image=image)
    search(used)
    refused("probe_consent_required", lambda: search(used))
    refused("probe_consent_required", lambda: search(world.probe(other, image=image)))
    other_image = world.probe(image=image)
    refused("probe_consent_required", lambda: search(other_image, portrait_jpegs[1]))
    refused("probe_consent_required", lambda: search(other_image))  # consumed by the refusal
    second_key = world.service.authenticate(world.service.create_api_key(
        actor=world.admin, role=Role.RESEARCHER, name="second").secret)
    refused("probe_consent_required", lambda: search(world.probe(image=image), actor=second_key))
    stale = world.probe(image=image)
    clock.advance(hours=2)
    refused("probe_consent_required", lambda: search(stale))


def test_an_uncalibrated_model_refuses_to_match(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    world.service.settings.thresholds_path.write_text("")
    refused("not_calibrated", lambda: world.identify(portrait_jpegs[0]))


def test_a_purpose_without_the_operation_refuses_it(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    enrol_only = world.purpose_with(Operation.ENROL, name="enrol-only")
    refused("operation_not_allowed",
            lambda: world.identify(portrait_jpegs[0], purpose=enrol_only))


def test_unknown_things_are_not_found(world: World) -> None:
    refused("not_found", lambda: world.service.get_subject(actor=world.portal, subject="subj_x"))
    refused("not_found", lambda: world.service.identify(
        actor=world.researcher, purpose_id="pur_nope", probe_consent_id="p", image=b""))


def test_a_consent_longer_than_allowed_is_refused(world: World) -> None:
    subject = world.person().pseudonym
    refused("invalid_request", lambda: world.consent(subject, days=4 * 365))


def test_templates_of_another_model_are_not_compared(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    from sqlalchemy import select

    from optinface.consent.row_seals import seal_template
    from optinface.consent.tables import Template

    pseudonym = world.enrolled(portrait_jpegs[0])
    with world.service.runtime.db.transaction() as session:  # made by the service then
        template = session.scalars(select(Template)).one()
        template.model_id = "w600k_r50"
        seal_template(world.service.runtime.keys, template, pseudonym=pseudonym)
    refused("model_mismatch", lambda: world.verify(pseudonym, portrait_jpegs[0]))
    assert world.service.health()["templates_needing_reenrolment"] == 1


def test_the_gallery_drops_a_template_whose_consent_is_marked_withdrawn(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Withdrawal deletes templates in the same transaction, which hides the gallery's own
    status check: here the row says withdrawn while the template and its index entry remain."""
    pseudonym, consent_id = world.subject()
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    found = world.identify(portrait_jpegs[0])
    assert [c.subject for c in found.candidates] == [pseudonym]
    with world.service.runtime.db.transaction() as session:
        session.execute(
            update(Consent)
            .where(Consent.id == consent_id)
            .values(status=ConsentStatus.WITHDRAWN, withdrawn_at=world.clock.now())
        )
        assert session.scalar(select(func.count()).select_from(Template)) == 1
    assert world.identify(portrait_jpegs[0]).candidates == []
    refused("purpose_not_consented", lambda: world.verify(pseudonym, portrait_jpegs[0]))

"""Minors: the guardian's own passkey, an age bracket that carries its date, a person who comes
of age asked for their own consent (the guardian's ending 30 days later without it), and a
shorter consent for a minor (X-MIN 6, 7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from optinface.consent.audit import AuditAction
from optinface.consent.errors import ConsentError, InvalidRequest, SubjectErased, Unauthenticated
from optinface.consent.receipts import verify_receipt
from optinface.consent.schemas import (
    AgeCategory,
    AuditEventPublic,
    AuditFilter,
    ConsentCapacity,
    ConsentGiven,
    ErasureReason,
    Operation,
    SubjectCreate,
)
from optinface.consent.settings import ConsentSettings
from optinface.consent.soft_person import SoftPerson
from tests.support.backends import both_backends
from tests.support.consent import World, new_subject_token, refused
from tests.support.files import readable_occurrences, template_bytes


def test_quebec_age_of_consent_cannot_be_configured_below_14() -> None:
    with pytest.raises(ValidationError):
        ConsentSettings(quebec_min_age=13)
    assert ConsentSettings(quebec_min_age=14).quebec_min_age == 14


def test_the_age_bracket_carries_the_day_it_was_declared(world: World) -> None:
    person = world.person(age=AgeCategory.MINOR_13)
    subject = world.service.get_subject(actor=person.actor, subject=person.pseudonym)
    assert subject.age_declared_on == world.clock.now().date()


def test_an_age_is_declared_on_a_day_that_has_begun_somewhere_on_earth(world: World) -> None:
    """The desk may stand in the furthest time zone ahead (UTC+14): its today is taken from
    the day's first second there, and not a second before."""
    tomorrow = world.clock.now().date() + timedelta(days=1)
    midnight_there = datetime.combine(tomorrow, time(), timezone(timedelta(hours=14)))
    world.clock.advance(seconds=(midnight_there - world.clock.now()).total_seconds() - 1)
    with pytest.raises(InvalidRequest, match="age_declared_on is in the future"):
        world.person(declared_on=tomorrow)
    world.clock.advance(seconds=1)
    declared = world.person(declared_on=tomorrow)
    assert world.service.get_subject(actor=declared.actor, subject=declared.pseudonym
                                     ).age_declared_on == tomorrow


DECLARED = date(2026, 6, 1)  # 13 then: surely 14, Québec's age of consent, on 1 June 2027
BIRTHDAY = datetime(2027, 6, 1, tzinfo=UTC)
OWN_CONSENT_BY = BIRTHDAY + timedelta(days=30)


def _minor_in_quebec(world: World) -> SoftPerson:
    return world.person(age=AgeCategory.MINOR_13, declared_on=DECLARED)


def _days_after_the_birthday(world: World, days: int) -> None:
    """Move the clock to noon ``days`` days after the coming of age."""
    world.clock.advance(seconds=(BIRTHDAY + timedelta(days=days, hours=12)
                                 - world.clock.now()).total_seconds())


def _found(world: World, image: bytes) -> list[str]:
    return [c.subject for c in world.identify(image).candidates]


def _ended_events(world: World) -> list[AuditEventPublic]:
    return world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.CONSENT_ENDED)).events


def test_a_minor_who_comes_of_age_is_asked_to_consent_in_their_own_name(world: World) -> None:
    minor = _minor_in_quebec(world)

    def own_consent():  # type: ignore[no-untyped-def]
        return minor.consent(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                             expires_at=world.clock.now() + timedelta(days=300))

    with pytest.raises(ConsentError) as refused:
        own_consent()
    assert refused.value.code == "guardian_consent_required"
    given = world.consent(minor.pseudonym)  # signed by the guardian's passkey
    assert given.consent.given_by is ConsentCapacity.PARENTAL_AUTHORITY
    assert world.service.sweep().own_consent_requested == 0

    _days_after_the_birthday(world, 0)  # the bracket's 13 is now surely 14
    report = world.service.sweep()
    assert report.own_consent_requested == 1
    subject = world.service.get_subject(actor=minor.actor, subject=minor.pseudonym)
    assert subject.own_consent_requested_at == world.clock.now()
    assert world.service.sweep().own_consent_requested == 0  # asked once
    assert own_consent().consent.given_by is ConsentCapacity.SELF


@both_backends
def test_a_guardians_consent_ends_thirty_days_after_coming_of_age_without_the_persons_own(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    service, image = world.service, portrait_jpegs[0]
    other = world.purpose_with(Operation.ENROL, Operation.IDENTIFY, name="study-2")
    minor = _minor_in_quebec(world)
    guardians = world.consent(minor.pseudonym).consent
    assert guardians.guardian_until == OWN_CONSENT_BY
    template = world.enrol(minor.pseudonym, guardians.id, image)
    world.signer(minor.pseudonym).set_searchable(True)
    ciphertext, plaintext = template_bytes(service, template.id)

    _days_after_the_birthday(world, 29)
    report = service.sweep()
    assert (report.own_consent_requested, report.templates_destroyed, report.erasures) == (
        1, 0, [])
    assert _found(world, image) == [minor.pseudonym]
    # The person is told by when: on their page, in their export and in the log it holds.
    [shown] = service.list_consents(actor=minor.actor, subject=minor.pseudonym)
    assert (shown.status, shown.guardian_until) == ("active", OWN_CONSENT_BY)
    export = service.export(actor=minor.actor, subject=minor.pseudonym)
    assert OWN_CONSENT_BY in [d.until for d in export.retention]
    [asked] = [e for e in export.events if e.action == AuditAction.OWN_CONSENT_REQUESTED]
    assert asked.details["own_consent_by"] == OWN_CONSENT_BY.isoformat()
    # Their own consent to another study keeps them here, not the guardian's consent to this one.
    minor.consent(purposes=[other], notice_id=world.notice, language="fr-CA",
                  expires_at=world.clock.now() + timedelta(days=300))

    _days_after_the_birthday(world, 31)
    assert _found(world, image) == []  # the gates do not wait for the sweep
    report = service.sweep()
    assert (report.consents_expired, report.templates_destroyed, report.erasures) == (1, 1, [])
    for needle in (ciphertext, plaintext, plaintext[:64]):
        assert readable_occurrences(service, needle) == []
    assert service.index.count() == 0
    [event] = _ended_events(world)
    assert event.subjects == [minor.pseudonym]
    assert event.details == {"consent_id": guardians.id, "reason": "came_of_age",
                             "templates_erased": 1}
    statuses = {c.id: c.status for c in service.list_consents(actor=minor.actor,
                                                             subject=minor.pseudonym)}
    assert statuses[guardians.id] == "expired"
    assert service.get_subject(actor=minor.actor, subject=minor.pseudonym).status == "active"
    assert service.verify_audit().ok


def _own_consent(world: World, minor: SoftPerson, *, days: int = 300) -> str:
    return minor.consent(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                         expires_at=world.clock.now() + timedelta(days=days)).consent.id


def _guardian_enrolled(world: World, minor: SoftPerson, image: bytes) -> tuple[str, int]:
    """A guardian's consent for a Québec minor and a searchable template under it."""
    guardians = world.consent(minor.pseudonym).consent
    template = world.enrol(minor.pseudonym, guardians.id, image)
    world.signer(minor.pseudonym).set_searchable(True)
    return guardians.id, template.id


def _taken_over(world: World, image: bytes, *, days: int = 300) -> tuple[SoftPerson, str]:
    """A Québec minor enrolled under their guardian's consent, who consents in their own name
    for ``days`` ten days after coming of age: (the person, their own consent's id)."""
    minor = _minor_in_quebec(world)
    _guardian_enrolled(world, minor, image)
    _days_after_the_birthday(world, 10)
    return minor, _own_consent(world, minor, days=days)


@both_backends
def test_a_persons_own_consent_in_time_takes_over_the_templates_of_their_guardians(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    service, image = world.service, portrait_jpegs[0]
    minor = _minor_in_quebec(world)
    guardians, template = _guardian_enrolled(world, minor, image)
    _, plaintext = template_bytes(service, template)

    _days_after_the_birthday(world, 10)
    own = _own_consent(world, minor)
    [given] = service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.CONSENT_GIVEN)).events[-1:]
    assert (given.details["takes_over"], given.details["templates_taken_over"]) == (
        [guardians], [template])
    export = service.export(actor=minor.actor, subject=minor.pseudonym)
    assert [t.consent_id for t in export.templates] == [own]
    assert template_bytes(service, template)[1] == plaintext  # still decrypts where it was
    # The guardian's consent still ends on its day, with nothing left under it.
    until = {d.what: d.until for d in export.retention}
    assert until[f"consent {guardians} and its templates"] == OWN_CONSENT_BY

    _days_after_the_birthday(world, 31)
    report = service.sweep()
    assert (report.consents_expired, report.templates_destroyed, report.erasures) == (1, 0, [])
    assert _ended_events(world) == []  # it ended with no template to destroy
    kept = {c.id: c for c in service.list_consents(actor=minor.actor, subject=minor.pseudonym)}
    assert (kept[guardians].status, kept[guardians].guardian_until) == (
        "expired", OWN_CONSENT_BY)
    assert kept[own].status == "active"
    assert _found(world, image) == [minor.pseudonym]


@both_backends
def test_withdrawing_ones_own_consent_after_it_took_over_destroys_the_templates_at_once(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    image = portrait_jpegs[0]
    minor, own = _taken_over(world, image)

    withdrawn = minor.withdraw(own)
    assert (withdrawn.templates_erased, withdrawn.subject_erased) == (1, False)
    assert _found(world, image) == []
    assert world.service.index.count() == 0
    # The guardian's consent, with nothing under it, still ends on its day, and with it all.
    _days_after_the_birthday(world, 70)
    [erasure] = world.service.sweep().erasures
    assert erasure.reason is ErasureReason.CAME_OF_AGE
    assert _ended_events(world) == []  # nothing was left to end with it
    with pytest.raises(SubjectErased):
        world.service.get_subject(actor=world.portal, subject=minor.pseudonym)


@both_backends
def test_ones_own_consent_expiring_before_the_guardians_ends_the_templates_it_took_over(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    image = portrait_jpegs[0]
    _, own = _taken_over(world, image, days=5)

    _days_after_the_birthday(world, 16)  # own consent expired, the guardian's still in force
    assert _found(world, image) == []  # the gates do not wait for the sweep
    report = world.service.sweep()
    assert (report.consents_expired, report.templates_destroyed, report.erasures) == (1, 1, [])
    [event] = _ended_events(world)
    assert event.details == {"consent_id": own, "reason": "expiry", "templates_erased": 1}
    assert world.service.index.count() == 0


@both_backends
def test_once_of_age_only_the_persons_own_passkey_acts_for_them(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """From the day the declared bracket reaches the age of consent parental authority ends:
    the guardian's token opens nothing and their passkey signs nobody in (so they can neither
    withdraw the person's own consent, erase them nor choose the alternative for them), and
    what the guardian still holds adds nothing (no new consent, opt-in or photo). The
    guardian's consent runs its grace period, and the person may withdraw it."""
    image = portrait_jpegs[0]
    minor = _minor_in_quebec(world)
    guardians = world.consent(minor.pseudonym).consent
    guardian = world.signer(minor.pseudonym)
    token = new_subject_token(world.service, guardian)
    world.service.authenticate(token)  # before the birthday: the guardian's token works
    _days_after_the_birthday(world, 10)
    with pytest.raises(Unauthenticated):
        world.service.authenticate(token)
    refused("capacity_not_held", lambda: new_subject_token(world.service, guardian))
    refused("capacity_not_held", lambda: world.consent(minor.pseudonym))
    refused("capacity_not_held", lambda: guardian.set_searchable(True))
    refused("capacity_not_held", lambda: world.enrol(minor.pseudonym, guardians.id, image))
    refused("capacity_not_held", lambda: world.service.new_enrolment_link(
        actor=world.portal, subject=minor.pseudonym, capacity=ConsentCapacity.PARENTAL_AUTHORITY))
    own = _own_consent(world, minor)
    minor.enrol(own, image, desk=world.portal)
    assert minor.withdraw(guardians.id).consent.status == "withdrawn"
    assert [c.status for c in world.service.list_consents(
        actor=minor.actor, subject=minor.pseudonym) if c.id == own] == ["active"]


def test_no_guardian_link_is_made_for_a_person_whose_bracket_has_come_of_age(world: World) -> None:
    """An age bracket declared long ago has aged: a child of under 13 declared in 2010 is of
    age in Québec now, so no one is handed a link to speak for them."""
    created = world.service.create_subject(actor=world.portal, body=SubjectCreate(
        age_category=AgeCategory.UNDER_13, age_declared_on=date(2010, 1, 1)))
    assert created.guardian_enrolment is None
    recent = world.service.create_subject(actor=world.portal, body=SubjectCreate(
        age_category=AgeCategory.UNDER_13))
    assert recent.guardian_enrolment is not None


def test_a_subject_held_only_by_a_guardians_consent_is_erased_with_a_receipt_once_of_age(
    world: World
) -> None:
    minor = _minor_in_quebec(world)
    world.consent(minor.pseudonym)
    _days_after_the_birthday(world, 31)
    [erasure] = world.service.sweep().erasures
    assert erasure.reason is ErasureReason.CAME_OF_AGE
    assert erasure.signed.receipt["reason"] == "came_of_age"
    assert verify_receipt(erasure.signed.receipt, erasure.signed.signature,
                          world.service.public_key)
    with pytest.raises(SubjectErased):
        world.service.get_subject(actor=world.portal, subject=minor.pseudonym)


def test_a_minors_consent_lasts_at_most_a_year_and_an_adults_longer(world: World) -> None:
    def consent(person: SoftPerson, days: int) -> ConsentGiven:
        return person.consent(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                              expires_at=world.clock.now() + timedelta(days=days))

    minor = world.person(age=AgeCategory.MINOR_16_17)  # of age to consent in Québec, a minor
    with pytest.raises(InvalidRequest) as refused:
        consent(minor, 366)
    assert (refused.value.code, refused.value.details) == (
        "invalid_request", {"max_consent_days": 365})
    assert consent(minor, 365).consent.given_by is ConsentCapacity.SELF
    child = world.person(age=AgeCategory.MINOR_13)
    with pytest.raises(InvalidRequest):
        consent(world.signer(child.pseudonym), 366)  # the guardian's consent too
    consent(world.signer(child.pseudonym), 365)
    assert consent(world.person(), 3 * 365).consent.given_by is ConsentCapacity.SELF
    grown_up = world.person(age=AgeCategory.MINOR_16_17,
                            declared_on=world.clock.now().date() - timedelta(days=2 * 366))
    consent(grown_up, 366)  # the bracket declared two years ago is surely 18 now
    assert ("a minor's consent (by the declared age, never the face) lasts at most 365 days"
            in world.service.retention_policy().rules)


def test_coming_of_age_takes_over_only_the_persons_own_templates(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """Review 2: another adult's template moved by SQL under a minor's guardian consent was
    sealed as the minor's when they consented in their own name, then found as them and spared
    by its owner's erasure. Only templates sealed as this person's under the guardian's
    consent are taken over; the moved one stays unsealed, is found as no one, and goes with
    its owner's erasure."""
    other = world.person()
    other_consent = world.consent(other.pseudonym).consent.id
    moved = world.enrol(other.pseudonym, other_consent, portrait_jpegs[1]).id
    minor = _minor_in_quebec(world)
    guardians, own = _guardian_enrolled(world, minor, portrait_jpegs[0])
    with world.service.runtime.db.transaction() as session:
        session.execute(text(
            "UPDATE templates SET subject_id = (SELECT id FROM subjects WHERE pseudonym = :p),"
            " consent_id = :c WHERE id = :t"), {"p": minor.pseudonym, "c": guardians, "t": moved})
    _days_after_the_birthday(world, 10)
    _own_consent(world, minor)
    [given] = world.service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.CONSENT_GIVEN, subject=minor.pseudonym)).events[-1:]
    assert given.details["templates_taken_over"] == [own]
    assert _found(world, flipped_jpegs[1]) == []
    erased = world.service.erase(actor=other.actor, subject=other.pseudonym,
                                 reason=ErasureReason.REQUEST)
    assert erased.templates_destroyed == 1

"""One person per subject, after the templates are gone (red team 6, finding 1): a subject
enrolled before, holding no template a new face can be compared with, enrols again only from
a capture session the desk opened (``reenrol_at_desk``); the first enrolment stays the
person's own to do."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from optinface.consent.audit import AuditAction
from optinface.consent.row_seals import seal_template
from optinface.consent.schemas import AuditFilter, CaptureAct, TemplatePublic
from optinface.consent.soft_person import SoftPerson
from optinface.consent.tables import Template
from tests.support.consent import FakeClock, World, refused

OTHER_MODEL = "w600k_r50"  # the test deployment's recognizer is w600k_mbf


def _first_enrolled(world: World, pseudonym: str) -> object:
    return world.service.get_subject(actor=world.portal, subject=pseudonym).first_enrolled_at


def _templates(world: World, pseudonym: str) -> list[TemplatePublic]:
    return world.service.templates(actor=world.portal, subject=pseudonym)


def _enrolled_on_their_own(world: World, photo: bytes, *, days: int = 365) -> tuple[
        SoftPerson, str, str]:
    """A person who consented twice (the first consent lasting ``days``) and enrolled
    ``photo`` under the first from a capture they opened themselves: (the person, the first
    consent, the second)."""
    person = world.person()
    first = world.consent(person.pseudonym, days=days).consent.id
    second = world.consent(person.pseudonym).consent.id
    person.set_searchable(True)
    person.enrol(first, photo)  # no desk: a first enrolment is the person's own
    return person, first, second


@pytest.mark.parametrize("ended", ["withdrawn", "expired"])
def test_a_subject_whose_templates_are_gone_enrols_no_face_from_their_own_capture(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes], ended: str
) -> None:
    """The tester's sequence: the consent holding the face ends while another keeps the
    subject, then the subject's own token opens a capture for someone else's photo."""
    person, first, second = _enrolled_on_their_own(world, portrait_jpegs[3], days=10)
    enrolled_on = _first_enrolled(world, person.pseudonym)
    assert enrolled_on == clock.now()
    if ended == "expired":
        clock.advance(days=11)  # the first consent ended; its template waits for the sweep
    # Approved while the face is still there: the upload, once it is gone, asks again.
    approved = person.approve_capture(second, portrait_jpegs[2])
    if ended == "expired":
        world.service.sweep()
    else:
        person.withdraw(first)
    assert _templates(world, person.pseudonym) == []
    assert _first_enrolled(world, person.pseudonym) == enrolled_on  # never cleared

    refused("reenrol_at_desk", lambda: world.service.enrol(
        actor=person.actor, subject=person.pseudonym, capture_id=approved.id,
        image=portrait_jpegs[2]))
    for photo in (portrait_jpegs[2], portrait_jpegs[3]):  # another face, or their own
        refused("reenrol_at_desk", lambda photo=photo: person.enrol(second, photo))

    assert _templates(world, person.pseudonym) == []
    assert world.identify(portrait_jpegs[2]).candidates == []  # C never opted in under D
    refusals = world.service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.REFUSED, subject=person.pseudonym)).events
    assert [e.outcome for e in refusals].count("reenrol_at_desk") == 3


def test_a_capture_the_subject_opens_is_refused_before_they_sign_when_it_could_not_enrol(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    person, first, second = _enrolled_on_their_own(world, portrait_jpegs[0])
    person.withdraw(first)
    act = CaptureAct(consent_id=second,
                     photo_sha256=hashlib.sha256(portrait_jpegs[0]).hexdigest())
    refused("reenrol_at_desk", lambda: world.service.challenge(
        actor=person.actor, subject=person.pseudonym, act=act))
    asked = world.service.challenge(actor=world.portal, subject=person.pseudonym, act=act)
    assert asked.statement is not None and asked.statement["openedBy"] == "portal"


def test_the_desk_enrols_again_a_subject_whose_templates_are_gone(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    person, first, second = _enrolled_on_their_own(world, portrait_jpegs[0])
    person.withdraw(first)

    again = world.enrol(person.pseudonym, second, flipped_jpegs[0])  # the desk opens it

    assert [t.id for t in _templates(world, person.pseudonym)] == [again.id]
    assert [c.subject for c in world.identify(portrait_jpegs[0]).candidates] == [
        person.pseudonym]
    # Compared again from then on: the subject's own capture is the same person's only.
    person.enrol(second, portrait_jpegs[0])
    refused("face_mismatch", lambda: person.enrol(second, portrait_jpegs[1]))


def test_a_first_enrolment_is_the_persons_own_and_dates_the_subject_once(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    person = world.person()
    consent_id = world.consent(person.pseudonym).consent.id
    assert _first_enrolled(world, person.pseudonym) is None
    clock.advance(hours=1)
    person.enrol(consent_id, portrait_jpegs[0])  # no desk
    first = clock.now()
    clock.advance(hours=1)
    person.enrol(consent_id, flipped_jpegs[0])  # another photo of the same face
    assert _first_enrolled(world, person.pseudonym) == first
    export = world.service.export(actor=person.actor, subject=person.pseudonym)
    assert export.subject.first_enrolled_at == first  # the person's access copy says it


def test_after_a_model_change_only_the_desk_enrols_the_subject_again(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """Templates of another model cannot be compared with: as if none were left, the
    subject's own capture enrols nothing, added or replacing one; the desk's rectifies."""
    person = world.person()
    consent_id = world.consent(person.pseudonym).consent.id
    person.set_searchable(True)
    person.enrol(consent_id, portrait_jpegs[0])
    approved = person.approve_capture(consent_id, portrait_jpegs[1])  # compared, then
    with world.service.runtime.db.transaction() as session:  # made by the service then
        old = session.scalars(select(Template)).one()
        old.model_id = OTHER_MODEL
        seal_template(world.service.runtime.keys, old, pseudonym=person.pseudonym)
        old_id = old.id

    refused("reenrol_at_desk", lambda: world.service.enrol(
        actor=person.actor, subject=person.pseudonym, capture_id=approved.id,
        image=portrait_jpegs[1]))
    refused("reenrol_at_desk", lambda: person.enrol(consent_id, portrait_jpegs[1]))
    refused("reenrol_at_desk",
            lambda: person.enrol(consent_id, portrait_jpegs[1], replaces=old_id))
    assert [t.id for t in _templates(world, person.pseudonym)] == [old_id]

    new = world.enrol(person.pseudonym, consent_id, flipped_jpegs[0], replaces=old_id)
    assert [t.id for t in _templates(world, person.pseudonym)] == [new.id]
    refused("face_mismatch", lambda: person.enrol(consent_id, portrait_jpegs[1]))

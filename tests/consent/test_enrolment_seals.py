"""Enrolment seals (consent.row_seals, kind ``enrolment``): "enrolled before" is sealed by the
service, so a database writer cannot make a subject's next self-service enrolment a first one.

The attack is the one red team 6 (finding 1) left open: the subject's own token enrolled their
face; a writer clears ``subjects.first_enrolled_at`` and deletes the template rows by SQL; the
same token then opens a capture for someone else's photo, which nothing compares with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing

import pytest
from sqlalchemy import select

from optinface.consent import row_seals
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.soft_person import SoftPerson
from optinface.consent.tables import AuditEvent, Subject
from tests.support.backends import both_backends
from tests.support.consent import (
    FakeClock,
    World,
    make_world,
    outside_sql,
    refused,
    row_count,
)
from tests.support.files import readable_occurrences

ONE_PERSON_LOG = "optinface.consent.one_person"


def _enrolled_on_their_own(world: World, photo: bytes) -> tuple[SoftPerson, str]:
    """A person who consented and enrolled ``photo`` from a capture they opened themselves."""
    person = world.person()
    consent_id = world.consent(person.pseudonym).consent.id
    person.enrol(consent_id, photo)  # no desk: a first enrolment is the person's own
    return person, consent_id


def _enrolment_state(service: OptinFace, pseudonym: str) -> tuple[object, str | None, bool]:
    """The subject's ``first_enrolled_at``, its enrolment seal and whether the seal holds."""
    with service.runtime.db.reading() as session:
        subject = session.scalars(select(Subject).where(Subject.pseudonym == pseudonym)).one()
        return (subject.first_enrolled_at, subject.enrolment_seal,
                row_seals.enrolment_sealed(service.runtime.keys, subject))


def _cleared_by_sql(service: OptinFace, pseudonym: str, *, seal: str | None = "keep") -> None:
    """The red team's move: ``first_enrolled_at`` cleared (the seal set to ``seal`` unless
    kept) and the subject's template rows deleted, on a connection of its own."""
    outside_sql(service, "DELETE FROM templates WHERE subject_id ="
                         " (SELECT id FROM subjects WHERE pseudonym = :p)", p=pseudonym)
    if seal == "keep":
        outside_sql(service, "UPDATE subjects SET first_enrolled_at = NULL WHERE pseudonym = :p",
                    p=pseudonym)
    else:
        outside_sql(service, "UPDATE subjects SET first_enrolled_at = NULL, enrolment_seal = :s"
                             " WHERE pseudonym = :p", s=seal, p=pseudonym)


def _refusals(service: OptinFace) -> int:
    return row_count(service, AuditEvent, AuditEvent.action == "refused",
                     AuditEvent.outcome == "reenrol_at_desk")


def _errors(caplog: pytest.LogCaptureFixture, pseudonym: str, says: str) -> int:
    """The one_person error lines saying ``says``; none may name ``pseudonym``."""
    lines = [r.getMessage() for r in caplog.records if r.name == ONE_PERSON_LOG]
    assert not any(pseudonym in line for line in lines)
    return sum(says in line for line in lines)


@both_backends
def test_enrolled_before_cleared_by_sql_with_the_templates_makes_no_enrolment_a_first_one(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The red team's move, then the subject's own capture of another face: refused
    ``reenrol_at_desk`` before they sign, chained, and logged as an error without the
    pseudonym; the desk still enrols them again, and from then on their own capture is
    compared with that face."""
    service = world.service
    person, consent_id = _enrolled_on_their_own(world, portrait_jpegs[0])
    _cleared_by_sql(service, person.pseudonym)
    assert _enrolment_state(service, person.pseudonym)[0] is None
    with caplog.at_level(logging.ERROR, logger=ONE_PERSON_LOG):
        refused("reenrol_at_desk", lambda: person.enrol(consent_id, portrait_jpegs[1]))
    assert _refusals(service) == 1
    assert _errors(caplog, person.pseudonym, "its enrolment seal does not hold") == 1
    assert service.templates(actor=world.portal, subject=person.pseudonym) == []

    again = world.enrol(person.pseudonym, consent_id, flipped_jpegs[0])  # the desk's path
    assert [t.id for t in service.templates(actor=world.portal, subject=person.pseudonym)] == [
        again.id]
    enrolled_on, _, sealed = _enrolment_state(service, person.pseudonym)
    assert enrolled_on == world.clock.now() and sealed  # dated and sealed again by the service
    refused("face_mismatch", lambda: person.enrol(consent_id, portrait_jpegs[1]))
    assert service.verify_audit().ok


@both_backends
def test_a_never_enrolled_seal_put_back_from_an_old_copy_still_loses_to_the_log(
    world: World, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture,
) -> None:
    """A writer who also removes the seal, or puts back the "never enrolled" seal the row
    carried before the first enrolment (from a copy of the database), makes no first
    enrolment either: a missing seal counts as enrolled before, and the chained ``enrol``
    events still name the subject."""
    service = world.service
    person = world.person()
    consent_id = world.consent(person.pseudonym).consent.id
    never, never_seal, sealed = _enrolment_state(service, person.pseudonym)
    assert never is None and never_seal is not None and sealed  # sealed at creation
    person.enrol(consent_id, portrait_jpegs[0])
    first, seal, sealed = _enrolment_state(service, person.pseudonym)
    assert first is not None and seal != never_seal and sealed  # replaced at the first
    _cleared_by_sql(service, person.pseudonym, seal=None)
    with caplog.at_level(logging.ERROR, logger=ONE_PERSON_LOG):
        refused("reenrol_at_desk", lambda: person.enrol(consent_id, portrait_jpegs[1]))
        outside_sql(service, "UPDATE subjects SET enrolment_seal = :s WHERE pseudonym = :p",
                    s=never_seal, p=person.pseudonym)
        assert _enrolment_state(service, person.pseudonym)[2]  # the old seal holds again
        refused("reenrol_at_desk", lambda: person.enrol(consent_id, portrait_jpegs[1]))
    assert _errors(caplog, person.pseudonym, "its enrolment seal does not hold") == 1
    assert _errors(caplog, person.pseudonym, "the chained enrol events name it") == 1
    assert _refusals(service) == 2


def test_a_first_enrolment_is_still_the_persons_own_on_the_sealed_row(
    world: World, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture,
) -> None:
    """The legitimate path: created "never enrolled", sealed; the person's own first capture
    enrols, logging nothing, and their next one is compared with it."""
    service = world.service
    with caplog.at_level(logging.ERROR, logger=ONE_PERSON_LOG):
        person, consent_id = _enrolled_on_their_own(world, portrait_jpegs[0])
    assert not [r for r in caplog.records if r.name == ONE_PERSON_LOG]
    assert len(service.templates(actor=world.portal, subject=person.pseudonym)) == 1
    refused("face_mismatch", lambda: person.enrol(consent_id, portrait_jpegs[1]))


def _as_before_enrolment_seals(service: OptinFace) -> None:
    """The subjects as a version from before migration 0040 left them: no enrolment seal."""
    outside_sql(service, "UPDATE subjects SET enrolment_seal = NULL")


def _reopened(world: World, service: OptinFace) -> None:
    world.service = service
    for person in (*world.people.values(), *world.guardians.values()):
        person.service = service


def test_subjects_from_before_enrolment_seals_are_adopted_once_and_a_clearing_after_is_not(
    open_service: Callable[[], OptinFace], clock: FakeClock, portrait_jpegs: list[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deployment from before migration 0040: its subjects carry no enrolment seal, so none
    of them enrols a first time on their own. The first start after the upgrade seals each as
    its column says, chained once with the count: the one never enrolled then enrols on their
    own; a column cleared after that is adopted by no later start."""
    with monkeypatch.context() as older:  # the version before: no enrolment adoption
        older.setattr(row_seals, "adopt_enrolments_once", lambda runtime, **_: None)
        with closing(open_service()) as service:
            world = make_world(service, clock)
            enrolled, enrolled_consent = _enrolled_on_their_own(world, portrait_jpegs[0])
            newcomer = world.person()
            newcomer_consent = world.consent(newcomer.pseudonym).consent.id
            _as_before_enrolment_seals(service)
            refused("reenrol_at_desk", lambda: newcomer.enrol(newcomer_consent,
                                                              portrait_jpegs[1]))
    with closing(open_service()) as service:  # the first start after the upgrade
        _reopened(world, service)
        with service.runtime.db.reading() as session:
            [adopted] = session.scalars(select(AuditEvent.details).where(
                AuditEvent.action == "enrolment_seals_adopted")).all()
        assert adopted == {"enrolments": 2}
        assert _enrolment_state(service, enrolled.pseudonym)[2]
        newcomer.enrol(newcomer_consent, portrait_jpegs[1])  # a first enrolment, their own
        _cleared_by_sql(service, enrolled.pseudonym)
    with closing(open_service()) as service:  # a later start adopts nothing more
        _reopened(world, service)
        assert row_count(service, AuditEvent,
                         AuditEvent.action == "enrolment_seals_adopted") == 1
        assert not _enrolment_state(service, enrolled.pseudonym)[2]
        refused("reenrol_at_desk", lambda: enrolled.enrol(enrolled_consent, portrait_jpegs[2]))


@both_backends
def test_an_erased_subject_leaves_no_enrolment_seal(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The seal lives on the subject's row and goes with it; on SQLite (secure_delete, the WAL
    emptied) no data file holds its bytes either (PostgreSQL's old row versions: residue.py)."""
    service = world.service
    person, _ = _enrolled_on_their_own(world, portrait_jpegs[0])
    seal = _enrolment_state(service, person.pseudonym)[1]
    assert seal is not None
    service.runtime.db.checkpoint()
    if not service.runtime.db.shared:
        assert readable_occurrences(service, seal.encode())  # the scan below can fail
    service.erase(actor=world.admin, subject=person.pseudonym, reason=ErasureReason.REQUEST)
    assert row_count(service, Subject, Subject.enrolment_seal == seal) == 0
    if not service.runtime.db.shared:
        assert readable_occurrences(service, seal.encode()) == []


def test_the_enrolment_seal_is_its_own_kind_and_names_its_subject(world: World) -> None:
    """An enrolment seal never passes for another kind's, nor for another subject's row."""
    keys = world.service.runtime.keys
    fields = {"subject": "subj_x", "firstEnrolledAt": None}
    assert row_seals.seal(keys, row_seals.RowKind.ENROLMENT, fields) != row_seals.seal(
        keys, row_seals.RowKind.AGE, fields)
    assert row_seals.seal(keys, row_seals.RowKind.ENROLMENT, fields) != row_seals.seal(
        keys, row_seals.RowKind.ENROLMENT, fields | {"subject": "subj_y"})

"""Enrolment seals (consent.row_seals, kind ``enrolment``): "enrolled before" is sealed by the
service, so a database writer cannot make a subject's next self-service enrolment a first one.

The attack is the one red team 6 (finding 1) left open: the subject's own token enrolled their
face; a writer clears ``subjects.first_enrolled_at`` and deletes the template rows by SQL; the
same token then opens a capture for someone else's photo, which nothing compares with. Then
its sequel: the writer puts back the row and its "never enrolled" seal from a copy taken before
the first enrolment and edits the subjects the log's ``enrol`` events name; the first enrolment
was journaled in the witness folder (``erasure_journal.Enrolled``), out of that writer's reach.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing

import pytest
from sqlalchemy import select

from optinface.consent import enrolment_lines, erasure_journal, row_seals
from optinface.consent.audit_seals import mentions
from optinface.consent.ledger import tombstone_hash
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
    enrolment either: a missing seal counts as enrolled before, and the witness folder's
    journal records the first enrolment (the chained ``enrol`` events name the subject too)."""
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
    assert _errors(caplog, person.pseudonym, "journal records its first enrolment") == 1
    assert _refusals(service) == 2


def _journaled_enrolments(service: OptinFace) -> list[erasure_journal.Enrolled]:
    return [entry for entry in erasure_journal.entries(service.settings.witness_dir)
            if isinstance(entry, erasure_journal.Enrolled)]


def _journal_bytes(service: OptinFace) -> bytes:
    path = erasure_journal.journal_path(service.settings.witness_dir)
    return path.read_bytes() if path.exists() else b""


def test_a_first_enrolment_is_still_the_persons_own_on_the_sealed_row(
    world: World, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture,
) -> None:
    """The legitimate path: created "never enrolled", sealed; the person's own first capture
    enrols, logging nothing, and their next one is compared with it. The first enrolment, and
    it alone, is journaled by the pseudonym's keyed hash, never the pseudonym in clear."""
    service = world.service
    with caplog.at_level(logging.ERROR, logger=ONE_PERSON_LOG):
        person, consent_id = _enrolled_on_their_own(world, portrait_jpegs[0])
    assert not [r for r in caplog.records if r.name == ONE_PERSON_LOG]
    assert len(service.templates(actor=world.portal, subject=person.pseudonym)) == 1
    refused("face_mismatch", lambda: person.enrol(consent_id, portrait_jpegs[1]))
    [line] = _journaled_enrolments(service)
    assert line.subject_hash == tombstone_hash(service.runtime.keys, person.pseudonym)
    assert person.pseudonym.encode() not in _journal_bytes(service)


def _put_back_as_never_enrolled(service: OptinFace, pseudonym: str,
                                never_seal: str | None) -> None:
    """The writer's move with a copy taken before the first enrolment: the template rows
    deleted, the row and its "never enrolled" seal put back, and the log's ``enrol`` events
    made to name no one, so no evidence in the database is left."""
    _cleared_by_sql(service, pseudonym, seal=never_seal)
    outside_sql(service, "UPDATE audit_events SET subjects = '[]' WHERE action = 'enrol'"
                         " AND CAST(subjects AS TEXT) LIKE :p", p=f'%"{pseudonym}"%')


@both_backends
def test_a_never_enrolled_row_put_back_with_the_log_edited_still_loses_to_the_journal(
    world: World, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture,
) -> None:
    """Row, seal and log say "never enrolled": the witness folder's journal still records the
    first enrolment, so the subject's own capture is refused ``reenrol_at_desk`` (logged
    without the pseudonym) and ``audit verify`` fails on the edited log; the desk still
    enrols them again."""
    service = world.service
    person = world.person()
    consent_id = world.consent(person.pseudonym).consent.id
    never_seal = _enrolment_state(service, person.pseudonym)[1]
    person.enrol(consent_id, portrait_jpegs[0])
    _put_back_as_never_enrolled(service, person.pseudonym, never_seal)
    first, _, sealed = _enrolment_state(service, person.pseudonym)
    assert first is None and sealed  # the row proves nothing any more
    assert row_count(service, AuditEvent, AuditEvent.action == "enrol",
                     mentions(person.pseudonym)) == 0  # nor does the log
    with caplog.at_level(logging.ERROR, logger=ONE_PERSON_LOG):
        refused("reenrol_at_desk", lambda: person.enrol(consent_id, portrait_jpegs[1]))
    assert _errors(caplog, person.pseudonym, "journal records its first enrolment") == 1
    assert _refusals(service) == 1
    assert not service.verify_audit().ok
    world.enrol(person.pseudonym, consent_id, portrait_jpegs[0])  # the desk's path
    assert len(_journaled_enrolments(service)) == 2  # the row said "first": journaled again


def test_an_erased_subjects_enrolment_line_keeps_no_one_else_from_enrolling(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """The journal keeps an erased subject's enrolment line (it is append-only), but asks it
    no more: the erasure line refuses that pseudonym for good, and a subject created after is
    given a fresh one, whose first enrolment is their own."""
    service = world.service
    person, _ = _enrolled_on_their_own(world, portrait_jpegs[0])
    service.erase(actor=world.admin, subject=person.pseudonym, reason=ErasureReason.REQUEST)
    assert len(_journaled_enrolments(service)) == 1
    assert not service.runtime.journal_ends.enrolled(service.runtime.keys, person.pseudonym)
    _enrolled_on_their_own(world, portrait_jpegs[0])  # the same face, a new subject


def _as_before_enrolment_seals(service: OptinFace) -> None:
    """The subjects as a version from before migration 0040 left them: no enrolment seal."""
    outside_sql(service, "UPDATE subjects SET enrolment_seal = NULL")


def _reopened(world: World, service: OptinFace) -> None:
    world.service = service
    for person in (*world.people.values(), *world.guardians.values()):
        person.service = service


@pytest.mark.first_start
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


def _as_before_enrolment_lines(older: pytest.MonkeyPatch) -> None:
    """The version before enrolment lines: a first enrolment journals nothing, and no start
    adopts a line (the old code, with the parts it lacked left out)."""
    journaled = erasure_journal.record
    older.setattr(erasure_journal, "record", lambda runtime, *entries: journaled(
        runtime, *(entry for entry in entries if not isinstance(entry, erasure_journal.Enrolled))))
    older.setattr(enrolment_lines, "adopt_once", lambda runtime, **_: None)


def _enrolled_before_the_lines(open_service: Callable[[], OptinFace], clock: FakeClock,
                               face: bytes, monkeypatch: pytest.MonkeyPatch, *,
                               renamed: str) -> None:
    """A person enrolled under the version before enrolment lines, its log witnessed, then the
    events of action ``renamed`` renamed in SQL by a database writer (the witness signed them
    otherwise: the next start finds the log rewritten)."""
    with monkeypatch.context() as older:
        _as_before_enrolment_lines(older)
        with closing(open_service()) as service:
            world = make_world(service, clock)
            enrolled = world.person()
            enrolled.enrol(world.consent(enrolled.pseudonym).consent.id, face)
            service.witness_audit()
            outside_sql(service, "UPDATE audit_events SET action = 'consent_given'"
                                 " WHERE action = :renamed", renamed=renamed)


def _adoptions(service: OptinFace) -> list[tuple[str, object]]:
    with service.runtime.db.reading() as session:
        return [tuple(row) for row in session.execute(
            select(AuditEvent.action, AuditEvent.details).where(AuditEvent.action.in_(
                ["enrolment_lines_adopted", "enrolment_lines_not_adopted"]))
            .order_by(AuditEvent.seq))]


@both_backends
@pytest.mark.first_start
def test_subjects_enrolled_before_their_journal_line_get_it_once_and_a_put_back_row_loses(
    open_service: Callable[[], OptinFace], clock: FakeClock, portrait_jpegs: list[bytes],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Subjects enrolled by a version that journaled no first enrolment: the first start after
    the upgrade journals each of them (by the keyed hash, never the pseudonym), a newcomer
    never enrolled gets no line, nor one whose column a writer set without the key store (its
    seal fails), and one event counts them, naming no one. Then the writer puts
    back the "never enrolled" row and seal and edits the log's ``enrol`` events: the subject's
    own capture is refused ``reenrol_at_desk`` on the journal's word. A later start adopts
    nothing more."""
    with monkeypatch.context() as older:
        _as_before_enrolment_lines(older)
        with closing(open_service()) as service:
            world = make_world(service, clock)
            enrolled = world.person()
            enrolled_consent = world.consent(enrolled.pseudonym).consent.id
            never_seal = _enrolment_state(service, enrolled.pseudonym)[1]
            enrolled.enrol(enrolled_consent, portrait_jpegs[0])
            newcomer = world.person()
            newcomer_consent = world.consent(newcomer.pseudonym).consent.id
            planted = world.person()  # "enrolled before" written by SQL: not the service's word
            outside_sql(service, "UPDATE subjects SET first_enrolled_at = CURRENT_TIMESTAMP"
                                 " WHERE pseudonym = :p", p=planted.pseudonym)
            assert not _journaled_enrolments(service)
    with closing(open_service()) as service:  # the first start after the upgrade
        _reopened(world, service)
        keys = service.runtime.keys
        assert [line.subject_hash for line in _journaled_enrolments(service)] == [
            tombstone_hash(keys, enrolled.pseudonym)]
        assert enrolled.pseudonym.encode() not in _journal_bytes(service)
        assert _adoptions(service) == [("enrolment_lines_adopted", {"enrolment_lines": 1})]
        _put_back_as_never_enrolled(service, enrolled.pseudonym, never_seal)
        with caplog.at_level(logging.ERROR, logger=ONE_PERSON_LOG):
            refused("reenrol_at_desk",
                    lambda: enrolled.enrol(enrolled_consent, portrait_jpegs[1]))
        assert _errors(caplog, enrolled.pseudonym, "journal records its first enrolment") == 1
        newcomer.enrol(newcomer_consent, portrait_jpegs[1])  # a first enrolment, their own
        assert len(_journaled_enrolments(service)) == 2
        journal = _journal_bytes(service)
    with closing(open_service()) as service:  # a later start adopts nothing more
        _reopened(world, service)
        assert _adoptions(service) == [("enrolment_lines_adopted", {"enrolment_lines": 1})]
        assert _journal_bytes(service) == journal
        refused("reenrol_at_desk", lambda: enrolled.enrol(enrolled_consent, portrait_jpegs[2]))


@pytest.mark.first_start
def test_no_enrolment_line_is_adopted_on_a_log_its_witness_does_not_vouch_for(
    open_service: Callable[[], OptinFace], clock: FakeClock, portrait_jpegs: list[bytes],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """A log whose ``enrol`` events were renamed before the upgrade (the witness signed them
    otherwise, ``log_rewritten``): the first start after it journals no one, says so in the
    operator's log and chains ``enrolment_lines_not_adopted``, once: no later start adopts
    either."""
    _enrolled_before_the_lines(open_service, clock, portrait_jpegs[0], monkeypatch,
                               renamed="enrol")  # the enrolment hidden
    for _ in range(2):
        with caplog.at_level(logging.ERROR, logger="optinface.consent.row_seals"), \
                closing(open_service()) as service:
            assert _adoptions(service) == [("enrolment_lines_not_adopted",
                                            {"reason": "log_not_as_witnessed"})]
            assert not _journaled_enrolments(service)
            assert row_count(service, AuditEvent, AuditEvent.action == "log_rewritten") == 1
    assert sum("enrolment lines NOT adopted" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.first_start
def test_no_enrolment_line_is_adopted_on_a_ledger_whose_row_seals_were_refused(
    open_service: Callable[[], OptinFace], clock: FakeClock, portrait_jpegs: list[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The row seals' adoption renamed in SQL before the upgrade: a start of the version before
    refuses the seals (``row_seals_not_adopted``) and signs the edited log from then on, so the
    first start with enrolment lines finds the log as witnessed, yet adopts no line: the rule of
    every adoption after the row seals' (``row_seals.rows_adopted_and``), not a count of 0
    recorded as done."""
    _enrolled_before_the_lines(open_service, clock, portrait_jpegs[0], monkeypatch,
                               renamed="row_seals_adopted")
    with monkeypatch.context() as older:
        _as_before_enrolment_lines(older)
        with closing(open_service()) as service:
            assert row_count(service, AuditEvent,
                             AuditEvent.action == "row_seals_not_adopted") == 1
    with closing(open_service()) as service:
        assert [action for action, _ in _adoptions(service)] == ["enrolment_lines_not_adopted"]
        assert not _journaled_enrolments(service)


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

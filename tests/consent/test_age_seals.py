"""Age seals (consent.row_seals, kind ``age``): what decides who consents for a subject is
sealed by the service, so a child made an adult in the database consents for no one.

The attack is the outside tester's (red team 2, finding 3, minor.py): a Québec child of 13,
whose own consent is refused, made an adult by ``UPDATE subjects SET age_category='adult',
age_declared_on=...`` on a connection of its own while the service runs, then consenting alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from optinface.consent import row_seals
from optinface.consent.errors import Unauthenticated
from optinface.consent.schemas import AgeCategory, ConsentCapacity
from optinface.consent.service import OptinFace
from optinface.consent.soft_person import SoftPerson
from optinface.consent.tables import AuditEvent
from tests.support.backends import both_backends
from tests.support.consent import (
    FakeClock,
    World,
    make_world,
    new_subject_token,
    outside_sql,
    refused,
    row_count,
)

ROW_SEALS_LOG = "optinface.consent.row_seals"


def _made_an_adult(service: OptinFace, pseudonym: str) -> None:
    outside_sql(service, "UPDATE subjects SET age_category = 'adult', age_declared_on = :d"
            " WHERE pseudonym = :p", d=date(2000, 1, 1), p=pseudonym)


def _own_consent(world: World, person: SoftPerson) -> str:
    return person.consent(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                          expires_at=world.clock.now() + timedelta(days=300)).consent.id


def _refusals(service: OptinFace, code: str) -> int:
    return row_count(service, AuditEvent, AuditEvent.action == "refused",
                     AuditEvent.outcome == code)


@both_backends
def test_a_child_made_an_adult_in_the_database_consents_for_no_one(
    world: World, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture,
) -> None:
    """minor.py: refused before the edit (guardian_consent_required), refused after it too
    (age_unsealed, chained and logged), and the guardian's passkey no more speaks from the
    edited row: neither the consent nor the photo its consent would let in."""
    service = world.service
    child = world.person(age=AgeCategory.MINOR_13)
    refused("guardian_consent_required", lambda: _own_consent(world, child))
    guardians = world.consent(child.pseudonym).consent  # given while the row was the service's
    guardian = world.guardians[child.pseudonym]
    token = new_subject_token(service, guardian)
    _made_an_adult(service, child.pseudonym)
    with caplog.at_level(logging.ERROR, logger=ROW_SEALS_LOG):
        refused("age_unsealed", lambda: _own_consent(world, child))
    assert _refusals(service, "age_unsealed") == 1
    said = [r.getMessage() for r in caplog.records if r.name == ROW_SEALS_LOG]
    assert any("age or jurisdiction carries no valid seal" in line for line in said)
    assert not any(child.pseudonym in line for line in said)  # a log outlives an erasure
    refused("age_unsealed", lambda: world.consent(child.pseudonym))  # nor the guardian's
    refused("age_unsealed", lambda: world.enrol(child.pseudonym, guardians.id,
                                                portrait_jpegs[0]))
    refused("age_unsealed", lambda: new_subject_token(service, guardian))  # nor signs them in
    with pytest.raises(Unauthenticated):  # and the token it had opens nothing
        service.authenticate(token)
    assert row_count(service, AuditEvent, AuditEvent.action == "consent_given") == 1
    assert service.verify_audit().ok


def test_a_guardians_token_opens_nothing_once_the_age_is_edited_even_left_a_minor(
    world: World,
) -> None:
    """The guardian's token's own seal check (apikeys.authenticate; the capacity rule it asks
    next does not check it again): an edit that leaves the person a minor, their bracket's date
    moved a day, decides nothing either, and the token opens nothing."""
    service = world.service
    child = world.person(age=AgeCategory.MINOR_13)
    world.consent(child.pseudonym)
    token = new_subject_token(service, world.guardians[child.pseudonym])
    assert service.authenticate(token).capacity == ConsentCapacity.PARENTAL_AUTHORITY
    outside_sql(service, "UPDATE subjects SET age_declared_on = :d WHERE pseudonym = :p",
                d=world.clock.now().date() - timedelta(days=1), p=child.pseudonym)
    with pytest.raises(Unauthenticated):
        service.authenticate(token)


@both_backends
def test_an_adult_made_a_child_again_in_the_database_consents_for_no_one(world: World) -> None:
    """The other way round: a person who came of age made 13 again today, as someone would
    who wants a guardian's passkey to speak for them again: the row decides nothing."""
    service = world.service
    grown = world.person(age=AgeCategory.MINOR_13, declared_on=date(2020, 1, 1))
    assert _own_consent(world, grown)  # 13 in 2020: of age in Québec today
    outside_sql(service, "UPDATE subjects SET age_declared_on = :d WHERE pseudonym = :p",
            d=world.clock.now().date(), p=grown.pseudonym)
    refused("age_unsealed", lambda: _own_consent(world, grown))


def test_a_minor_who_comes_of_age_consents_alone_on_the_row_the_service_sealed(
    world: World,
) -> None:
    """The legitimate way a minor becomes an adult: their dated bracket ages (nothing is
    written to the row), and the seal made at creation still holds when they consent."""
    child = world.person(age=AgeCategory.MINOR_13, declared_on=world.clock.now().date())
    refused("guardian_consent_required", lambda: _own_consent(world, child))
    world.clock.advance(seconds=366 * 86400)  # 14, Québec's age of consent
    given = child.consent(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                          expires_at=world.clock.now() + timedelta(days=300))
    assert given.consent.given_by is ConsentCapacity.SELF
    assert given.receipt.receipt["capacity"] == {"givenBy": "self", "ageCategory": "minor_13",
                      "ageDeclaredOn": (world.clock.now().date()
                                        - timedelta(days=366)).isoformat(),
                      "jurisdiction": "QC"}


def _as_before_age_seals(service: OptinFace) -> None:
    """The subjects as a version from before migration 0035 left them: no age seal."""
    outside_sql(service, "UPDATE subjects SET age_seal = NULL")


@pytest.mark.first_start
def test_subjects_from_before_age_seals_are_adopted_once_and_an_age_edited_after_is_not(
    open_service: Callable[[], OptinFace], clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deployment from before migration 0035: its subjects carry no age seal. The first
    start after the upgrade seals them, chained once with the count, and each is judged as
    before; an age edited after that is adopted by no later start."""
    with monkeypatch.context() as older:  # the version before: no age adoption, no age seal
        older.setattr(row_seals, "adopt_ages_once", lambda runtime, **_: None)
        with closing(open_service()) as service:
            world = make_world(service, clock)
            child = world.person(age=AgeCategory.MINOR_13)
            adult = world.person()
            _as_before_age_seals(service)
            refused("age_unsealed", lambda: _own_consent(world, adult))
    with closing(open_service()) as service:  # the first start after the upgrade
        world.service = service
        for person in (*world.people.values(), *world.guardians.values()):
            person.service = service
        with service.runtime.db.transaction() as session:
            [adopted] = session.scalars(select(AuditEvent.details).where(
                AuditEvent.action == "age_seals_adopted")).all()
        assert adopted == {"ages": 2}
        assert _own_consent(world, adult)
        refused("guardian_consent_required", lambda: _own_consent(world, child))
        assert world.consent(child.pseudonym).consent.given_by is (
            ConsentCapacity.PARENTAL_AUTHORITY)
        _made_an_adult(service, child.pseudonym)
    with closing(open_service()) as service:  # a later start adopts nothing more
        for person in (*world.people.values(), *world.guardians.values()):
            person.service = service
        world.service = service
        assert row_count(service, AuditEvent, AuditEvent.action == "age_seals_adopted") == 1
        refused("age_unsealed", lambda: _own_consent(world, child))


def test_the_age_seal_is_its_own_kind_and_names_its_subject(world: World) -> None:
    """An age seal never passes for another kind's, nor for another subject's row."""
    keys = world.service.runtime.keys
    fields = {"subject": "subj_x", "ageCategory": "adult", "ageDeclaredOn": None,
              "jurisdiction": "QC"}
    assert row_seals.seal(keys, row_seals.RowKind.AGE, fields) != row_seals.seal(
        keys, row_seals.RowKind.OPT_IN, fields)
    assert row_seals.seal(keys, row_seals.RowKind.AGE, fields) != row_seals.seal(
        keys, row_seals.RowKind.AGE, fields | {"subject": "subj_y"})

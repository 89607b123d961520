"""Minors: the guardian's own passkey, an age bracket that carries its date, and a person who
comes of age asked for their own consent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from optinface.consent.errors import ConsentError
from optinface.consent.schemas import AgeCategory, ConsentCapacity
from optinface.consent.settings import ConsentSettings
from tests.support.consent import World


def test_quebec_age_of_consent_cannot_be_configured_below_14() -> None:
    with pytest.raises(ValidationError):
        ConsentSettings(quebec_min_age=13)
    assert ConsentSettings(quebec_min_age=14).quebec_min_age == 14


def test_the_age_bracket_carries_the_day_it_was_declared(world: World) -> None:
    person = world.person(age=AgeCategory.MINOR_13)
    subject = world.service.get_subject(actor=person.actor, subject=person.pseudonym)
    assert subject.age_declared_on == world.clock.now().date()


def test_a_minor_who_comes_of_age_is_asked_to_consent_in_their_own_name(world: World) -> None:
    minor = world.person(age=AgeCategory.MINOR_13)  # Québec: 14 is the age of consent
    days = 2 * 365

    def own_consent():  # type: ignore[no-untyped-def]
        return minor.consent(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                             expires_at=world.clock.now() + timedelta(days=days))

    with pytest.raises(ConsentError) as refused:
        own_consent()
    assert refused.value.code == "guardian_consent_required"
    given = world.consent(minor.pseudonym, days=days)  # signed by the guardian's passkey
    assert given.consent.given_by is ConsentCapacity.PARENTAL_AUTHORITY
    assert world.service.sweep().own_consent_requested == 0

    world.clock.advance(days=366)  # the bracket's 13 is now surely 14
    report = world.service.sweep()
    assert report.own_consent_requested == 1
    subject = world.service.get_subject(actor=minor.actor, subject=minor.pseudonym)
    assert subject.own_consent_requested_at == world.clock.now()
    assert world.service.sweep().own_consent_requested == 0  # asked once
    assert own_consent().consent.given_by is ConsentCapacity.SELF

"""Illinois BIPA s. 15: a written release, a public retention schedule with the 3-year cap, and
no sale or trade of biometric data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from optinface.consent.errors import GuardianConsentRequired, WrittenReleaseRequired
from optinface.consent.schemas import (
    AgeCategory,
    ConsentCapacity,
    ConsentMethod,
    SubjectCreate,
)
from optinface.consent.settings import ConsentSettings, Jurisdiction
from tests.consent.conftest import World


def _illinois(world: World, age: AgeCategory = AgeCategory.ADULT) -> str:
    return world.service.create_subject(actor=world.portal, body=SubjectCreate(
        age_category=age, jurisdiction=Jurisdiction.IL)).pseudonym


def test_illinois_needs_a_written_release_not_a_click(world: World) -> None:
    pseudonym = _illinois(world)
    click = world.consent_body().model_copy(update={"method": ConsentMethod.PORTAL_CLICK})
    with pytest.raises(WrittenReleaseRequired):
        world.service.give_consent(actor=world.portal, subject=pseudonym, body=click)
    signed = world.service.give_consent(actor=world.portal, subject=pseudonym,
                                        body=world.consent_body())  # e_signature
    assert signed.consent.method == "e_signature"
    # Elsewhere a portal click is still express consent.
    quebec, _ = world.subject()
    world.service.give_consent(actor=world.portal, subject=quebec, body=click)


def test_an_illinois_minor_needs_the_legally_authorized_representative(world: World) -> None:
    pseudonym = _illinois(world, AgeCategory.MINOR_16_17)
    with pytest.raises(GuardianConsentRequired):
        world.service.give_consent(actor=world.portal, subject=pseudonym,
                                   body=world.consent_body())
    world.service.give_consent(actor=world.portal, subject=pseudonym, body=world.consent_body(
        given_by=ConsentCapacity.PARENTAL_AUTHORITY))


def test_retention_after_the_last_interaction_can_never_exceed_three_years(
    tmp_path: Path
) -> None:
    with pytest.raises(ValidationError):
        ConsentSettings(data_dir=tmp_path, retention_years_after_last_interaction=4)
    assert ConsentSettings(data_dir=tmp_path, retention_years_after_last_interaction=2
                           ).retention_years_after_last_interaction == 2


def test_the_public_schedule_and_the_register_state_the_bipa_rules(world: World) -> None:
    register = world.service.register()
    assert register.biometric_data_sold_or_traded is False
    markdown = world.service.render_register(register)
    assert "sold, leased or traded**: never" in markdown
    schedule = world.service.privacy_statement().retention_rules
    assert any("3 years after the last interaction, whichever comes first" in rule
               for rule in schedule)
    assert any("Illinois" in category for category in register.categories_of_persons)
    assert timedelta(days=3 * 365) >= timedelta(
        days=365 * world.service.settings.retention_years_after_last_interaction)

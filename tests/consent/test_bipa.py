"""Illinois BIPA s. 15: a written release, a public retention schedule with the 3-year cap, and
no sale or trade of biometric data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from optinface.consent import policies
from optinface.consent.errors import GuardianConsentRequired, WrittenReleaseRequired
from optinface.consent.schemas import AgeCategory, ConsentCapacity, ConsentMethod
from optinface.consent.settings import ConsentSettings, Jurisdiction
from optinface.consent.tables import Subject
from tests.support.consent import World


def test_illinois_needs_a_written_release_and_a_passkey_signature_is_one(world: World) -> None:
    person = world.person(jurisdiction=Jurisdiction.IL)
    signed = world.consent(person.pseudonym)  # the person's own passkey: an e-signature
    assert signed.consent.method == "passkey"
    illinois = Subject(pseudonym="subj_il", jurisdiction="IL", age_category="adult")
    with pytest.raises(WrittenReleaseRequired):  # a click would not be one
        policies.require_written_release(illinois, ConsentMethod.PORTAL_CLICK)
    policies.require_written_release(illinois, ConsentMethod.E_SIGNATURE)


def test_an_illinois_minor_needs_the_legally_authorized_representative(world: World) -> None:
    minor = world.person(age=AgeCategory.MINOR_16_17, jurisdiction=Jurisdiction.IL)
    with pytest.raises(GuardianConsentRequired):
        minor.consent(purposes=[world.purpose], notice_id=world.notice,
                      expires_at=world.clock.now() + timedelta(days=30))
    given = world.consent(minor.pseudonym)  # signed by the representative's own passkey
    assert given.consent.given_by is ConsentCapacity.PARENTAL_AUTHORITY


def test_retention_after_the_last_interaction_can_never_exceed_three_years(
    tmp_path: Path
) -> None:
    with pytest.raises(ValidationError):
        ConsentSettings(data_dir=tmp_path, retention_years_after_last_interaction=4)
    assert ConsentSettings(data_dir=tmp_path, retention_years_after_last_interaction=2
                           ).retention_years_after_last_interaction == 2


def test_the_public_schedule_and_the_register_state_the_bipa_rules(world: World) -> None:
    register = world.service.register()
    markdown = world.service.render_register(register)
    assert "sold, leased or traded**: never" in markdown
    schedule = world.service.privacy_statement().retention_rules
    assert any("3 years after the last interaction, whichever comes first" in rule
               for rule in schedule)
    assert any("Illinois" in category for category in register.categories_of_persons)
    assert timedelta(days=3 * 365) >= timedelta(
        days=365 * world.service.settings.retention_years_after_last_interaction)

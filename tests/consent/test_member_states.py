"""The age of digital consent per EU member state and the UK (GDPR art. 8(1), DPA 2018 s. 9):
each ``EU-XX`` subject is held to its state's age, plain ``EU`` to the deployment's
``gdpr_min_age``; the receipt states the jurisdiction that decided it, and the age seal covers
the new values (G-05, X-MIN)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from optinface.consent import transfers
from optinface.consent.policies import AGES_OF_DIGITAL_CONSENT, age_of_consent
from optinface.consent.schemas import AgeCategory, ConsentCapacity
from optinface.consent.settings import ConsentSettings, Jurisdiction
from tests.support.backends import both_backends
from tests.support.consent import World, outside_sql, refused


@pytest.fixture
def settings(settings: ConsentSettings, request: pytest.FixtureRequest) -> ConsentSettings:
    """The consent tests' deployment, at the ``gdpr_min_age`` a test asks (16 unless told)."""
    return settings.model_copy(update={"gdpr_min_age": getattr(request, "param", 16)})


def _consents_alone(world: World, age: AgeCategory, jurisdiction: Jurisdiction) -> bool:
    """Whether a new subject of ``age`` and ``jurisdiction`` gives their consent alone: else
    their own is refused and their guardian's passkey signs it."""
    person = world.person(age=age, jurisdiction=jurisdiction)
    own = lambda: person.consent(  # noqa: E731
        purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
        expires_at=world.clock.now() + timedelta(days=30))
    if person.pseudonym not in world.guardians:
        given = own()
        assert given.consent.given_by is ConsentCapacity.SELF
        return True
    refused("guardian_consent_required", own)
    given = world.consent(person.pseudonym)
    assert given.consent.given_by is ConsentCapacity.PARENTAL_AUTHORITY
    assert given.receipt.receipt["capacity"]["jurisdiction"] == str(jurisdiction)
    return False


def test_every_member_state_and_the_uk_have_one_age_from_13_to_16() -> None:
    """GDPR art. 8(1): no state below 13 nor above 16; every ``EU-XX`` value and the UK are in
    the one table, and nothing else is."""
    states = {j for j in Jurisdiction if j.regime is Jurisdiction.EU} - {Jurisdiction.EU}
    assert len(states) == 27
    assert set(AGES_OF_DIGITAL_CONSENT) == states | {Jurisdiction.UK}
    assert all(13 <= age <= 16 for age in AGES_OF_DIGITAL_CONSENT.values())
    assert {j.value for j in states} >= {"EU-GR", "EU-DE", "EU-IT"}  # Greece is GR, not EL
    settings = ConsentSettings(gdpr_min_age=13)
    assert {str(j): age_of_consent(j, settings) for j in (
        Jurisdiction.EU_IT, Jurisdiction.EU_DE, Jurisdiction.EU_FR, Jurisdiction.EU_BE,
        Jurisdiction.UK, Jurisdiction.EU)} == {
        "EU-IT": 14, "EU-DE": 16, "EU-FR": 15, "EU-BE": 13, "UK": 13, "EU": 13}


@both_backends
def test_a_14_year_old_consents_alone_in_italy_and_through_the_guardian_in_germany(
    world: World,
) -> None:
    assert _consents_alone(world, AgeCategory.MINOR_14, Jurisdiction.EU_IT)
    assert not _consents_alone(world, AgeCategory.MINOR_14, Jurisdiction.EU_DE)
    assert _consents_alone(world, AgeCategory.MINOR_13, Jurisdiction.UK)
    assert not _consents_alone(world, AgeCategory.MINOR_14, Jurisdiction.EU_FR)


@pytest.mark.parametrize(("settings", "alone"), [(16, False), (13, True)],
                         indirect=["settings"])
def test_plain_eu_still_follows_the_deployments_gdpr_min_age(world: World, alone: bool) -> None:
    assert _consents_alone(world, AgeCategory.MINOR_13, Jurisdiction.EU) is alone
    # A member state's age is its law's, whatever the deployment's setting.
    assert _consents_alone(world, AgeCategory.MINOR_13, Jurisdiction.EU_BE)
    assert not _consents_alone(world, AgeCategory.MINOR_13, Jurisdiction.EU_DE)


def test_a_guardians_consent_ends_thirty_days_after_the_member_states_age(world: World) -> None:
    """A 14-year-old in Germany comes of age two years on, one in France a year on."""
    declared = world.clock.now().date()
    for jurisdiction, years in ((Jurisdiction.EU_DE, 2), (Jurisdiction.EU_FR, 1)):
        person = world.person(age=AgeCategory.MINOR_14, jurisdiction=jurisdiction)
        given = world.consent(person.pseudonym).consent
        assert given.guardian_until == datetime.combine(
            declared.replace(year=declared.year + years), time.min, tzinfo=UTC) + timedelta(
            days=30)


def test_a_member_state_changed_in_the_database_consents_for_no_one(world: World) -> None:
    """A German 14-year-old moved to Italy by SQL (where 14 consents alone) carries no valid
    age seal: their own consent is refused, and so is their guardian's."""
    person = world.person(age=AgeCategory.MINOR_14, jurisdiction=Jurisdiction.EU_DE)
    outside_sql(world.service, "UPDATE subjects SET jurisdiction = 'EU-IT' WHERE pseudonym = :p",
                p=person.pseudonym)
    refused("age_unsealed", lambda: person.consent(
        purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
        expires_at=world.clock.now() + timedelta(days=30)))
    refused("age_unsealed", lambda: world.consent(person.pseudonym))


def test_a_member_states_person_is_the_gdprs_for_the_representative_and_the_register(
    world: World,
) -> None:
    """Beyond the age, ``EU-XX`` is the GDPR's: no person of a member state is taken while the
    EU representative is owed (art. 27); the register states the EEA's transfer once for them
    and for plain ``EU`` alike, and a recipient outside the EEA needs an assessment."""
    person = world.person(jurisdiction=Jurisdiction.EU_DE)  # demo mode: accepted
    world.service.settings.demo_mode = False
    refused("eu_representative_required",
            lambda: world.person(jurisdiction=Jurisdiction.EU_IT))
    refused("eu_representative_required", lambda: world.consent(person.pseudonym))
    world.person(jurisdiction=Jurisdiction.UK)  # the UK GDPR's representative is not modelled
    assert [t.jurisdiction for t in world.service.register().transfers].count(
        Jurisdiction.EU) == 1
    assert transfers.area_left(Jurisdiction.EU_FR, country="US", region=None) == "the EEA"
    assert transfers.area_left(Jurisdiction.EU_FR, country="DE", region=None) is None

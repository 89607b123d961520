"""Which accountability settings are placeholders, when they stop a deployment or an EU
subject, and the non-biometric alternative a person may choose instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from optinface.consent.accountability import placeholders, require_accountable
from optinface.consent.audit import AuditAction
from optinface.consent.errors import AlternativeChosen, PlaceholderAccountability
from optinface.consent.schemas import AuditFilter, ConsentCapacity, ErasureReason
from optinface.consent.settings import ConsentSettings, Jurisdiction
from optinface.consent.tables import Subject
from tests.api.test_privacy import REAL
from tests.support.consent import World, refused, row_count


def test_the_defaults_are_all_placeholders(tmp_path: Path) -> None:
    found = placeholders(ConsentSettings(data_dir=tmp_path))
    assert {"privacy_officer_name", "privacy_officer_contact", "dpo_contact", "pia_reference",
            "pia_sha256", "policy_url", "hosting_provider",
            "non_biometric_alternative"} <= set(found)
    with pytest.raises(PlaceholderAccountability):
        require_accountable(ConsentSettings(data_dir=tmp_path))


def test_demo_mode_allows_placeholders(tmp_path: Path) -> None:
    require_accountable(ConsentSettings(data_dir=tmp_path, demo_mode=True))


def test_real_accountability_is_accepted(tmp_path: Path) -> None:
    assert placeholders(ConsentSettings(data_dir=tmp_path, **REAL)) == []


def test_an_eu_deployment_needs_an_eu_representative(tmp_path: Path) -> None:
    eu = ConsentSettings(data_dir=tmp_path, jurisdiction=Jurisdiction.EU, **REAL)
    assert placeholders(eu) == ["eu_representative"]
    named = eu.model_copy(update={"eu_representative": "Rep GmbH, Berlin, rep@rep.de"})
    assert placeholders(named) == []
    established = eu.model_copy(update={"eu_establishment": True})
    assert placeholders(established) == []


def test_an_eu_subject_needs_the_eu_representative_outside_demo_mode(world: World) -> None:
    """GDPR art. 27: no EU person is taken while the representative is owed and not named; as
    for every placeholder, demo mode (never real people) is excused."""
    settings = world.service.settings
    world.person(jurisdiction=Jurisdiction.EU)  # demo mode
    settings.demo_mode = False
    before = row_count(world.service, Subject)
    refused("eu_representative_required", lambda: world.person(jurisdiction=Jurisdiction.EU))
    settings.eu_representative = "(placeholder) name the representative"
    refused("eu_representative_required", lambda: world.person(jurisdiction=Jurisdiction.EU))
    assert row_count(world.service, Subject) == before  # refused: nothing was created
    world.person(jurisdiction=Jurisdiction.QC)
    settings.eu_representative = "Rep GmbH, Berlin, rep@rep.de"
    world.person(jurisdiction=Jurisdiction.EU)
    settings.eu_representative, settings.eu_establishment = None, True
    world.person(jurisdiction=Jurisdiction.EU)


def test_an_eu_person_taken_while_accepted_gets_nothing_new_once_not_and_the_register_says_so(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Taken while the deployment accepted them (here demo mode; elsewhere a representative
    or an EU establishment since unset): from then on no new consent, link or photo, the
    register still states their transfer and warns; their rights still work."""
    settings = world.service.settings
    person = world.person(jurisdiction=Jurisdiction.EU)
    given = world.consent(person.pseudonym).consent
    settings.demo_mode = False
    refused("eu_representative_required", lambda: world.consent(person.pseudonym))
    refused("eu_representative_required",
            lambda: world.enrol(person.pseudonym, given.id, portrait_jpegs[0]))
    refused("eu_representative_required", lambda: world.service.new_enrolment_link(
        actor=world.portal, subject=person.pseudonym, capacity=ConsentCapacity.SELF))
    refused("eu_representative_required", lambda: person.set_searchable(True))
    assert person.set_searchable(False).searchable is False  # opting out stays open
    register = world.service.register()
    assert Jurisdiction.EU in [t.jurisdiction for t in register.transfers]
    assert any("no longer accepts them" in w for w in register.warnings)
    assert person.withdraw(given.id).subject_erased  # the right to withdraw is untouched


def test_the_pia_hash_must_be_a_sha256(tmp_path: Path) -> None:
    assert placeholders(ConsentSettings(data_dir=tmp_path, **{**REAL, "pia_sha256": "abc"})) == [
        "pia_sha256"]


def test_choosing_the_alternative_destroys_templates_and_refuses_enrolment(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    pseudonym, consent = world.subject()
    world.enrol(pseudonym, consent, portrait_jpegs[0])
    chosen = world.service.choose_alternative(actor=world.signer(pseudonym).actor,
                                              subject=pseudonym)
    assert chosen.templates_destroyed == 1 and chosen.alternative
    assert chosen.subject.alternative_chosen_at is not None and not chosen.subject.searchable
    assert world.service.index.count() == 0
    with pytest.raises(AlternativeChosen):
        world.enrol(pseudonym, consent, portrait_jpegs[0])
    events = world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.ALTERNATIVE_CHOSEN)).events
    assert [e.subjects for e in events] == [[pseudonym]]


def test_the_alternative_is_in_every_notice_and_receipt(world: World) -> None:
    alternative = world.service.settings.non_biometric_alternative
    assert all(n.accountability and n.accountability.non_biometric_alternative == alternative
               for n in world.service.list_notices(actor=world.admin))
    pseudonym, _ = world.subject()
    [consent] = world.service.list_consents(actor=world.portal, subject=pseudonym)
    assert consent.receipt is not None
    assert consent.receipt.receipt["accountability"]["non_biometric_alternative"] == alternative
    receipt = world.service.erase(actor=world.portal, subject=pseudonym,
                                  reason=ErasureReason.REQUEST)
    assert receipt.signed.receipt["accountability"]["non_biometric_alternative"] == alternative

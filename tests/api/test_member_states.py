"""The member states' ages of digital consent over HTTP (G-05, X-MIN): ``EU-XX`` and ``UK`` are
jurisdictions a desk names when it creates a subject, each at its own age; anything else is the
API's 422 ``validation_error``; "My data" names the jurisdiction in the reader's words."""

from __future__ import annotations

from typing import Any

import pytest

from optinface.api.soft_person import SoftHttpPerson, SoftPersonFailed
from tests.support.api import World, assert_refused, auth, in_a_year
from tests.support.backends import on_both_backends

pytestmark = [pytest.mark.shared_deployment, on_both_backends]

FRENCH_READER = {"Accept-Language": "fr-CA,fr;q=0.9"}


def _consent_alone(world: World, person: SoftHttpPerson) -> dict[str, Any]:
    return person.consent(purposes=[world.purpose_id], notice_id=world.notice_id,
                          expires_at=in_a_year())


@pytest.mark.parametrize(("age", "jurisdiction", "alone"), [
    ("minor_14", "EU-IT", True), ("minor_14", "EU-DE", False), ("minor_13", "UK", True),
    ("minor_15", "EU", False),  # plain EU: the deployment's gdpr_min_age (16 by default)
])
def test_a_minor_consents_alone_from_their_member_states_age(
    world: World, age: str, jurisdiction: str, alone: bool,
) -> None:
    person, answer = world.new_person(age=age, jurisdiction=jurisdiction)
    assert (answer["guardian_enrolment"] is None) is alone
    if alone:
        given = _consent_alone(world, person)
        capacity = given["receipt"]["receipt"]["capacity"]
        assert (capacity["givenBy"], capacity["ageCategory"], capacity["jurisdiction"]) == (
            "self", age, jurisdiction)
    else:
        with pytest.raises(SoftPersonFailed) as failed:
            _consent_alone(world, person)
        assert_refused(failed.value.response, 403, "guardian_consent_required")


@pytest.mark.parametrize("jurisdiction", ["EU-XX", "EU-EL", "eu-it", "GB", "EU-", ""])
def test_an_unknown_jurisdiction_is_a_422_validation_error(world: World,
                                                           jurisdiction: str) -> None:
    answer = world.client.post("/v1/subjects", headers=auth(world.keys.portal),
                               json={"age_category": "minor_14", "jurisdiction": jurisdiction})
    assert_refused(answer, 422, "validation_error")


def test_the_schema_offers_every_member_state_and_the_uk(world: World) -> None:
    schema = world.client.get("/openapi.json").json()
    offered = set(schema["components"]["schemas"]["Jurisdiction"]["enum"])
    assert {"QC", "EU", "IL", "UK", "EU-GR", "EU-IT", "EU-DE"} <= offered
    assert len(offered) == 3 + 27 + 1


def test_my_data_names_the_member_state_in_the_readers_words(world: World) -> None:
    person, _ = world.new_person(jurisdiction="EU-GR")
    url = f"/v1/subjects/{person.pseudonym}/export"
    english = world.client.get(url, params={"format": "md"}, headers=person.headers).text
    assert "Greece (GDPR)" in english
    french = world.client.get(url, params={"format": "md"},
                              headers={**person.headers, **FRENCH_READER}).text
    assert "Grèce (RGPD)" in french

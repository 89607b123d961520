"""Stopping one use through the JSON API, signed by the person, as the portal's button does.

``POST /v1/subjects/{s}/consents/{c}/purposes/{p}/withdraw`` carries the person's signed
``withdraw`` act naming the purpose; an operator key is refused as on every signed act, and a
signature is never stretched to withdraw more than the person signed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optinface.api.soft_person import SoftPersonFailed
from optinface.consent.service import OptinFace
from tests.support.api import World, assert_refused, auth, operators, verify_receipt_file

pytestmark = pytest.mark.shared_deployment


def _url(world: World, consent_id: str, purpose_id: str) -> str:
    return f"/v1/subjects/{world.subject}/consents/{consent_id}/purposes/{purpose_id}/withdraw"


def test_a_person_stops_one_use_over_the_api_and_keeps_the_other(
    world: World, second_use: str, service: OptinFace, tmp_path: Path
) -> None:
    consent_id = world.consent(world.subject, purposes=[world.purpose_id, second_use])
    result = world.people[world.subject].withdraw(consent_id, purpose_id=second_use)
    assert not result["subject_erased"]
    assert result["consent"]["status"] == "active"
    assert result["consent"]["purposes"] == [world.purpose_id]
    receipt = result["purpose_withdrawal"]["receipt"]["receipt"]
    assert receipt["withdrawnPurposeID"] == second_use
    assert receipt["subjectSignature"]["statement"]["purposeId"] == second_use
    listed = world.client.get(f"/v1/subjects/{world.subject}/consents",
                              headers=world.people[world.subject].headers).json()
    assert next(c for c in listed if c["id"] == consent_id)["purposes"] == [world.purpose_id]
    path = tmp_path / "stopped.json"
    path.write_text(json.dumps(result["purpose_withdrawal"]["receipt"]))
    verified = verify_receipt_file(path, service.public_key)
    assert verified.exit_code == 0, verified.output
    assert "valid passkey signature(s) by the person" in verified.output


def test_stopping_the_last_use_of_a_consent_withdraws_it(world: World) -> None:
    result = world.people[world.subject].withdraw(world.consent_id, purpose_id=world.purpose_id)
    assert result["consent"]["status"] == "withdrawn"
    assert result["subject_erased"]  # it was the person's only consent: everything erased


def test_an_operator_key_cannot_stop_a_use_for_the_subject(
    world: World, second_use: str
) -> None:
    consent_id = world.consent(world.subject, purposes=[world.purpose_id, second_use])
    signed = world.people[world.subject].sign(
        {"act": "withdraw", "consent_id": consent_id, "purpose_id": second_use})
    for key in operators(world):
        assert_refused(world.client.post(_url(world, consent_id, second_use), json=signed,
                                         headers=auth(key)), 403, "subject_credential_required")
        assert_refused(world.client.post(f"/v1/subjects/{world.subject}/challenges",
                                         headers=auth(key),
                                         json={"act": "withdraw", "consent_id": consent_id,
                                               "purpose_id": second_use}),
                       403, "subject_credential_required")


def test_a_signature_withdraws_only_what_the_person_signed(
    world: World, second_use: str
) -> None:
    consent_id = world.consent(world.subject, purposes=[world.purpose_id, second_use])
    person = world.people[world.subject]
    stop_b = person.sign({"act": "withdraw", "consent_id": consent_id, "purpose_id": second_use})
    whole = f"/v1/subjects/{world.subject}/consents/{consent_id}/withdraw"
    assert_refused(world.client.post(whole, json=stop_b, headers=person.headers), 403,
                   "challenge_invalid")  # stopping B never ends the consent to A
    stop_b = person.sign({"act": "withdraw", "consent_id": consent_id, "purpose_id": second_use})
    assert_refused(world.client.post(_url(world, consent_id, world.purpose_id), json=stop_b,
                                     headers=person.headers), 403, "challenge_invalid")
    with pytest.raises(SoftPersonFailed) as unknown:
        person.withdraw(world.consent_id, purpose_id=second_use)  # not a purpose of it
    assert_refused(unknown.value.response, 404, "not_found")
    consent = world.client.get(f"/v1/subjects/{world.subject}/consents",
                               headers=person.headers).json()
    kept = next(c for c in consent if c["id"] == consent_id)["purposes"]
    assert sorted(kept) == sorted([world.purpose_id, second_use])


def test_the_route_is_documented_with_its_refusals(world: World) -> None:
    spec = world.client.get("/openapi.json").json()
    route = spec["paths"][
        "/v1/subjects/{subject}/consents/{consent_id}/purposes/{purpose_id}/withdraw"]["post"]
    assert "challenge_invalid" in route["description"]
    assert route["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PasskeyResponse")

"""What a request sends into a lookup or a column fits both databases: PostgreSQL refuses a NUL
in any text and holds 32 bits in an ``Integer`` column, where SQLite takes both, so a value past
either was a 500 on PostgreSQL alone. Each is refused as the malformed input it is, without
being echoed back. Found by fuzzing the OpenAPI schema on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cbor2
import pytest

from optinface.consent.identifiers import MAX_INTEGER_COLUMN
from optinface.consent.passkeys import MAX_CREDENTIAL_ID_BYTES, b64url, from_b64url
from optinface.consent.soft_authenticator import SoftAuthenticator
from tests.support.api import ORIGIN, World, assert_refused, auth
from tests.support.backends import on_both_backends

pytestmark = [pytest.mark.shared_deployment, on_both_backends]

PAST_AN_INTEGER_COLUMN = MAX_INTEGER_COLUMN + 1
NOT_AN_ID = ["cap\x00x", "x" * 65, "cap\nx", "cap\u202ex"]


@pytest.mark.parametrize("capture_id", NOT_AN_ID)
def test_a_capture_id_that_cannot_be_one_is_refused_unechoed(
    world: World, portrait_jpegs: list[bytes], capture_id: str
) -> None:
    answer = world.client.post(
        f"/v1/subjects/{world.subject}/faces", data={"capture_id": capture_id},
        files={"image": ("x.jpg", portrait_jpegs[0], "image/jpeg")},
        headers=auth(world.keys.portal))
    assert_refused(answer, 422, "validation_error")
    assert capture_id not in answer.text


@pytest.mark.parametrize("route", ["/v1/passkeys/registration-options",
                                   "/v1/probe-links/registration-options",
                                   "/v1/probe-links/subject-challenge",
                                   "/v1/probe-links/request"])
def test_a_link_whose_id_cannot_be_one_is_unknown(world: World, route: str) -> None:
    answer = world.client.post(route, json={"link": "otl_lnk_\x00.secret-part"})
    assert_refused(answer, 410, "link_invalid")


def test_a_sign_in_naming_a_credential_that_cannot_be_one_opens_nothing(world: World) -> None:
    challenge = world.client.post("/v1/passkeys/sign-in-options").json()
    credential = world.people[world.subject].authenticator.get(challenge["options"])
    answer = world.client.post("/v1/passkeys/sign-ins", json={
        "ceremony_id": challenge["ceremony_id"], "credential": credential | {"id": "a\x00b"}})
    assert_refused(answer, 403, "passkey_invalid")


@pytest.mark.parametrize(("length", "status"), [(MAX_CREDENTIAL_ID_BYTES, 201),
                                                 (MAX_CREDENTIAL_ID_BYTES + 1, 403),
                                                 (1100, 403)])
def test_a_passkey_is_registered_only_with_a_credential_id_webauthn_allows(
    world: World, length: int, status: int
) -> None:
    """A client's unsigned ("none") attestation may claim any credential id; past 1050 bytes
    it no longer fit the column: a 500 on PostgreSQL."""
    made = world.client.post("/v1/subjects", json={"age_category": "adult"},
                             headers=auth(world.keys.portal)).json()
    options = world.client.post("/v1/passkeys/registration-options",
                                json={"link": made["enrolment"]["secret"]}).json()
    credential = SoftAuthenticator(origin=ORIGIN).create(options["options"])
    attestation = cbor2.loads(from_b64url(credential["response"]["attestationObject"]))
    data, new_id = attestation["authData"], b"\x01" * length
    old_length = int.from_bytes(data[53:55], "big")
    attestation["authData"] = (data[:53] + length.to_bytes(2, "big") + new_id
                               + data[55 + old_length:])
    credential |= {"id": b64url(new_id), "rawId": b64url(new_id)}
    credential["response"]["attestationObject"] = b64url(cbor2.dumps(attestation))
    answer = world.client.post("/v1/passkeys/registrations", json={
        "ceremony_id": options["ceremony_id"], "credential": credential})
    assert answer.status_code == status, answer.text
    if status == 403:
        assert answer.json()["code"] == "passkey_invalid"


def test_a_template_to_replace_past_an_integer_column_is_a_validation_error(
    world: World,
) -> None:
    act = {"act": "enrol", "consent_id": world.consent_id, "photo_sha256": "0" * 64,
           "replaces": PAST_AN_INTEGER_COLUMN}
    answer = world.client.post(f"/v1/subjects/{world.subject}/challenges", json=act,
                               headers=auth(world.keys.portal))
    assert_refused(answer, 422, "validation_error")


@pytest.mark.parametrize("field", ["subjects_affected", "quebec_residents"])
def test_an_incident_count_past_an_integer_column_is_a_validation_error(
    world: World, field: str
) -> None:
    now = datetime.now(UTC)
    incident = {
        "description": "d", "circumstances": "c", "risk_assessment": "r",
        "measures_taken": "m", "measures_suggested": "s", "data_categories": ["templates"],
        "occurred_from": (now - timedelta(days=1)).isoformat(),
        "became_aware_at": (now - timedelta(hours=1)).isoformat(),
        field: PAST_AN_INTEGER_COLUMN,
    }
    answer = world.client.post("/v1/incidents", json=incident, headers=auth(world.keys.admin))
    assert_refused(answer, 422, "validation_error")
    assert world.client.post("/v1/incidents", json=incident | {field: MAX_INTEGER_COLUMN},
                             headers=auth(world.keys.admin)).status_code == 201

"""A copy of the person's own face templates (GDPR art. 15(3), 20; P-39.1 s. 27).

The access export says which templates are held; the vectors themselves come only when the
person asks for them (``vectors=true``) with their own subject token, or their guardian's: as
the engine computed them from the enrolled photo, never for an operator's key, never after an
erasure, and the request is chained without a single number of them.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx2
import numpy as np
import pytest

from optinface.consent.roles import Role
from optinface.engine.pipeline import FacePipeline
from tests.support.api import World, assert_refused, auth, in_a_year

pytestmark = pytest.mark.shared_deployment


def _export(world: World, subject: str, headers: dict[str, str], **params: str) -> httpx2.Response:
    return world.client.get(f"/v1/subjects/{subject}/export", params=params, headers=headers)


def _cosine(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_vectors_are_in_the_export_only_when_the_person_asks_as_the_engine_computed_them(
    world: World, portrait_jpegs: list[bytes], pipeline: FacePipeline
) -> None:
    enrolled = world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    mine = auth(world.subject_token)
    plain = _export(world, world.subject, mine)
    assert plain.status_code == 200, plain.text
    assert plain.json()["template_vectors"] is None  # never by default
    assert [t["id"] for t in plain.json()["templates"]] == [enrolled["id"]]

    asked = _export(world, world.subject, mine, vectors="true")
    assert asked.status_code == 200, asked.text
    [copy] = asked.json()["template_vectors"]
    computed = pipeline.embed_single(portrait_jpegs[0])
    assert (copy["template_id"], copy["model_id"]) == (enrolled["id"], computed.model_id)
    assert copy["model_sha256"] == pipeline.models[computed.model_id].sha256
    vector = np.asarray(copy["vector"], dtype=np.float32)
    assert vector.shape == (512,)
    # The recognizer's own space, not the deployment's rotation (whose cosine would be ~0).
    assert _cosine(vector, computed.vector) > 0.9999
    assert _cosine(vector, pipeline.embed_single(portrait_jpegs[1]).vector) < 0.5

    readable = _export(world, world.subject, mine, vectors="true", format="md")
    assert_refused(readable, 422, "invalid_request")  # the copy is the JSON, for portability


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.SUBJECT])
def test_no_operator_key_gets_the_vectors(
    world: World, portrait_jpegs: list[bytes], role: Role
) -> None:
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    answer = _export(world, world.subject, auth(world.keys.for_role(role)), vectors="true")
    # Those who may read the export are told that only the person may have this copy.
    may_export = role in {Role.ADMIN, Role.REVIEWER, Role.PORTAL}
    assert_refused(answer, 403, "subject_credential_required" if may_export else "forbidden")
    assert "template_vectors" not in answer.text


def test_another_persons_token_does_not_get_the_vectors(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    _, other_token = world.new_subject()
    answer = _export(world, world.subject, auth(other_token), vectors="true")
    assert_refused(answer, 403, "forbidden")


def test_the_guardian_of_a_minor_gets_the_vectors_as_for_the_export(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    minor, answer = world.new_person(age="minor_13")
    guardian = world.take_over(answer["guardian_enrolment"]["secret"])
    given = guardian.consent(purposes=[world.purpose_id], notice_id=world.notice_id,
                             expires_at=in_a_year())
    enrolled = guardian.enrol(given["consent"]["id"], portrait_jpegs[2], desk=world.keys.portal)
    copy = _export(world, minor.pseudonym, guardian.headers, vectors="true")
    assert copy.status_code == 200, copy.text
    assert [v["template_id"] for v in copy.json()["template_vectors"]] == [enrolled["id"]]


def test_an_erased_person_has_no_vectors_left_to_export(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    mine = auth(world.subject_token)
    erased = world.client.delete(f"/v1/subjects/{world.subject}", headers=mine)
    assert erased.status_code == 200, erased.text
    answer = _export(world, world.subject, mine, vectors="true")
    assert_refused(answer, 401, "unauthenticated")  # the token went with the record
    assert_refused(_export(world, world.subject, auth(world.keys.admin)), 410, "subject_erased")


def test_asking_for_the_vectors_is_chained_and_no_log_holds_them(
    world: World, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    enrolled = world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    mine = auth(world.subject_token)
    with caplog.at_level(logging.DEBUG):
        plain = _export(world, world.subject, mine).json()
        copy = _export(world, world.subject, mine, vectors="true").json()
    # The export holds its own event, with its proof of inclusion in the signed log.
    event = copy["events"][-1]
    assert (event["action"], event["details"]) == ("export",
                                                   {"template_vectors": [enrolled["id"]]})
    assert event["seq"] in {p["seq"] for p in copy["inclusion_proofs"]}
    assert plain["events"][-1]["details"] == {}  # a plain export names no copy
    verified = world.client.get("/v1/audit/verify", headers=auth(world.keys.reviewer))
    assert verified.status_code == 200 and verified.json()["ok"], verified.text

    log = world.client.get("/v1/audit/events", params={"subject": world.subject},
                           headers=auth(world.keys.reviewer))
    assert log.status_code == 200, log.text
    numbers = [repr(x) for x in copy["template_vectors"][0]["vector"][:8]]
    for text in (log.text, caplog.text, str(event)):
        assert not any(number in text for number in numbers)

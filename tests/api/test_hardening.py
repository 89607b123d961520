# ruff: noqa: F811  (test parameters take the names of the fixtures imported from shared)
"""Findings of the red-team review, each pinned: bare times, subject API keys, re-withdrawal,
cookies off loopback."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from optinface.api.app import create_app
from optinface.api.settings import ApiSettings
from optinface.consent.errors import InvalidRequest
from optinface.consent.roles import Role
from optinface.consent.service import OptinFace
from tests.api.conftest import World, auth, consent_act
from tests.api.shared import (  # noqa: F401 (fixtures: one deployment per module)
    api_settings,
    client,
    keys,
    service,
    shared_deployment,
    shared_world,
    world,
)

BARE_TIME = (datetime.now() + timedelta(days=30)).replace(microsecond=0).isoformat()


def _refused_as_validation_error(answer: object, field: str) -> None:
    assert answer.status_code == 422, answer.text  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert body["code"] == "validation_error"
    assert [e["type"] for e in body["details"]["errors"] if e["loc"][-1] == field] == [
        "timezone_aware"
    ]


def test_a_consent_expiry_without_a_utc_offset_is_refused(world: World) -> None:
    body = {**consent_act(world.purpose_id, world.notice_id), "expires_at": BARE_TIME}
    answer = world.client.post(
        f"/v1/subjects/{world.subject}/challenges", json=body, headers=auth(world.subject_token)
    )
    _refused_as_validation_error(answer, "expires_at")


def test_an_api_key_is_never_made_for_the_subject_role(world: World, service: OptinFace) -> None:
    answer = world.client.post(
        "/v1/keys", json={"role": "subject", "name": "x"}, headers=auth(world.keys.admin)
    )
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error"
    admin = service.authenticate(world.keys.admin)
    with pytest.raises(InvalidRequest):
        service.create_api_key(actor=admin, role=Role.SUBJECT, name="x")


def _withdrawal_events(world: World) -> int:
    events = world.client.get(
        "/v1/audit/events",
        params={"action": "consent_withdrawn"},
        headers=auth(world.keys.reviewer),
    )
    return int(events.json()["total"])


def test_withdrawing_twice_keeps_the_first_withdrawal(world: World) -> None:
    world.consent(world.subject, world.subject_token)  # a second consent keeps the subject
    person = world.people[world.subject]
    first = person.withdraw(world.consent_id)
    events = _withdrawal_events(world)
    again = person.withdraw(world.consent_id)
    assert again["consent"]["withdrawn_at"] == first["consent"]["withdrawn_at"]
    assert again["templates_erased"] == 0 and not again["subject_erased"]
    assert _withdrawal_events(world) == events


@pytest.mark.parametrize(
    ("host", "secure"),
    [("127.0.0.1", False), ("::1", False), ("0.0.0.0", True), ("10.1.2.3", True)],
)
def test_page_cookies_are_secure_off_loopback(
    api_settings: ApiSettings, service: OptinFace, host: str, secure: bool
) -> None:
    settings = api_settings.model_copy(update={"host": host})
    with TestClient(create_app(settings, service=service)) as client:
        cookie = client.get("/portal").headers["set-cookie"]
    assert ("Secure" in cookie) is secure

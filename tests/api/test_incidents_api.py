"""Incidents over HTTP: the admin records, the reviewer reads the register, the notices and the
72-hour clock on the dashboard; nothing deletes an incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import World, auth, page_login

pytestmark = pytest.mark.shared_deployment


def test_an_incident_and_its_72_hour_clock_show_on_the_dashboard(world: World) -> None:
    now = datetime.now(UTC)
    made = world.client.post("/v1/incidents", headers=auth(world.keys.admin), json={
        "description": "laptop with an export stolen",
        "circumstances": "stolen from a car",
        "occurred_from": (now - timedelta(days=1)).isoformat(),
        "became_aware_at": (now - timedelta(hours=2)).isoformat(),
        "data_categories": ["access export"],
        "subjects_affected": 1,
        "risk_assessment": "one person's consents and search history",
        "measures_taken": "device wiped remotely",
        "measures_suggested": "watch for messages claiming to be from us",
    })
    assert made.status_code == 201, made.text
    incident = made.json()
    assert 69 < incident["hours_left"] <= 70
    assert world.client.post("/v1/incidents", headers=auth(world.keys.reviewer),
                             json={}).status_code == 403
    listed = world.client.get("/v1/incidents", headers=auth(world.keys.reviewer)).json()
    assert incident["id"] in [i["id"] for i in listed]
    notice = world.client.get(f"/v1/incidents/{incident['id']}/notice",
                              params={"audience": "subjects", "text": "true"},
                              headers=auth(world.keys.reviewer))
    assert notice.status_code == 200 and "device wiped remotely" in notice.text
    page_login(world.client, "review", world.keys.reviewer)
    dashboard = world.client.get("/review").text
    assert incident["id"] in dashboard and "h left" in dashboard


def test_no_route_deletes_an_incident(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    incidents = {path: set(methods) for path, methods in paths.items() if "/incidents" in path}
    assert incidents and all("delete" not in methods for methods in incidents.values())

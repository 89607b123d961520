"""Incidents over HTTP: the admin records, the reviewer reads the register, the notices and the
72-hour clock on the dashboard; nothing deletes an incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from optinface.consent.service import OptinFace
from optinface.consent.tables import Incident
from optinface.engine.pipeline import FacePipeline
from tests.support.api import World, assert_refused, auth, deployment, page_login

pytestmark = pytest.mark.shared_deployment


REQUIRED = ("description", "circumstances", "occurred_from", "became_aware_at",
            "data_categories", "risk_assessment", "measures_taken", "measures_suggested")
"""The reg. s. 7 fields an incident cannot be recorded without."""


def _incident() -> dict[str, object]:
    """An incident of yesterday, learnt of two hours ago, with every field the register needs
    and no word on the risk of serious injury."""
    now = datetime.now(UTC)
    return {
        "description": "laptop with an export stolen",
        "circumstances": "stolen from a car",
        "occurred_from": (now - timedelta(days=1)).isoformat(),
        "became_aware_at": (now - timedelta(hours=2)).isoformat(),
        "data_categories": ["access export"],
        "subjects_affected": 1,
        "risk_assessment": "one person's consents and search history",
        "measures_taken": "device wiped remotely",
        "measures_suggested": "watch for messages claiming to be from us",
    }


def test_an_incident_and_its_72_hour_clock_show_on_the_dashboard(world: World) -> None:
    made = world.client.post("/v1/incidents", headers=auth(world.keys.admin), json=_incident())
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


@pytest.mark.parametrize("field", REQUIRED)
def test_an_incident_missing_a_required_field_is_refused(world: World, field: str) -> None:
    body = {key: value for key, value in _incident().items() if key != field}
    refused = world.client.post("/v1/incidents", headers=auth(world.keys.admin), json=body)
    assert_refused(refused, 422, "validation_error")
    assert [error["loc"][-1] for error in refused.json()["details"]["errors"]] == [field]


def test_an_unstated_risk_is_serious_and_the_persons_are_told_when_and_how(
    world: World,
) -> None:
    body = _incident()
    made = world.client.post("/v1/incidents", headers=auth(world.keys.admin), json=body)
    assert made.status_code == 201, made.text
    assert made.json()["risk_of_serious_injury"] is True
    notice = world.client.get(f"/v1/incidents/{made.json()['id']}/notice",
                              params={"audience": "subjects", "text": "true"},
                              headers=auth(world.keys.reviewer)).text
    occurred = datetime.fromisoformat(str(body["occurred_from"]))
    assert occurred.isoformat() in notice and str(body["circumstances"]) in notice


def test_the_regulators_notice_and_the_register_name_the_configured_dpo(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    dpo = "dpo-office@univ.qc.ca"
    with deployment(tmp_path, pipeline, dpo_contact=dpo) as (_, _, client, keys):
        made = client.post("/v1/incidents", headers=auth(keys.admin), json=_incident())
        notice = client.get(f"/v1/incidents/{made.json()['id']}/notice",
                            params={"audience": "regulator", "text": "true"},
                            headers=auth(keys.reviewer)).text
        register = client.get("/v1/register", headers=auth(keys.reviewer))
        written = client.get("/v1/register", params={"format": "md"},
                             headers=auth(keys.reviewer)).text
    assert f"DPO {dpo}" in notice
    assert register.json()["accountability"]["dpo_contact"] == dpo
    assert f"**Data protection officer**: {dpo}" in written


DAYS_AGO = (datetime.now(UTC) - timedelta(days=10)).isoformat()


@pytest.mark.parametrize("times", [
    {"occurred_from": "0001-01-01T00:00:00+00:00", "became_aware_at": "0001-01-01T00:00:00+00:00"},
    {"occurred_from": "0001-01-01T00:00:00+14:00", "became_aware_at": "0001-01-01T00:00:00+14:00"},
    {"became_aware_at": "9999-12-31T23:59:59+00:00"},
    {"occurred_from": "1969-12-31T23:59:59+00:00"},
    {"occurred_until": DAYS_AGO},  # ends before it began
    {"became_aware_at": DAYS_AGO},  # noticed before it began
], ids=["year-1", "year-1-east", "year-9999", "before-1970", "until-first", "aware-first"])
def test_incident_times_outside_the_span_or_out_of_order_are_refused(
    world: World, times: dict[str, str]
) -> None:
    answer = world.client.post("/v1/incidents", headers=auth(world.keys.admin),
                               json={**_incident(), **times})
    assert_refused(answer, 422, "validation_error")


@pytest.mark.parametrize("field", ["occurred_from", "occurred_until", "became_aware_at"])
def test_an_incident_time_still_to_come_is_refused(world: World, field: str) -> None:
    """An awareness in the future would push the 72-hour deadline back by as long."""
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    times = {field: later, "became_aware_at": later} if field == "occurred_from" else {field: later}
    answer = world.client.post("/v1/incidents", headers=auth(world.keys.admin),
                               json={**_incident(), **times})
    assert_refused(answer, 422, "invalid_request")
    assert answer.json()["details"] == {"field": field}


def test_an_incident_dated_year_1_before_the_check_does_not_break_the_dashboard(
    world: World, service: OptinFace
) -> None:
    """Such dates were accepted once and are kept 5 years: the time in Toronto of year 1 UTC
    does not exist, and showing it made ``/review`` fail for good. It is shown as written."""
    made = world.client.post("/v1/incidents", headers=auth(world.keys.admin), json=_incident())
    assert made.status_code == 201, made.text
    with service.runtime.db.transaction() as session:  # as the service recorded it back then
        row = session.get(Incident, made.json()["id"])
        assert row is not None
        row.occurred_from = row.became_aware_at = datetime(1, 1, 1, tzinfo=UTC)
    page_login(world.client, "review", world.keys.reviewer)
    dashboard = world.client.get("/review")
    assert dashboard.status_code == 200, dashboard.text
    assert "0001-01-01T00:00:00+00:00" in dashboard.text

"""Incidents over HTTP: the admin records, the reviewer reads the register, the notices and the
72-hour clock on the dashboard; nothing deletes an incident."""

from __future__ import annotations

import re
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


@pytest.mark.parametrize("audience", ["regulator", "subjects"])
def test_a_notice_is_written_in_french_for_a_french_reader_quoting_the_operator_as_typed(
    world: World, audience: str,
) -> None:
    """The Charter of the French language: a notice to the Commission or to persons in Québec
    is in French. ``lang=fr`` or ``Accept-Language: fr-CA`` gives it wholly French (no English
    heading or label left; the templates named in French), the operator's own words quoted as
    typed; without either it stays English."""
    body = {**_incident(), "involves_templates": True, "quebec_residents": 1234}
    made = world.client.post("/v1/incidents", headers=auth(world.keys.admin), json=body)
    assert made.status_code == 201, made.text
    path = f"/v1/incidents/{made.json()['id']}/notice"
    asked = {"audience": audience, "text": "true"}
    reader = auth(world.keys.reviewer)
    english = world.client.get(path, params=asked, headers=reader).text
    french = world.client.get(path, params={**asked, "lang": "fr"}, headers=reader).text
    browser = world.client.get(path, params=asked,
                               headers={**reader, "Accept-Language": "fr-CA,fr;q=0.9"}).text
    assert browser == french
    labels = set(re.findall(r"\*\*([^*]+)\*\*", english)) - {"Description"}  # French too
    assert labels and not [label for label in labels if f"**{label}**" in french]
    assert english.splitlines()[0] not in french and "Quand" in french
    assert "gabarit" in french and "template" not in french
    for typed in ("laptop with an export stolen", "device wiped remotely"):
        assert typed in french
    if audience == "regulator":
        # Numbers as a French reader writes them (a no-break space between thousands).
        assert "dont 1\xa0234 au Québec" in french and "of whom 1,234 in Québec" in english
        assert "heures après la prise de connaissance" in french


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


def _dashboard_row(world: World, incident_id: str, language: str) -> str:
    """The incident's row of the reviewer's dashboard, in ``language``."""
    page_login(world.client, "review", world.keys.reviewer)
    page = world.client.get("/review", headers={"Accept-Language": language}).text
    section = page.split('<section id="incidents">')[1].split("</section>")[0]
    return next(row for row in section.split("<tr") if incident_id in row)


def test_a_late_notification_needs_the_reasons_for_the_delay_and_every_view_shows_them(
    world: World,
) -> None:
    """GDPR art. 33(1): notified 80 hours after awareness, the regulator's notification is
    refused without the reasons for the delay (422 ``invalid_request`` naming the field,
    nothing recorded); with them, the register (its export, ``GET /v1/incidents``), the
    audit event, the notice and the dashboard, in words, in English and French, show the
    delay and its reasons."""
    now = datetime.now(UTC)
    admin = auth(world.keys.admin)
    made = world.client.post("/v1/incidents", headers=admin, json={
        **_incident(), "occurred_from": (now - timedelta(hours=90)).isoformat(),
        "became_aware_at": (now - timedelta(hours=80)).isoformat()}).json()
    notified = f"/v1/incidents/{made['id']}/notified"
    refused = world.client.post(notified, headers=admin)
    assert_refused(refused, 422, "invalid_request")
    assert refused.json()["details"] == {"field": "delay_reason"}
    assert_refused(world.client.post(notified, headers=admin, json={"delay_reason": "  "}),
                   422, "validation_error")
    reason = "the courier reported the loss on day 3"
    answer = world.client.post(notified, headers=admin, json={"delay_reason": reason})
    assert answer.status_code == 200, answer.text
    reader = auth(world.keys.reviewer)
    [listed] = [i for i in world.client.get("/v1/incidents", headers=reader).json()
                if i["id"] == made["id"]]
    assert listed["regulator_delay_reason"] == reason and listed["notification_overdue"]
    assert listed["regulator_notified_after_hours"] == 80.0
    events = world.client.get("/v1/audit/events", headers=reader,
                              params={"action": "incident_notified"}).json()["events"]
    assert [e["details"].get("delay_reason") for e in events
            if e["details"]["incident_id"] == made["id"]] == [reason]
    notice = world.client.get(f"/v1/incidents/{made['id']}/notice", headers=reader,
                              params={"text": "true"}).text
    assert f"80 h after awareness; late, past the 72 hours; reasons for the delay: {reason}" \
        in notice
    english = _dashboard_row(world, made["id"], "en")
    assert "notified late (80 h after awareness)" in english  # hours as the reader writes them
    assert f"Reasons for the delay: {reason}" in english
    french = _dashboard_row(world, made["id"], "fr")
    assert "avisée en retard (80 h après la prise de connaissance)" in french
    assert f"Motifs du retard : {reason}" in french


def test_persons_at_risk_of_serious_injury_still_not_notified_are_flagged_in_words(
    world: World,
) -> None:
    """P-39.1 s. 3.5, GDPR art. 34(1): with a risk of serious injury the persons are to be
    notified promptly; until they are, the dashboard says so in words, English and French,
    and the register says ``subjects_notice_pending``. Without that risk a plain "no"."""
    admin = auth(world.keys.admin)
    at_risk = world.client.post("/v1/incidents", headers=admin, json=_incident()).json()
    no_risk = world.client.post("/v1/incidents", headers=admin, json={
        **_incident(), "involves_templates": False, "risk_of_serious_injury": False}).json()
    assert at_risk["subjects_notice_pending"] and not no_risk["subjects_notice_pending"]
    flag = "no: risk of serious injury, notify them promptly"
    assert flag in _dashboard_row(world, at_risk["id"], "en")
    assert "non : risque de préjudice sérieux, à aviser avec diligence" in _dashboard_row(
        world, at_risk["id"], "fr")
    assert flag not in _dashboard_row(world, no_risk["id"], "en")
    done = world.client.post(f"/v1/incidents/{at_risk['id']}/notified", headers=admin,
                             params={"audience": "subjects"})
    assert done.status_code == 200 and not done.json()["subjects_notice_pending"]
    assert flag not in _dashboard_row(world, at_risk["id"], "en")

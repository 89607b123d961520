"""Rights requests over HTTP: a reviewer's reasoned refusal, as the person reads it on their
portal with where to complain (G-10), and the dashboard's alert before the 30-day deadline
passes (X-ACC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest

from optinface.engine.pipeline import FacePipeline
from tests.support.api import World, auth, deployment, page_login, portal_session, set_up_world
from tests.support.consent import FakeClock

pytestmark = pytest.mark.shared_deployment
FRENCH_READER = {"Accept-Language": "fr-CA,fr;q=0.9"}
REASONS = "Your fourth identical letter this month; the export was sent to you on 3 March."


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _ask(world: World) -> str:
    """A request of access by letter, recorded for the world's subject: its id."""
    asked = world.client.post(f"/v1/subjects/{world.subject}/requests",
                              headers=auth(world.keys.admin),
                              json={"kind": "access", "channel": "letter"})
    assert asked.status_code == 201, asked.text
    return str(asked.json()["id"])


def _refusal(html: str, request_id: str) -> str:
    """The refusal's words under the request on the person's portal page."""
    found = re.search(rf'<div class="refusal" id="refusal-{request_id}">(.*?)</div>', html,
                      re.DOTALL)
    assert found is not None, html
    return _text(found.group(1))


def test_a_refused_request_shows_the_person_its_reasons_and_where_to_complain(
    world: World,
) -> None:
    request_id = _ask(world)
    refused = world.client.post(f"/v1/requests/{request_id}/answer",
                                headers=auth(world.keys.reviewer),
                                json={"answer": "We will not send the export again.",
                                      "outcome": "refused", "ground": "manifestly_excessive",
                                      "reasons": REASONS})
    assert refused.status_code == 200, refused.text
    assert (refused.json()["status"], refused.json()["ground"]) == (
        "refused", "manifestly_excessive")
    portal_session(world.client, world.people[world.subject])
    told = _refusal(world.client.get("/portal").text, request_id)
    assert told.startswith(f"Refused as manifestly excessive. The reasons: {REASONS}"), told
    assert "You may complain about this refusal:" in told
    assert "Commission d'accès à l'information du Québec or your EU supervisory" in told
    in_french = _refusal(world.client.get("/portal", headers=FRENCH_READER).text, request_id)
    assert in_french.startswith("Refusée : demande manifestement excessive. Les motifs :")
    assert "porter plainte contre ce refus" in in_french
    assert "Commission d'accès à l'information du Québec ou à votre autorité" in in_french
    page_login(world.client, "review", world.keys.reviewer)
    dashboard = _text(world.client.get("/review").text)
    assert "as manifestly excessive" in dashboard


@pytest.mark.parametrize("answer", [
    {"outcome": "refused", "ground": "manifestly_unfounded"},
    {"outcome": "refused", "ground": "manifestly_unfounded", "reasons": " "},
    {"outcome": "refused", "ground": "a_quota", "reasons": "too many requests"},
])
def test_a_refusal_without_written_reasons_or_a_known_ground_is_a_422(
    world: World, answer: dict[str, str],
) -> None:
    request_id = _ask(world)
    refused = world.client.post(f"/v1/requests/{request_id}/answer",
                                headers=auth(world.keys.reviewer),
                                json={"answer": "No.", **answer})
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "validation_error"
    listed = world.client.get("/v1/requests", headers=auth(world.keys.reviewer)).json()
    assert [r["status"] for r in listed if r["id"] == request_id] == ["open"]


def test_the_dashboard_alerts_from_day_23_of_an_open_request_until_it_is_answered(
    tmp_path: Path, pipeline: FacePipeline,
) -> None:
    """X-ACC: the alert comes with 7 days left, before the 30-day deadline passes."""
    clock = FakeClock(datetime.now(UTC))
    with deployment(tmp_path, pipeline, clock=clock) as (_, _, client, keys):
        world = set_up_world(client, keys, declare=False)
        request_id = _ask(world)
        reviewer = auth(keys.reviewer)

        def alerted() -> tuple[bool, bool]:
            """(the API's due_soon, the dashboard's alert) for the request."""
            [listed] = client.get("/v1/requests", headers=reviewer).json()
            page_login(client, "review", keys.reviewer)
            alerts = client.get("/review").text.split('id="alerts"')[1].split("</section>")[0]
            return listed["due_soon"], request_id in alerts

        clock.advance(days=22)
        assert alerted() == (False, False)
        clock.advance(days=1)
        assert alerted() == (True, True)
        answered = client.post(f"/v1/requests/{request_id}/answer", headers=reviewer,
                               json={"answer": "Your export is attached."})
        assert answered.status_code == 200, answered.text
        assert alerted() == (False, False)

"""The record of processing activities over HTTP (GET /v1/register/ropa) and on the reviewer's
page: the register's readers get it, in JSON or Markdown, tied to the register's hash."""

from __future__ import annotations

import pytest

from optinface.consent.register import DEMO_WARNING
from tests.support.api import World, assert_refused, auth, page_login

pytestmark = pytest.mark.shared_deployment
ROPA = "/v1/register/ropa"


def test_the_ropa_is_served_in_json_and_markdown_with_the_registers_hash(world: World) -> None:
    for key in (world.keys.reviewer, world.keys.admin):
        answer = world.client.get(ROPA, headers=auth(key))
        assert answer.status_code == 200, answer.text
        material = world.client.get("/v1/register", headers=auth(key)).json()["material_sha256"]
        assert answer.json()["register_material_sha256"] == material
        assert [e["point"] for e in answer.json()["entries"]][-1] == "30(1)(g)"
    markdown = world.client.get(ROPA, params={"format": "md"}, headers=auth(world.keys.reviewer))
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert markdown.text.startswith("# Record of processing activities (GDPR art. 30(1))\n")
    assert f"- **Register material sha256**: {material}\n" in markdown.text


def test_a_demo_deployments_ropa_says_so_in_json_and_markdown(world: World) -> None:
    """Its officer and contacts may be placeholders (``dpo@example.org``): the ROPA says so, as
    the register does, with the register's own words."""
    reviewer = auth(world.keys.reviewer)
    assert DEMO_WARNING in world.client.get("/v1/register", headers=reviewer).json()["warnings"]
    assert DEMO_WARNING in world.client.get(ROPA, headers=reviewer).json()["warnings"]
    markdown = world.client.get(ROPA, params={"format": "md"}, headers=reviewer).text
    assert f"- **Warning**: {DEMO_WARNING}\n" in markdown
    page_login(world.client, "review", world.keys.reviewer)
    assert DEMO_WARNING in world.client.get("/review/download/ropa.md").text


def test_a_disclosure_made_over_http_names_its_recipient_in_the_ropa(world: World) -> None:
    world.disclose_to_the_police()
    [recipients] = [e["items"] for e in world.client.get(
        ROPA, headers=auth(world.keys.reviewer)).json()["entries"] if e["point"] == "30(1)(d)"]
    assert "Sûreté du Québec (CA): disclosed to 1 time(s) on the ground law" in recipients


def test_the_ropa_is_refused_to_those_who_may_not_read_the_register(world: World) -> None:
    for key in (world.keys.researcher, world.keys.portal, world.keys.verifier,
                world.subject_token):
        assert_refused(world.client.get(ROPA, headers=auth(key)), 403, "forbidden")
    assert_refused(world.client.get(ROPA), 401, "unauthenticated")
    assert_refused(world.client.get(ROPA, params={"format": "pdf"},
                                    headers=auth(world.keys.reviewer)), 422, "validation_error")


def test_the_reviewers_page_links_the_ropa_it_downloads(world: World) -> None:
    page_login(world.client, "review", world.keys.reviewer)
    page = world.client.get("/review").text
    assert 'href="/review/download/ropa.md"' in page and 'href="/review/download/ropa.json"' in page
    download = world.client.get("/review/download/ropa.md")
    assert download.headers["content-disposition"] == 'attachment; filename="ropa.md"'
    assert "## Art. 30(1)(e): Transfers to third countries and their safeguards" in download.text
    assert world.client.get("/review/download/ropa.json").json()["entries"][0]["point"] == (
        "30(1)(a)")

"""``decision_use`` over HTTP (P-39.1 s. 12.1): a caller that will base a decision about the
person on an answer declares it; the answer says ``automated_decision`` and carries the notice
to relay; the person's export shows it in JSON, Markdown and HTML."""

from __future__ import annotations

import pytest

from tests.support.api import World, assert_refused, auth
from tests.support.backends import on_both_backends

pytestmark = [pytest.mark.shared_deployment, on_both_backends]

DECLARED = "the caller declared it would base a decision about you on this search"


def test_identify_declared_for_a_decision_says_so_with_the_notice_and_undeclared_does_not(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    declared = world.identify(portrait_jpegs[0], decision_use="true").json()
    assert declared["automated_decision"] is True
    notice = declared["automated_decision_notice"]
    privacy = world.client.get(f"/v1/subjects/{world.subject}/export",
                               headers=auth(world.subject_token)).json()["accountability"]
    assert notice["privacy_officer_contact"] == privacy["privacy_officer_contact"]
    assert privacy["privacy_officer_contact"] in notice["notice"]
    assert {r["right"] for r in notice["rights"]} == {
        "access", "rectification", "human review and observations", "complaint"}
    assert [c["status"] for c in declared["candidates"]] == ["provisional"]
    assert "provisional until 2 verifier(s)" in notice["review"]
    for undeclared in ("false", None):
        answer = world.identify(portrait_jpegs[0], decision_use=undeclared).json()
        assert (answer["automated_decision"], answer["automated_decision_notice"]) == (
            False, None)


def test_verify_declared_for_a_decision_says_so_with_the_notice(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    world.enrol(world.subject, world.consent_id, portrait_jpegs[1])
    answer = world.verify(world.subject, portrait_jpegs[1], decision_use="true")
    assert answer.status_code == 200, answer.text
    assert answer.json()["automated_decision"] is True
    assert "1 verifier(s)" in answer.json()["automated_decision_notice"]["review"]


@pytest.mark.parametrize("value", ["yes", "1", "on", "TRUE", "maybe"])
def test_decision_use_is_true_or_false_and_nothing_else(
    world: World, portrait_jpegs: list[bytes], value: str
) -> None:
    """A lax reading would take ``yes`` or ``1``: a typo must not pass for a declaration, nor
    for its absence."""
    assert_refused(world.identify(portrait_jpegs[0], decision_use=value), 422,
                   "validation_error")


def test_the_persons_export_shows_each_search_declared_for_a_decision(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    for declared in ("true", "false"):
        assert world.identify(portrait_jpegs[0], decision_use=declared).status_code == 200
    url, token = f"/v1/subjects/{world.subject}/export", auth(world.subject_token)
    export = world.client.get(url, headers=token).json()
    assert [s["decision_use"] for s in export["searches"]] == [True, False]
    [event] = [e for e in export["events"] if e["details"].get("decision_use")]
    assert event["action"] == "identify"
    for fmt in ("md", "html"):
        readable = world.client.get(url, params={"format": fmt}, headers=token).text
        assert readable.count(DECLARED) == 1, fmt
    french = world.client.get(url, params={"format": "md"},
                              headers={**token, "Accept-Language": "fr-CA"}).text
    assert "l'appelant a déclaré qu'il fonderait une décision vous concernant" in french

"""Human review over HTTP: identify answers provisional candidates; two verifier keys confirm."""

from __future__ import annotations

import pytest

from tests.support.api import World, assert_refused, auth

pytestmark = pytest.mark.shared_deployment


def test_identify_returns_candidates_that_two_verifiers_confirm(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    found = world.enrolled_and_identified(portrait_jpegs[0]).json()
    [candidate] = [c for c in found["candidates"] if c["subject"] == world.subject]
    assert candidate["status"] == "provisional" and found["confirmations_required"] == 2
    path = f"/v1/reviews/{candidate['review_id']}"
    body = {"decision": "confirm", "reason": "same person"}
    assert world.client.post(path, json=body,
                             headers=auth(world.keys.researcher)).status_code == 403
    pending = world.client.get("/v1/reviews", headers=auth(world.keys.verifier)).json()
    assert candidate["review_id"] in [r["id"] for r in pending]
    first = world.client.post(path, json=body, headers=auth(world.keys.verifier)).json()
    assert first["status"] == "provisional"
    second_key = world.client.post("/v1/keys", json={"role": "verifier", "name": "second"},
                                   headers=auth(world.keys.admin)).json()["secret"]
    second = world.client.post(path, json=body, headers=auth(second_key)).json()
    assert second["status"] == "confirmed"
    export = world.client.get(f"/v1/subjects/{world.subject}/export",
                              headers=auth(world.subject_token)).json()
    assert any(s["review_status"] == "confirmed" for s in export["searches"])


def test_a_candidate_who_opted_out_after_the_search_is_refused_as_lapsed(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The opt-out takes effect for the review too: the verifier's vote is a 409
    ``review_lapsed`` and the review, closed, leaves the verifiers' list."""
    subject, _ = world.new_subject()
    world.enrol(subject, world.consent(subject), portrait_jpegs[1])
    found = world.identify(portrait_jpegs[1]).json()
    [candidate] = [c for c in found["candidates"] if c["subject"] == subject]
    world.people[subject].set_searchable(False)
    voted = world.client.post(f"/v1/reviews/{candidate['review_id']}",
                              json={"decision": "confirm", "reason": "same person"},
                              headers=auth(world.keys.verifier))
    assert_refused(voted, 409, "review_lapsed")
    pending = world.client.get("/v1/reviews", headers=auth(world.keys.verifier)).json()
    assert candidate["review_id"] not in [r["id"] for r in pending]

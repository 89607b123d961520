"""A regulator's suspension order over HTTP: everything that leads to enrolment or matching is
refused 409 ``suspended_by_regulator`` while it is in force, chained, with nothing spent or
stored, and taken again, as it stood, once the order is lifted; the person's own rights never
wait on it (black-box test 25, finding 2)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest

from optinface.api.soft_person import SoftAuthenticator, probe_link
from tests.support.api import ORIGIN, World, assert_refused, auth, in_a_year, ok
from tests.support.backends import on_both_backends

pytestmark = [pytest.mark.shared_deployment, on_both_backends]

ORDER = "CAI-2026-SUSP"
SUSPENDED = "suspended_by_regulator"


@contextmanager
def suspended(world: World) -> Iterator[None]:
    """The regulator's suspension order in force for the block, lifted after it whatever
    happens: the module's other tests share the deployment."""
    placed = world.client.post("/v1/register/orders", headers=auth(world.keys.admin),
                               json={"reference": ORDER, "destroy": False})
    assert placed.status_code == 200, placed.text
    try:
        yield
    finally:
        lifted = world.client.post(f"/v1/register/orders/{ORDER}/lift",
                                   headers=auth(world.keys.admin))
        assert lifted.status_code == 200, lifted.text


def _refused_then_taken(world: World, path: str, body: dict[str, Any]) -> Any:
    """``POST path`` with ``body`` refused while an order is in force, then the same request
    taken once it is lifted: its answer."""
    with suspended(world):
        assert_refused(world.client.post(path, json=body), 409, SUSPENDED)
    return ok(world.client.post(path, json=body))


def refusals_chained(world: World, attempted: str) -> int:
    """How many ``refused`` events the log holds for ``attempted`` refused by the order."""
    page = ok(world.client.get("/v1/audit/events", params={
        "action": "refused", "outcome": SUSPENDED, "limit": 1000},
        headers=auth(world.keys.reviewer)))
    assert page["total"] <= 1000
    return sum(1 for e in page["events"] if e["details"].get("attempted") == attempted)


def test_a_capture_is_neither_opened_nor_approved_under_an_order_and_is_approved_after_it(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The desk's capture session opened before the order: its approval, signed by the person,
    is refused and chained, the challenge left unspent; the same signature is taken once the
    order is lifted, and the photo enrolled. A new capture session is refused too."""
    person = world.people[world.subject]
    act = {"act": "enrol", "consent_id": world.consent_id,
           "photo_sha256": hashlib.sha256(portrait_jpegs[0]).hexdigest(), "replaces": None}
    signed = person.sign(act, opener=world.keys.portal)
    approvals = f"/v1/subjects/{world.subject}/capture-approvals"
    before = refusals_chained(world, "capture_approved")
    with suspended(world):
        assert_refused(world.client.post(approvals, json=signed, headers=person.headers),
                       409, SUSPENDED)
        assert_refused(world.client.post(f"/v1/subjects/{world.subject}/challenges", json=act,
                                         headers=auth(world.keys.portal)), 409, SUSPENDED)
    assert refusals_chained(world, "capture_approved") == before + 1
    capture = ok(world.client.post(approvals, json=signed, headers=person.headers))
    assert capture["approved"]
    ok(world.client.post(f"/v1/subjects/{world.subject}/faces",
                         data={"capture_id": capture["id"]},
                         files={"image": ("face.jpg", portrait_jpegs[0], "image/jpeg")},
                         headers=auth(world.keys.portal)))


def test_no_probe_link_is_made_registered_or_signed_under_an_order_each_step_after_it(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Nobody is asked to agree to a search that cannot run: the researcher's request, the
    person's passkey options, registration and signature are each refused under the order
    (what was handed out before it stays unspent) and each taken once it is lifted."""
    image = portrait_jpegs[2]
    request = {"purpose_id": world.purpose_id, "notice_id": world.notice_id,
               "probe_sha256": hashlib.sha256(image).hexdigest()}
    researcher = auth(world.keys.researcher)
    before = refusals_chained(world, "probe_consent_requested")
    with suspended(world):
        assert_refused(world.client.post("/v1/probe-consents", json=request,
                                         headers=researcher), 409, SUSPENDED)
    assert refusals_chained(world, "probe_consent_requested") == before + 1
    secret = ok(world.client.post("/v1/probe-consents", json=request,
                                  headers=researcher))["secret"]
    authenticator = SoftAuthenticator(origin=ORIGIN)
    options = _refused_then_taken(world, "/v1/probe-links/registration-options",
                                  {"link": secret})
    registration = {"ceremony_id": options["ceremony_id"],
                    "credential": authenticator.create(options["options"])}
    challenge = _refused_then_taken(world, "/v1/probe-links/registrations", registration)
    signature = {"ceremony_id": challenge["ceremony_id"],
                 "credential": authenticator.get(challenge["options"])}
    probe = _refused_then_taken(world, "/v1/probe-links/signatures", signature)
    assert probe["purpose_id"] == world.purpose_id


def test_a_verify_link_is_not_signed_by_its_subject_under_an_order_and_is_after_it(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """A verify's link made before the order: its subject's challenge is refused under it,
    and signed once it is lifted."""
    link = probe_link(world.client, world.keys.researcher, purpose_id=world.purpose_id,
                      notice_id=world.notice_id, image=portrait_jpegs[0], subject=world.subject)
    with suspended(world):
        assert_refused(world.client.post("/v1/probe-links/subject-challenge",
                                         json={"link": link}), 409, SUSPENDED)
    assert world.people[world.subject].sign_probe(link)["purpose_id"] == world.purpose_id


def _search(world: World, route: str, image: bytes, probe_consent_id: str,
            **form: str) -> httpx2.Response:
    return world.client.post(
        route, data={"purpose_id": world.purpose_id, "probe_consent_id": probe_consent_id,
                     **form},
        files={"image": ("probe.jpg", image, "image/jpeg")},
        headers=auth(world.keys.researcher))


def test_a_search_the_order_refused_leaves_the_persons_probe_consent_usable_after_the_lift(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The regulator's stop costs the person nothing: the identify and the verify refused
    under the order (chained) did not spend their probe consents, which each search uses once
    the order is lifted; then they are spent."""
    image = portrait_jpegs[0]
    world.enrol(world.subject, world.consent_id, image)
    for_identify = world.probe_consent(image)
    for_verify = world.probe_consent(image, subject=world.subject)
    before = refusals_chained(world, "identify")
    with suspended(world):
        assert_refused(_search(world, "/v1/identify", image, for_identify), 409, SUSPENDED)
        assert_refused(_search(world, "/v1/verify", image, for_verify, subject=world.subject),
                       409, SUSPENDED)
    assert refusals_chained(world, "identify") == before + 1
    found = ok(_search(world, "/v1/identify", image, for_identify))
    assert world.subject in [c["subject"] for c in found["candidates"]]
    compared = ok(_search(world, "/v1/verify", image, for_verify, subject=world.subject))
    assert [c["subject"] for c in compared["candidates"]] == [world.subject]
    assert_refused(_search(world, "/v1/identify", image, for_identify), 403,
                   "probe_consent_required")


def test_a_verifier_confirms_no_candidate_under_an_order_but_may_reject_one(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Confirming completes an identification, which the order stops: refused, chained, no vote
    kept, and taken after the lift. Rejecting discards a candidate, less processing: taken."""
    image = portrait_jpegs[0]
    world.enrol(world.subject, world.consent_id, image)
    reviews = [next(c["review_id"] for c in ok(world.identify(image))["candidates"]
                    if c["subject"] == world.subject) for _ in range(2)]
    confirm, reject = ({"decision": decision, "reason": "checked"}
                       for decision in ("confirm", "reject"))
    verifier = auth(world.keys.verifier)
    before = refusals_chained(world, "review_decided")
    with suspended(world):
        assert_refused(world.client.post(f"/v1/reviews/{reviews[0]}", json=confirm,
                                         headers=verifier), 409, SUSPENDED)
        rejected = ok(world.client.post(f"/v1/reviews/{reviews[1]}", json=reject,
                                        headers=verifier))
    assert rejected["status"] == "rejected"
    assert refusals_chained(world, "review_decided") == before + 1
    voted = ok(world.client.post(f"/v1/reviews/{reviews[0]}", json=confirm, headers=verifier))
    assert voted["status"] == "provisional"  # an identification needs a second verifier
    assert [v.rsplit(":", 1)[1] for v in voted["verifiers"]] == ["confirm"]


def test_the_persons_own_acts_never_wait_on_an_order(world: World) -> None:
    """Under the order a shell is made and taken over, a consent signed, the data exported, the
    consent withdrawn and the person erased: their rights are not the processing it stops."""
    with suspended(world):
        person, _ = world.new_person()
        given = person.consent(purposes=[world.purpose_id], notice_id=world.notice_id,
                               expires_at=in_a_year())
        ok(world.client.get(f"/v1/subjects/{person.pseudonym}/export", headers=person.headers))
        assert person.withdraw(str(given["consent"]["id"]))
        leaving, _ = world.new_person()
        erased = ok(world.client.delete(f"/v1/subjects/{leaving.pseudonym}",
                                        headers=leaving.headers))
        assert erased["subject_hash"]

"""A witness folder that stops taking checkpoints in service holds every new act over HTTP:
refused 503 ``witness_unusable`` before anything is done (``details.committed`` false), nothing
chained, so no act lands past the last witnessed checkpoint, where whoever holds the database
could delete it unseen; the probes stay answered, and the person's acts that end processing go
through. The folder mended, the next request (or the periodic round) has every event witnessed
and the service answers again, without a restart."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from optinface.api.deps import PASSES_WITNESS_GATE, get_service
from optinface.consent.apikeys import parse_key_id
from optinface.consent.receipts import verify_receipt
from optinface.consent.service import OptinFace
from optinface.consent.tables import AuditEvent
from optinface.consent.witness import latest_witnessed
from tests.support.api import (
    World,
    assert_refused,
    auth,
    ok,
    portal_session,
    portal_signature,
)
from tests.support.backends import on_both_backends
from tests.support.consent import outside_sql, row_count
from tests.support.polling import eventually
from tests.support.witness import assert_held, checkpoints_refused, stall

pytestmark = [pytest.mark.shared_deployment, on_both_backends]

PASSING = {
    ("GET", "/healthz"), ("HEAD", "/healthz"), ("GET", "/.well-known/optinface-keys.json"),
    ("POST", "/v1/subjects/{subject}/challenges"), ("PATCH", "/v1/subjects/{subject}"),
    ("DELETE", "/v1/subjects/{subject}"), ("DELETE", "/v1/subjects/{subject}/tokens"),
    ("DELETE", "/v1/subjects/{subject}/tokens/{token_id}"),
    ("POST", "/v1/subjects/{subject}/consents/{consent_id}/withdraw"),
    ("POST", "/v1/subjects/{subject}/consents/{consent_id}/purposes/{purpose_id}/withdraw"),
    ("POST", "/v1/passkeys/sign-in-options"), ("POST", "/v1/passkeys/sign-ins"),
    ("GET", "/portal"), ("POST", "/portal/passkey/options"), ("POST", "/portal/passkey/sign-in"),
    ("POST", "/portal/challenge"), ("POST", "/portal/logout"),
    ("POST", "/portal/searchable"), ("POST", "/portal/withdraw"),
    ("POST", "/portal/tokens/revoke"), ("POST", "/portal/erase"),
}
"""The routes served while the witness is stalled: the probes, the portal's page, and those of the
person's acts that end processing and of the sign-in that reaches them (``docs/audit-log.md``)."""


@contextmanager
def stalled(world: World, service: OptinFace) -> Iterator[None]:
    """The witness stalled for the block; then mended, and taken up by the periodic round, for
    the module's next test."""
    service.witness_audit()
    try:
        with checkpoints_refused(service.settings.witness_dir):
            stall(world, service)
            yield
    finally:
        service.witness_audit()
    assert not service.witness_stalled


def test_while_the_witness_is_stalled_no_act_is_done_and_none_is_chained(
    world: World, service: OptinFace, portrait_jpegs: list[bytes],
) -> None:
    """A search, an enrolment, reads, a key's and a subject's creation are refused before they
    do anything: the log does not grow (nothing a restart after deleting the unwitnessed
    events could hide), the probe consent and the approved capture stay unused (each is taken
    once the folder is mended), and the probes answer."""
    image = portrait_jpegs[0]
    person = world.people[world.subject]
    probe = world.probe_consent(image)
    capture = person.approve_capture(world.consent_id, image, desk=world.keys.portal)
    identify = {"data": {"purpose_id": world.purpose_id, "probe_consent_id": probe},
                "files": {"image": ("probe.jpg", image, "image/jpeg")},
                "headers": auth(world.keys.researcher)}
    enrol = {"data": {"capture_id": capture},
             "files": {"image": ("face.jpg", image, "image/jpeg")},
             "headers": auth(world.keys.portal)}
    with stalled(world, service):
        events = row_count(service, AuditEvent)
        client, admin = world.client, auth(world.keys.admin)
        for response in (
            client.post("/v1/identify", **identify),
            client.post(f"/v1/subjects/{world.subject}/faces", **enrol),
            client.get(f"/v1/subjects/{world.subject}", headers=admin),
            client.get("/v1/audit/events", headers=auth(world.keys.reviewer)),
            client.post("/v1/keys", json={"role": "admin", "name": "shadow"}, headers=admin),
            client.post("/v1/subjects", json={"age_category": "adult"},
                        headers=auth(world.keys.portal)),
            client.get(f"/v1/subjects/{world.subject}", headers=person.headers),
        ):
            assert_held(response, service)
        assert row_count(service, AuditEvent) == events, "nothing was chained"
        assert ok(client.get("/healthz"))["status"] == "ok"
        assert ok(client.get("/.well-known/optinface-keys.json"))["keys"]
    ok(world.client.post(f"/v1/subjects/{world.subject}/faces", **enrol))
    assert ok(world.client.post("/v1/identify", **identify))["candidates"]


def test_while_the_witness_is_stalled_a_persons_withdrawal_and_erasure_go_through(
    world: World, service: OptinFace,
) -> None:
    """The person's acts that end processing do not wait on the operator's disk: a
    withdrawal, an opt-out and their erasure are answered, the erasure's receipt signed; an
    opt-in, which widens the processing, is refused at its challenge."""
    person = world.people[world.subject]
    other = world.consent(world.subject)
    with stalled(world, service):
        withdrawn = person.withdraw(other)
        assert withdrawn["consent"]["status"] == "withdrawn"
        assert not person.set_searchable(False)["searchable"]
        assert_held(world.client.post(f"/v1/subjects/{world.subject}/challenges",
                                      json={"act": "searchable", "searchable": True},
                                      headers=person.headers), service)
        erased = ok(world.client.request(
            "DELETE", f"/v1/subjects/{world.subject}", json=person.sign({"act": "erase"}),
            headers=person.headers))
        signed = erased["signed"]
        assert verify_receipt(signed["receipt"], signed["signature"], service.receipt_keys)


def test_while_the_witness_is_stalled_a_browser_reads_a_page_saying_so(
    world: World, service: OptinFace,
) -> None:
    """A person's browser, asking for a page (``text/html``), reads the refusal page in their
    language, with its code and the status the API answers, whether it asked for a page or
    posted a form; ``passkey.js``'s ``fetch`` (asking for anything) keeps the JSON whose code
    it shows."""
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    with stalled(world, service):
        for language, advice in (("en", "The service has paused"),
                                 ("fr", "Le service est en pause")):
            for page in (
                world.client.get("/review", headers=browser | {"Accept-Language": language}),
                world.client.post("/portal/consent", data={"csrf": "x"},
                                  headers=browser | {"Accept-Language": language}),
            ):
                assert page.status_code == 503
                assert page.headers["content-type"].startswith("text/html")
                assert advice in page.text and "witness_unusable" in page.text
        assert_held(world.client.post("/portal/consent", data={"csrf": "x"},
                                      headers={"Accept": "*/*"}), service)


_FORMS = ('action="/portal/consent"', 'action="/portal/disclose"', 'action="/portal/token"')
"""Forms of acts that do not end processing, which a session limited to it is not shown."""


def test_while_the_witness_is_stalled_a_person_signs_in_to_end_processing_and_only_that(
    world: World, service: OptinFace,
) -> None:
    """A person not signed in reaches the acts that end processing: the portal's sign-in goes
    through, its session limited to them (the page says so), and a withdrawal is done. The
    limit is the token's for its whole life, the folder mended or not: a consent's challenge
    is refused ``ends_processing_only``; a sign-in made once the folder takes checkpoints
    again is not limited."""
    person = world.people[world.subject]
    other = world.consent(world.subject)
    with stalled(world, service):
        csrf = portal_session(world.client, person)
        page = world.client.get("/portal").text
        assert 'id="ends-processing-only"' in page and 'action="/portal/withdraw"' in page
        assert not any(form in page for form in _FORMS)
        withdrawal = {"act": "withdraw", "consent_id": other, "purpose_id": world.purpose_id}
        world.client.post("/portal/withdraw", data={
            "csrf": csrf, "consent_id": other, "purpose_id": world.purpose_id,
            "signed": portal_signature(world.client, csrf, person, withdrawal)})
        assert_refused(world.client.post("/portal/challenge", headers={"X-CSRF-Token": csrf},
                                         json=world.consent_act()),
                       403, "ends_processing_only")
    consents = ok(world.client.get(f"/v1/subjects/{world.subject}/consents",
                                   headers=person.headers))
    assert {c["id"]: c["status"] for c in consents}[other] == "withdrawn"
    assert_refused(world.client.post("/portal/challenge", headers={"X-CSRF-Token": csrf},
                                     json=world.consent_act()),
                   403, "ends_processing_only")
    csrf = portal_session(world.client, person)
    page = world.client.get("/portal").text
    assert 'id="ends-processing-only"' not in page
    assert all(form in page for form in _FORMS)
    ok(world.client.post("/portal/challenge", headers={"X-CSRF-Token": csrf},
                         json=world.consent_act()))


def test_a_sign_in_asked_before_the_stall_waits_for_the_folder(
    world: World, service: OptinFace,
) -> None:
    """Its token would not be limited: while the witness is stalled it is refused before
    anything is done, its challenge left unused, and the folder mended, the same answer signs
    in, not limited."""
    person = world.people[world.subject]
    challenge = ok(world.client.post("/v1/passkeys/sign-in-options"))
    answer = {"ceremony_id": challenge["ceremony_id"],
              "credential": person.authenticator.get(challenge["options"])}
    with stalled(world, service):
        assert_held(world.client.post("/v1/passkeys/sign-ins", json=answer), service)
    assert ok(world.client.post("/v1/passkeys/sign-ins", json=answer))[
        "ends_processing_only"] is False


def test_a_token_a_stalled_witness_limited_stays_limited_and_its_limit_is_sealed(
    world: World, service: OptinFace,
) -> None:
    """The API's sign-in while the witness is stalled: its token says it may only end
    processing, and after the stall it still opens no export and no opt-in's challenge; the
    person's token list says which of theirs is so limited; with its limit cleared in the
    database it opens nothing at all."""
    limited = dataclasses.replace(world.people[world.subject])
    with stalled(world, service):
        assert limited.sign_in()["ends_processing_only"] is True
    subject = f"/v1/subjects/{world.subject}"
    assert_refused(world.client.get(f"{subject}/export", headers=limited.headers),
                   403, "ends_processing_only")
    assert_refused(world.client.post(f"{subject}/challenges", headers=limited.headers,
                                     json={"act": "searchable", "searchable": True}),
                   403, "ends_processing_only")
    ok(world.client.post(f"{subject}/challenges", headers=limited.headers,
                         json={"act": "searchable", "searchable": False}))
    person = world.people[world.subject]
    listed = {token["token_id"]: token["ends_processing_only"] for token in ok(
        world.client.get(f"{subject}/tokens", headers=person.headers))}
    assert listed[parse_key_id(limited.token)] and not listed[parse_key_id(person.token)]
    outside_sql(service, "UPDATE subject_tokens SET scope = NULL WHERE id = :id",
                id=parse_key_id(limited.token))
    assert_refused(world.client.get(subject, headers=limited.headers), 401, "unauthenticated")


def test_a_mended_folder_is_taken_up_by_the_next_request(
    world: World, service: OptinFace,
) -> None:
    """No restart: once the folder takes writes again, a request (past the gate's pause
    between tries) has the checkpoint of every event taken and is answered; the log verifies
    against its witness."""
    read = {"url": f"/v1/subjects/{world.subject}", "headers": auth(world.keys.admin)}
    folder = service.settings.witness_dir
    service.witness_audit()
    with checkpoints_refused(folder):
        stall(world, service)
        assert_held(world.client.get(**read), service)
    events = row_count(service, AuditEvent)
    assert eventually(lambda: world.client.get(**read).status_code == 200, within=10)
    assert not service.witness_stalled
    assert latest_witnessed(folder) >= events
    assert ok(world.client.get("/v1/audit/verify", headers=auth(world.keys.reviewer)))["ok"]


def test_a_mended_folder_is_taken_up_by_the_periodic_round(
    world: World, service: OptinFace,
) -> None:
    """The periodic witness round takes a mended folder up too: the next request is answered
    at once, the log's every event witnessed."""
    folder = service.settings.witness_dir
    service.witness_audit()
    with checkpoints_refused(folder):
        stall(world, service)
    events = row_count(service, AuditEvent)
    service.witness_audit()
    assert latest_witnessed(folder) == events
    ok(world.client.get(f"/v1/subjects/{world.subject}", headers=auth(world.keys.admin)))


def _reaches_the_service(dependant: Dependant) -> bool:
    return any(sub.call is get_service or _reaches_the_service(sub)
               for sub in dependant.dependencies)


def _routes(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and _reaches_the_service(route.dependant):
            for method in context.methods or ():
                yield method, str(context.path), route


def test_every_route_that_reaches_the_service_is_held_but_those_that_pass(
    world: World, service: OptinFace,
) -> None:
    """No route can forget the gate: every route that reaches the service is refused while
    the witness is stalled, before its guard or its input is looked at, but the routes marked
    to pass, which are exactly the probes', the portal page's and those of the acts that end
    processing."""
    app = world.client.app
    assert isinstance(app, FastAPI)
    routes = list(_routes(app))
    marked = {(method, path) for method, path, route in routes
              if getattr(route.endpoint, PASSES_WITNESS_GATE, False)}
    assert marked == PASSING
    with stalled(world, service):
        for method, path, _ in routes:
            if (method, path) not in PASSING:
                url = path.replace("{", "").replace("}", "")  # each parameter named as itself
                answer = world.client.request(method, url, headers=auth("any"))
                if method == "HEAD":  # no body to read the code in
                    assert answer.status_code == 503, path
                else:
                    assert_held(answer, service)

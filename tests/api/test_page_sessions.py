"""The pages' sessions live in the ledger: any worker answers a signed-in page, a restart keeps
the session, log-out ends it everywhere (a portal session's token with it, never a reviewer's
key), the database file opens none, a row put back from a copy signs no one in again, a
sign-in form's CSRF cookie must be one the server made, and over HTTPS both cookies are
``__Host-`` cookies no sibling host can plant (consent.page_sessions, api/web/auth.py)."""

from __future__ import annotations

from contextlib import closing
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from optinface.api.app import create_app
from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from optinface.consent.tables import PageSession
from optinface.engine.pipeline import FacePipeline
from tests.support.api import Keys, World, auth, page_login, portal_session
from tests.support.backends import both_backends
from tests.support.consent import (
    drop_triggers,
    keep_deleted_rows,
    outside_copy,
    outside_put_back,
    row_count,
)
from tests.support.files import occurrences

SIGNED_OUT = {"review": 'id="token"', "portal": 'id="passkey-sign-in"'}
"""What each area's sign-in form holds and its signed-in pages do not."""


def _signed_in(client: TestClient, area: str) -> bool:
    answer = client.get(f"/{area}")
    assert answer.status_code == 200, answer.text
    return SIGNED_OUT[area] not in answer.text


def _same_browser(source: TestClient, target: TestClient) -> None:
    """``target`` sends the cookies ``source`` holds, as a browser does behind a balancer."""
    target.cookies.clear()
    for cookie in source.cookies.jar:
        target.cookies.set(cookie.name, cookie.value or "", domain=cookie.domain,
                           path=cookie.path)


@both_backends
def test_a_dashboard_session_opened_on_one_worker_is_honoured_and_logged_out_on_another(
    world: World, worker_b: TestClient
) -> None:
    page_login(world.client, "review", world.keys.reviewer)
    _same_browser(world.client, worker_b)
    assert _signed_in(worker_b, "review")
    csrf = worker_b.get("/review").text.split('name="csrf" value="')[1].split('"')[0]
    out = worker_b.post("/review/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303, out.text
    assert not _signed_in(world.client, "review")  # worker A's cookie: that session is over


def test_a_volunteers_portal_session_survives_a_restart(
    world: World, service: OptinFace, api_settings: ApiSettings, pipeline: FacePipeline
) -> None:
    portal_session(world.client, world.people[world.subject])
    service.close()
    with (closing(OptinFace.open(api_settings, pipeline=pipeline)) as restarted,
          TestClient(create_app(api_settings, service=restarted)) as after):
        _same_browser(world.client, after)
        assert _signed_in(after, "portal")


def test_the_ledger_file_holds_neither_cookie_nor_key_and_its_row_opens_no_session(
    world: World, service: OptinFace, api_settings: ApiSettings
) -> None:
    page_login(world.client, "review", world.keys.reviewer)
    cookie = world.client.cookies["optinface_review"]
    assert occurrences(api_settings.data_dir, cookie.encode()) == []
    assert occurrences(api_settings.data_dir, world.keys.reviewer.encode()) == []
    with service.runtime.db.reading() as session:
        [stored] = session.scalars(select(PageSession.id_hash))
    world.client.cookies.clear()  # the row's hash alone, not beside the real cookie
    world.client.cookies.set("optinface_review", stored, path="/review")
    assert not _signed_in(world.client, "review")


def _planted(client: TestClient, token: str, *, area: str) -> None:
    """The cookie a sibling site set in the victim's browser, for ``area``'s sign-in (a
    plain-HTTP server's name: no ``__Host-`` cookie there)."""
    client.cookies.clear()
    client.cookies.set(f"optinface_login_csrf_{area}", token, path=f"/{area}")


def test_a_planted_sign_in_cookie_not_made_by_the_server_is_refused(
    world: World, service: OptinFace
) -> None:
    for token in ("attackers-own-token", service.sign_in_token("portal")):
        _planted(world.client, token, area="review")
        answer = world.client.post("/review/login", data={
            "token": world.keys.reviewer, "csrf": token}, follow_redirects=False)
        assert answer.status_code == 401 and "The form expired" in answer.text, answer.text
    _planted(world.client, "attackers-own-token", area="portal")
    asked = world.client.post("/portal/passkey/options",
                              headers={"X-CSRF-Token": "attackers-own-token"})
    assert asked.status_code == 403 and "forbidden" in asked.text, asked.text
    page_login(world.client, "review", world.keys.reviewer)  # the server's own token passes


def _form_token(answer_text: str) -> str:
    return answer_text.split('name="csrf" value="')[1].split('"')[0]


def test_over_https_a_sibling_host_can_plant_neither_a_fetched_sign_in_token_nor_a_session(
    api_settings: ApiSettings, service: OptinFace, keys: Keys
) -> None:
    """Red team 6 (informational): a sign-in token fetched by one client signed another in,
    given the token's cookie, which a sibling host sets through the parent domain. Over HTTPS
    the server sets and reads only ``__Host-`` cookies, which a browser takes from no other
    host, so what a sibling can plant (the same names without the prefix, scoped to the area)
    signs no one in: neither the attacker's fetched token nor the attacker's own session."""
    secure = api_settings.model_copy(update={"cookie_secure": True})
    app = create_app(secure, service=service)
    with (TestClient(app, base_url="https://testserver") as attacker,
          TestClient(app, base_url="https://testserver") as victim):
        form = attacker.get("/review")
        fetched = _form_token(form.text)
        [set_cookie] = form.headers.get_list("set-cookie")
        page_login(attacker, "review", keys.reviewer)
        attackers_session = attacker.cookies["__Host-optinface_review"]
        victim.cookies.set("optinface_login_csrf_review", fetched, path="/review")
        forced = victim.post("/review/login", data={"token": keys.reviewer, "csrf": fetched},
                             follow_redirects=False)
        victim.cookies.clear()
        victim.cookies.set("optinface_review", attackers_session, path="/review")
        fixed = _signed_in(victim, "review")
        page_login(victim, "review", keys.reviewer)  # the server's own pair, as a browser keeps it
        own = _signed_in(victim, "review")
    assert set_cookie.startswith(f"__Host-optinface_login_csrf_review={fetched};"), set_cookie
    assert "Path=/;" in set_cookie and "Secure" in set_cookie and "Domain" not in set_cookie
    assert forced.status_code == 401 and "The form expired" in forced.text, forced.text
    assert not fixed
    assert own


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@both_backends
def test_portal_log_out_kills_the_sessions_token_and_a_row_put_back_signs_no_one_in(
    database_url: str | None, world: World, service: OptinFace
) -> None:
    csrf = portal_session(world.client, world.people[world.subject])
    cookie = world.client.cookies["optinface_portal"]
    opened = service.page_session(cookie, "portal")  # the cookie and a copy open the token
    assert opened is not None
    token, copy = opened.secret, outside_copy(service, "page_sessions")
    export = f"/v1/subjects/{world.subject}/export?vectors=true"
    assert world.client.get(export, headers=_bearer(token)).status_code == 200
    out = world.client.post("/portal/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303, out.text
    outside_put_back(service, "page_sessions", copy)
    world.client.cookies.set("optinface_portal", cookie, path="/portal")
    assert not _signed_in(world.client, "portal")
    refused = world.client.get(export, headers=_bearer(token))
    assert refused.status_code == 401, refused.text
    assert world.client.get(export, headers=_bearer(world.subject_token)).status_code == 200


@both_backends
def test_a_reviewers_key_still_works_after_their_dashboard_log_out(
    database_url: str | None, world: World
) -> None:
    page_login(world.client, "review", world.keys.reviewer)
    csrf = world.client.get("/review").text.split('name="csrf" value="')[1].split('"')[0]
    out = world.client.post("/review/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303, out.text
    assert not _signed_in(world.client, "review")
    verified = world.client.get("/v1/audit/verify", headers=_bearer(world.keys.reviewer))
    assert verified.status_code == 200, verified.text


@both_backends
def test_an_expired_or_erased_session_on_a_ledger_with_a_trigger_still_ends_on_a_visit(
    database_url: str | None, world: World, service: OptinFace
) -> None:
    """A trigger made by hand on one of the ledger's tables (here the templates'): a visit with
    an expired session's cookie still gets the sign-in form and the row goes, and an erased
    subject's session is still said once (410) and then asks to sign in, never a 503
    ``ledger_altered`` on every page, the sign-in form included (review 20c #6). Only an
    explicit log-out reads its end back."""
    keep_deleted_rows(service, "templates")
    try:
        portal_session(world.client, world.people[world.subject])
        with service.runtime.db.transaction() as session:
            session.execute(update(PageSession).values(
                expires_at=service.clock.now() - timedelta(minutes=1)))
        assert not _signed_in(world.client, "portal")
        assert row_count(service, PageSession) == 0

        portal_session(world.client, world.people[world.subject])
        drop_triggers(service, "templates")
        erased = world.client.delete(f"/v1/subjects/{world.subject}",
                                     headers=auth(world.keys.admin))
        assert erased.status_code == 200, erased.text
        keep_deleted_rows(service, "templates")
        told = world.client.get("/portal")
        assert told.status_code == 410, told.text
        assert not _signed_in(world.client, "portal")
    finally:
        drop_triggers(service, "templates")

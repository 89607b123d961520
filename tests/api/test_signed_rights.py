"""The portal's erasure, copy of the templates and API token are the person's signed acts, in
Chromium.

Each asks the person's own passkey (a DevTools virtual authenticator holding it) for a fresh
assertion whose challenge is the hash of a statement naming the act, the subject, a server
nonce and its end; the session alone does none of them (a token erases and copies over the
API, so issuing one is signed too). Refused, and nothing done: no signature, a signature used
before, one for another act, one made with another person's passkey. The audit chain names the
passkey that signed (by its keyed hash), as it does for the person's other signed acts, and so
does the erasure receipt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from optinface.api.app import create_app
from optinface.api.settings import ApiSettings
from optinface.consent.crypto import canonical_json
from optinface.consent.service import OptinFace
from tests.api.browser import PHONE, chromium_page, localhost, passkey_log_in
from tests.support.api import World, auth
from tests.support.server import running

pytestmark = [pytest.mark.browser, pytest.mark.shared_deployment]

ERASE = ("/portal/erase", "#erase")
COPY = ("/portal/data-with-templates.json", "#template-copy")
TOKEN = ("/portal/token", "#token")


@pytest.fixture
def base_url(api_settings: ApiSettings, service: OptinFace, world: World) -> Iterator[str]:
    with running(create_app(api_settings, service=service)) as url:
        yield localhost(url)


def _events(world: World, **filters: str) -> list[dict[str, Any]]:
    found = world.client.get("/v1/audit/events", params={"limit": "500", **filters},
                             headers=auth(world.keys.reviewer))
    assert found.status_code == 200, found.text
    events: list[dict[str, Any]] = found.json()["events"]
    return events


def _tokens(world: World, pseudonym: str) -> list[dict[str, Any]]:
    """The API tokens issued to the person from the portal (a refusal is chained as
    ``refused``, not as an issuance)."""
    return _events(world, subject=pseudonym, action="subject_token_issued")


def _copies(world: World, pseudonym: str) -> list[dict[str, Any]]:
    """The exports that copied the person's templates (a refused copy's page shows the plain
    export, which copies none)."""
    return [e for e in _events(world, subject=pseudonym, action="export")
            if "template_vectors" in e["details"]]


def _their_passkey(world: World, pseudonym: str) -> str:
    """The keyed hash by which the log names the person's passkey: from their signed opt-in."""
    [opted_in] = [e for e in _events(world, subject=pseudonym, action="subject_updated")
                  if "credential_hash" in e["details"]]
    return str(opted_in["details"]["credential_hash"])


def _signed_in(page: Any, world: World, pseudonym: str, path: str) -> str:
    """The person's page at ``path``, signed in in the browser; the form's CSRF token."""
    passkey_log_in(page, world.people[pseudonym].authenticator.export())
    page.goto(path)
    return str(page.locator("input[name=csrf]").first.input_value())


def _signature_held_back(page: Any, form: tuple[str, str]) -> str:
    """The person confirms and signs ``form`` in the browser, but the post never reaches the
    server: what its ``signed`` field held, a fresh assertion no one has used."""
    action, section = form
    posted: list[str] = []

    def hold(route: Any) -> None:
        posted.append(route.request.post_data or "")
        route.abort()

    page.route(f"**{action}", hold)
    confirm = page.locator(f"{section} input[name=confirm]")
    if confirm.count():  # an erasure and a copy are confirmed first; a token is not
        confirm.check()
    page.click(f"{section} button[type=submit]")
    for _ in range(100):
        if posted:
            break
        page.wait_for_timeout(100)
    page.unroute(f"**{action}")
    return parse_qs(posted[0])["signed"][0]


def _signature_sent(page: Any, form: tuple[str, str], submit: Callable[[], None]) -> str:
    """What the ``signed`` field held when ``submit`` posted ``form`` through: a signature the
    server has spent."""
    posted: list[str] = []
    page.route(f"**{form[0]}", lambda route: (
        posted.append(route.request.post_data or ""), route.continue_()))
    submit()
    page.unroute(f"**{form[0]}")
    return parse_qs(posted[0])["signed"][0]


def _forged(page: Any, world: World, csrf: str, act: str, signer: str) -> str:
    """This person's challenge for ``act``, signed with ``signer``'s passkey: a ``signed``
    field that names the right ceremony but another person's credential."""
    challenge = page.request.post("/portal/challenge", data={"act": act},
                                  headers={"X-CSRF-Token": csrf}).json()
    forged = world.people[signer].authenticator.get(
        {**challenge["options"], "allowCredentials": []})
    return json.dumps({"ceremony_id": challenge["ceremony_id"], "credential": forged})


def _swapped(page: Any, csrf: str, *forms: tuple[tuple[str, str], str]) -> None:
    """Two forms (each with the page it is on) signed and held back, each signature then sent
    to the other form: refused (``challenge_invalid``), a signature holding for its act only."""
    held: list[str] = []
    for form, path in forms:
        page.goto(path)
        held.append(_signature_held_back(page, form))
    (first, _), (second, _) = forms
    _refused(_post(page, second, csrf, held[0]), 403, "challenge_invalid")
    _refused(_post(page, first, csrf, held[1]), 403, "challenge_invalid")


def _post(page: Any, form: tuple[str, str], csrf: str, signed: str | None) -> Any:
    data = {"csrf": csrf, "confirm": "true"} | ({} if signed is None else {"signed": signed})
    return page.request.post(form[0], form=data)


def _refused(answer: Any, status: int, code: str) -> None:
    assert answer.status == status and code in answer.text(), (answer.status, answer.text())


def test_the_portal_erasure_is_signed_by_the_persons_passkey_and_the_chain_shows_it(
    base_url: str, world: World
) -> None:
    subject, _ = world.new_subject()
    passkey = _their_passkey(world, subject)
    with chromium_page(base_url, PHONE) as page:
        _signed_in(page, world, subject, "/portal")
        page.check("#erase-confirm")
        page.click("#erase button[type=submit]")
        page.wait_for_selector("#one-time-code")
        assert page.inner_text("h1") == "Everything erased"
        assert "You asked for it with your passkey" in page.inner_text("#summary")
        receipt = json.loads(page.text_content("#receipt") or "")["receipt"]
    signature = receipt["personSignature"]
    assert signature["credentialHash"] == passkey
    [event] = [e for e in _events(world, action="erase")
               if e["details"].get("signed", {}).get("statement_sha256")
               == signature["statementSha256"]]
    assert event["details"]["signed"]["credential_hash"] == passkey
    assert event["actor_role"] == "subject"
    verified = world.client.get("/v1/audit/verify", headers=auth(world.keys.reviewer))
    assert verified.status_code == 200 and verified.json()["ok"], verified.text


def test_the_template_copy_is_signed_by_the_persons_passkey_and_the_chain_shows_it(
    base_url: str, world: World, portrait_jpegs: list[bytes]
) -> None:
    subject, _ = world.new_subject()
    consent = world.consent(subject)
    enrolled = world.enrol(subject, consent, portrait_jpegs[0])
    passkey = _their_passkey(world, subject)
    with chromium_page(base_url, PHONE) as page:
        _signed_in(page, world, subject, "/portal/data")
        page.check("#template-copy-confirm")
        with page.expect_download() as downloaded:
            page.click("#template-copy button[type=submit]")
        with open(downloaded.value.path()) as file:
            copy = json.load(file)
    assert [v["template_id"] for v in copy["template_vectors"]] == [enrolled["id"]]
    event = copy["events"][-1]
    assert event["action"] == "export"
    assert event["details"]["template_vectors"] == [enrolled["id"]]
    assert event["details"]["signed"]["credential_hash"] == passkey


def test_no_signature_a_used_one_another_acts_or_another_persons_erases_and_copies_nothing(
    base_url: str, world: World, portrait_jpegs: list[bytes]
) -> None:
    subject, _ = world.new_subject()
    enrolled = world.enrol(subject, world.consent(subject), portrait_jpegs[0])
    other, _ = world.new_subject()
    copies_before = len(_copies(world, subject))
    with chromium_page(base_url, PHONE) as page:
        csrf = _signed_in(page, world, subject, "/portal/data")
        # A copy signed and made, then its very signature sent again: used.
        def copy() -> None:
            page.check("#template-copy-confirm")
            with page.expect_download():
                page.click("#template-copy button[type=submit]")

        copy()
        used = _signature_sent(page, COPY, copy)
        _refused(_post(page, COPY, csrf, used), 403, "challenge_invalid")
        _refused(_post(page, ERASE, csrf, used), 403, "challenge_invalid")
        # Signed for the other act, never sent: each refused where it does not belong.
        _swapped(page, csrf, (COPY, "/portal/data"), (ERASE, "/portal"))
        # None at all: the session alone.
        _refused(_post(page, ERASE, csrf, None), 422, "validation_error")
        _refused(_post(page, COPY, csrf, None), 422, "validation_error")
        # This person's challenge signed with another person's passkey.
        for form, act in ((ERASE, "erase"), (COPY, "template_copy")):
            _refused(_post(page, form, csrf, _forged(page, world, csrf, act, other)),
                     403, "passkey_invalid")
    # Nothing happened: two copies made, none since; the subject and their template still here.
    assert len(_copies(world, subject)) == copies_before + 2
    person = world.people[subject]
    faces = world.client.get(f"/v1/subjects/{subject}/faces", headers=person.headers)
    assert faces.status_code == 200 and [f["id"] for f in faces.json()] == [enrolled["id"]]


def test_the_apis_erasure_with_a_subject_token_takes_the_persons_signature(
    world: World
) -> None:
    """``DELETE /v1/subjects/{s}`` with the person's own token: their signed ``erase`` act as
    the body is checked and named like the portal's; an operator cannot open one."""
    subject, _ = world.new_subject()
    person = world.people[subject]
    refused = world.client.post(f"/v1/subjects/{subject}/challenges", json={"act": "erase"},
                                headers=auth(world.keys.admin))
    assert refused.status_code == 403 and refused.json()["code"] == (
        "subject_credential_required"), refused.text
    copy_signed = person.sign({"act": "template_copy"})
    wrong = world.client.request("DELETE", f"/v1/subjects/{subject}", json=copy_signed,
                                 headers=person.headers)
    assert wrong.status_code == 403 and wrong.json()["code"] == "challenge_invalid", wrong.text
    erased = world.client.request("DELETE", f"/v1/subjects/{subject}",
                                  json=person.sign({"act": "erase"}), headers=person.headers)
    assert erased.status_code == 200, erased.text
    assert erased.json()["signed"]["receipt"]["personSignature"]["credentialHash"]


def test_an_api_token_from_the_portal_is_signed_by_the_persons_passkey_and_the_chain_shows_it(
    base_url: str, world: World
) -> None:
    """The token erases and copies over the API for its lifetime: issuing it is the person's
    signed ``subject_token`` act, and its event names the passkey and the statement signed."""
    subject, _ = world.new_subject()
    passkey = _their_passkey(world, subject)
    with chromium_page(base_url, PHONE) as page:
        _signed_in(page, world, subject, "/portal")
        statements: list[dict[str, Any]] = []

        def read(route: Any) -> None:  # the statement the device signs, read on its way
            answer = route.fetch()
            statements.append(answer.json()["statement"])
            route.fulfill(response=answer)

        page.route("**/portal/challenge", read)
        page.click("#token button[type=submit]")
        page.wait_for_selector("#subject-token")
        token = page.inner_text("#subject-token").strip()
    [statement] = statements
    assert statement["act"] == "subject_token" and statement["subject"] == subject
    assert len(statement["nonce"]) == 32 and statement["validUntil"] > statement["issuedAt"]
    [event] = _tokens(world, subject)
    assert event["actor_role"] == "subject"
    assert event["details"]["signed"] == {
        "credential_hash": passkey,
        "statement_sha256": hashlib.sha256(canonical_json(statement)).hexdigest()}
    own = world.client.get(f"/v1/subjects/{subject}", headers=auth(token))
    assert own.status_code == 200 and own.json()["pseudonym"] == subject, own.text
    verified = world.client.get("/v1/audit/verify", headers=auth(world.keys.reviewer))
    assert verified.status_code == 200 and verified.json()["ok"], verified.text


def test_no_signature_a_used_one_another_acts_or_another_persons_issues_no_token(
    base_url: str, world: World
) -> None:
    subject, _ = world.new_subject()
    other, _ = world.new_subject()
    with chromium_page(base_url, PHONE) as page:
        csrf = _signed_in(page, world, subject, "/portal")
        # A token signed and issued, then its very signature sent again: used.
        def issue() -> None:
            page.click("#token button[type=submit]")
            page.wait_for_selector("#subject-token")

        used = _signature_sent(page, TOKEN, issue)
        _refused(_post(page, TOKEN, csrf, used), 403, "challenge_invalid")
        # Signed for another act, never sent: each refused where it does not belong.
        _swapped(page, csrf, (TOKEN, "/portal"), (ERASE, "/portal"))
        # None at all: the session alone.
        _refused(_post(page, TOKEN, csrf, None), 422, "validation_error")
        # This person's challenge signed with another person's passkey.
        _refused(_post(page, TOKEN, csrf, _forged(page, world, csrf, "subject_token", other)),
                 403, "passkey_invalid")
    # One token issued, none since; each refusal chained; the person not erased.
    assert len(_tokens(world, subject)) == 1
    refused = [e for e in _events(world, subject=subject, action="refused")
               if e["details"].get("attempted") == "subject_token_issued"]
    assert len(refused) == 3  # used, another act's, another person's: none unsigned
    person = world.people[subject]
    assert world.client.get(f"/v1/subjects/{subject}", headers=person.headers).status_code == 200

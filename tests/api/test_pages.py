"""The subject portal and the reviewer dashboard, driven by headless Chromium on a real server."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from optinface.api.app import create_app
from optinface.api.settings import ApiSettings
from optinface.api.web.i18n import Language
from optinface.api.web.reader_words import words_in
from optinface.consent.receipts import subject_signature_problem, verify_receipt
from optinface.consent.service import OptinFace
from optinface.engine.pipeline import FacePipeline
from tests.api.browser import DESKTOP, chromium_page, localhost, shot, virtual_authenticator
from tests.support.api import (
    World,
    assert_refused,
    auth,
    deployment,
    portal_session,
    portal_signature,
    publish_purpose,
    set_up_world,
    signed_erasure,
)
from tests.support.server import running

pytestmark = pytest.mark.shared_deployment


@pytest.fixture
def base_url(api_settings: ApiSettings, service: OptinFace, world: World) -> Iterator[str]:
    with running(create_app(api_settings, service=service)) as url:
        yield localhost(url)


@pytest.fixture
def page(base_url: str) -> Iterator[object]:
    with chromium_page(base_url, DESKTOP) as opened:
        yield opened


def _signed_json(page: object) -> dict[str, Any]:
    return dict(json.loads(page.text_content("#receipt")))  # type: ignore[attr-defined]


def _offline_check(signed: dict[str, object], public_key: str) -> None:
    """What ``optinface receipt verify`` does: the controller's and the person's signatures."""
    receipt = signed["receipt"]
    assert isinstance(receipt, dict)
    assert verify_receipt(receipt, str(signed["signature"]), public_key)
    assert subject_signature_problem(receipt) is None
    assert receipt["subjectSignature"]["rpId"] == "localhost"


def _new_person_in_the_browser(page: object, world: World) -> str:
    """The desk creates a shell; the person opens the link, creates a passkey in the browser's
    virtual authenticator and signs in with it."""
    virtual_authenticator(page)
    created = world.new_shell()
    page.goto("/passkey#" + created["enrolment"]["secret"])  # type: ignore[attr-defined]
    shot(page, "passkey-register")
    page.click("#passkey-register")  # type: ignore[attr-defined]
    page.wait_for_selector("#registered:not([hidden])")  # type: ignore[attr-defined]
    # Whose passkey it is, in words (the API answers the code, "self").
    assert page.inner_text("#registered-capacity") == "It acts in your own name."  # type: ignore[attr-defined]
    page.goto("/portal")  # type: ignore[attr-defined]
    shot(page, "portal-login")
    page.click("#passkey-sign-in")  # type: ignore[attr-defined]
    page.wait_for_selector("#pseudonym")  # type: ignore[attr-defined]
    assert page.inner_text("#pseudonym") == created["pseudonym"]  # type: ignore[attr-defined]
    return str(created["pseudonym"])


def _probe_signed_in_the_browser(page: object, world: World, photo: bytes, *,
                                 subject: str | None, button: str) -> dict[str, Any]:
    """The researcher asks for a probe consent (for a verify against ``subject``); the person
    opens the link's page and signs there: the probe consent, with its receipt."""
    sha256 = hashlib.sha256(photo).hexdigest()
    page.goto(_probe_page(_probe_link(world, sha256, subject=subject)))  # type: ignore[attr-defined]
    page.click(button)  # type: ignore[attr-defined]
    page.wait_for_selector("#probe-statement:not([hidden])")  # type: ignore[attr-defined]
    assert page.inner_text("#probe-image") == sha256  # type: ignore[attr-defined]
    assert page.inner_text("#probe-notice") == NOTICE  # type: ignore[attr-defined]
    assert not page.is_visible(button)  # type: ignore[attr-defined]  # done: hidden
    shot(page, f"probe-{button.removeprefix('#probe-')}")
    page.click("#probe-sign")  # type: ignore[attr-defined]
    page.wait_for_selector("#probe-done:not([hidden])")  # type: ignore[attr-defined]
    assert page.inner_text("#probe-done-purpose") == "Study A"  # type: ignore[attr-defined]
    signed = _signed_json(page)
    assert page.inner_text("#probe-done-id") == signed["id"]  # type: ignore[attr-defined]
    zone = ZoneInfo(world.client.app.state.settings.timezone)  # type: ignore[attr-defined]
    until = datetime.fromisoformat(signed["expires_at"]).astimezone(zone)
    shown = page.inner_text("#probe-done-until")  # type: ignore[attr-defined]
    assert until.strftime("%H:%M") in shown and until.strftime("%Z") in shown, shown
    return signed


NOTICE = "We use your face for study A only."  # the world's notice (tests/support/api.py)


def _probe_link(world: World, sha256: str, *, subject: str | None = None) -> dict[str, Any]:
    """The researcher's one-time link for the person in the photo (the subject's, for a
    verify against ``subject``)."""
    made = world.client.post("/v1/probe-consents", headers=auth(world.keys.researcher), json={
        "purpose_id": world.purpose_id, "notice_id": world.notice_id, "subject": subject,
        "probe_sha256": sha256})
    assert made.status_code == 201, made.text
    return dict(made.json())


def _probe_page(link: dict[str, Any]) -> str:
    return "/" + str(link["link_url"]).split("/", 3)[3]


@pytest.mark.browser
def test_a_person_registers_a_passkey_consents_approves_a_capture_opts_in_and_withdraws(
    page, world: World, service: OptinFace, portrait_jpegs: list[bytes]
) -> None:
    subject = _new_person_in_the_browser(page, world)
    assert "cannot find you" in page.inner_text("#searchable")  # not searchable by default
    boxes = page.locator("input[name=purposes]")
    assert boxes.count() == 1 and not boxes.first.is_checked()  # express consent: unticked
    shot(page, "portal")
    boxes.first.check()
    page.click("#give-consent button[type=submit]")
    page.wait_for_selector("#summary")
    assert "Consent recorded" in page.inner_text("h1")
    consent = _signed_json(page)
    _offline_check(consent, service.public_key)
    shot(page, "portal-consent-receipt")

    page.goto("/portal")
    page.click("#searchable-switch")
    page.wait_for_selector("text=can find you")
    assert "cannot" not in page.inner_text("#searchable")

    # Desk-assisted capture: the desk names the photo by its SHA-256, the person approves.
    consent_id = consent["receipt"]["consentReceiptID"]  # type: ignore[index]
    photo = portrait_jpegs[0]
    opened = world.client.post(
        f"/v1/subjects/{subject}/challenges", headers=auth(world.keys.portal),
        json={"act": "enrol", "consent_id": consent_id,
              "photo_sha256": hashlib.sha256(photo).hexdigest()})
    assert opened.status_code == 200, opened.text
    page.goto("/portal")
    page.click("#captures button[type=submit]")
    page.wait_for_selector("#capture-approved")
    uploaded = world.client.post(
        f"/v1/subjects/{subject}/faces", data={"capture_id": opened.json()["ceremony_id"]},
        files={"image": ("face.jpg", photo, "image/jpeg")}, headers=auth(world.keys.portal))
    assert uploaded.status_code == 201, uploaded.text
    assert world.identify(photo).json()["candidates"][0]["subject"] == subject
    # The probe page: for a verify the subject compared with signs with the passkey they
    # already have (the device offers it: the page names none); for an identification the
    # person in the photo makes one on the link. This browser's authenticator plays both, in
    # that order, so that it holds one passkey when asked to offer the subject's.
    for operation, via, button in (("verify", subject, "#probe-subject"),
                                   ("identify", None, "#probe-register")):
        signed_probe = _probe_signed_in_the_browser(page, world, photo, subject=via,
                                                    button=button)
        _offline_check(signed_probe["receipt"], service.public_key)
        answer = world.client.post(
            f"/v1/{operation}", headers=auth(world.keys.researcher),
            data={"purpose_id": world.purpose_id, "probe_consent_id": signed_probe["id"],
                  **({"subject": subject} if via else {})},
            files={"image": ("probe.jpg", photo, "image/jpeg")})
        assert answer.json()["candidates"][0]["subject"] == subject, answer.text
    page.goto("/portal/data")
    assert "w600k_mbf" in page.inner_text("#export")
    shot(page, "portal-data")

    page.goto("/portal")
    page.locator("#consents form").first.locator("button").click()
    page.click("text=Stop and erase everything")  # the last use: confirmed, signed again
    page.wait_for_selector("#summary")
    assert "Everything erased" in page.inner_text("h1")
    assert world.identify(photo).json()["outcome"] == "no_candidate"
    shot(page, "portal-erasure-receipt")
    page.goto("/portal")
    assert page.locator("#passkey-sign-in").count() == 1  # the session ended with them


@pytest.mark.browser
def test_a_person_uploads_their_own_photo_signed_by_its_hash(
    page, world: World, portrait_jpegs: list[bytes], tmp_path: Path
) -> None:
    _new_person_in_the_browser(page, world)
    page.locator("input[name=purposes]").first.check()
    page.click("#give-consent button[type=submit]")
    page.wait_for_selector("#summary")
    page.goto("/portal")
    photo = tmp_path / "me.jpg"
    photo.write_bytes(portrait_jpegs[0])
    page.set_input_files("#enrol input[name=image]", str(photo))
    page.click("#enrol button[type=submit]")
    page.wait_for_selector("#enrol [role=status]")
    assert "encrypted template" in page.inner_text("#enrol [role=status]")
    shot(page, "portal-enrolled")


@pytest.mark.browser
def test_a_person_replaces_their_own_photo_with_a_new_one_from_the_portal(
    page, world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], tmp_path: Path
) -> None:
    subject = _new_person_in_the_browser(page, world)
    page.locator("input[name=purposes]").first.check()
    page.click("#give-consent button[type=submit]")
    page.wait_for_selector("#summary")

    def faces() -> list[int]:
        answer = world.client.get(f"/v1/subjects/{subject}/faces", headers=auth(world.keys.portal))
        return [face["id"] for face in answer.json()]

    def upload(photo: bytes, *, replacing: int | None) -> None:
        page.goto("/portal")
        if replacing is not None:
            page.select_option("#enrol-replaces", str(replacing))
        path = tmp_path / "me.jpg"
        path.write_bytes(photo)
        page.set_input_files("#enrol input[name=image]", str(path))
        page.click("#enrol button[type=submit]")
        page.wait_for_selector("#enrol [role=status]")

    upload(portrait_jpegs[0], replacing=None)
    [first] = faces()
    upload(flipped_jpegs[0], replacing=None)  # kept both: an added photo replaces nothing
    [kept, second] = faces()
    assert kept == first
    upload(portrait_jpegs[0], replacing=first)  # the passkey signed which one goes
    remaining = faces()
    assert len(remaining) == 2 and first not in remaining and second in remaining

    page.locator("input[name=purposes]").first.check()  # a second consent of the person's
    page.click("#give-consent button[type=submit]")
    page.wait_for_selector("#summary")
    consents = world.client.get(f"/v1/subjects/{subject}/consents",
                                headers=auth(world.keys.portal)).json()
    [later] = [c["id"] for c in consents if c["status"] == "active"][1:]
    page.goto("/portal")
    page.select_option("#enrol-consent", later)  # no photo of the first consent is offered
    assert all(page.locator(f"#enrol-replaces option[value='{face}']").is_disabled()
               for face in remaining)


@pytest.mark.browser
def test_a_person_shares_their_record_signing_who_gets_it_and_downloads_what_goes(
    page, world: World
) -> None:
    """BIPA 15(d) on the person's own ground, from the portal: their passkey signs the
    recipient, where they are, ground and reference; they download what the recipient gets
    (never a vector), and the disclosure is on record. A recipient outside Québec is refused
    before anything is signed (P-39.1 s. 17: the controller assesses that first), with advice."""
    subject = _new_person_in_the_browser(page, world)
    page.fill("#disclose-recipient", "Acme Bank")  # type: ignore[attr-defined]
    page.fill("#disclose-country", "US")  # type: ignore[attr-defined]
    page.select_option("#disclose-basis", "financial_transaction")  # type: ignore[attr-defined]
    page.fill("#disclose-reference", "LOAN 2027/42")  # type: ignore[attr-defined]
    page.click("#disclose button[type=submit]")  # type: ignore[attr-defined]
    advice = page.locator("#disclose [data-passkey-error]")  # type: ignore[attr-defined]
    advice.wait_for()
    assert advice.inner_text().startswith("They are outside the area whose law protects you")
    page.fill("#disclose-region", "Illinois")  # type: ignore[attr-defined]
    page.fill("#disclose-assessment", "EFVP-2027-03")  # type: ignore[attr-defined]
    with page.expect_download() as shared:  # type: ignore[attr-defined]
        page.click("#disclose button[type=submit]")  # type: ignore[attr-defined]
    made = json.loads(Path(shared.value.path()).read_text())
    assert (made["disclosure"]["recipient"], made["disclosure"]["legal_basis"]) == (
        "Acme Bank", "financial_transaction")
    assert made["handed_over"]["subject"]["pseudonym"] == subject
    assert "embedding" not in json.dumps(made) and "vector" not in json.dumps(made)
    listed = world.client.get(f"/v1/subjects/{subject}/disclosures",
                              headers=auth(world.keys.admin)).json()
    assert [(d["recipient"], d["document_reference"], d["recipient_region"], d["area_left"],
             d["transfer_assessment"]) for d in listed] == [
        ("Acme Bank", "LOAN 2027/42", "Illinois", "Québec", "EFVP-2027-03")]


@pytest.mark.browser
def test_reviewer_dashboard_shows_chain_ledger_register_and_downloads(page, world: World) -> None:
    world.client.delete(f"/v1/subjects/{world.subject}", headers=auth(world.keys.admin))
    page.goto("/review")
    page.fill("#token", world.keys.reviewer)
    page.click("button[type=submit]")
    assert "Verified" in page.inner_text("#chain")
    assert "CAI-2026-001" in page.inner_text("#register")
    shot(page, "review")
    with page.expect_download() as download:
        page.click("text=audit.csv")
    assert download.value.suggested_filename == "audit.csv"


@pytest.mark.browser
def test_the_wrong_secret_does_not_open_the_dashboard(page, world: World) -> None:
    page.goto("/review")
    page.fill("#token", world.subject_token)
    page.click("button[type=submit]")
    assert "does not open this area" in page.inner_text("[role=alert]")


def test_session_cookie_is_httponly_and_samesite_strict(client: TestClient, world: World) -> None:
    login = client.get("/portal")
    headers = {"X-CSRF-Token": login.text.split('data-csrf="')[1].split('"')[0]}
    challenge = client.post("/portal/passkey/options", headers=headers).json()
    answer = client.post("/portal/passkey/sign-in", headers=headers, json={
        "ceremony_id": challenge["ceremony_id"],
        "credential": world.people[world.subject].authenticator.get(challenge["options"])})
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/portal" in cookie


def test_a_form_post_without_the_sessions_csrf_token_is_refused(
    client: TestClient, world: World
) -> None:
    portal_session(client, world.people[world.subject])
    answer = client.post("/portal/erase", data={"csrf": "forged", "confirm": "true"})
    assert answer.status_code == 403 and "forbidden" in answer.text
    assert (
        client.get(f"/v1/subjects/{world.subject}", headers=auth(world.subject_token)).status_code
        == 200
    )


def test_a_login_without_the_form_token_is_refused(client: TestClient, world: World) -> None:
    answer = client.post("/portal/passkey/options", headers={"X-CSRF-Token": "x"})
    assert answer.status_code == 403 and "expired" in answer.text


def test_an_unsigned_consent_form_is_refused(client: TestClient, world: World) -> None:
    csrf = portal_session(client, world.people[world.subject])
    answer = client.post("/portal/consent", data={"csrf": csrf, "purposes": [world.purpose_id]})
    assert answer.status_code == 422 and "passkey" in answer.text


def test_pages_load_their_script_from_the_app_only(client: TestClient) -> None:
    page = client.get("/portal").text
    assert '<script src="/static/passkey.js" defer></script>' in page
    assert "<script>" not in page and "onclick" not in page
    script = client.get("/static/passkey.js")
    assert script.status_code == 200 and "navigator.credentials" in script.text


def _switch(html: str) -> bool:
    return "data-language-switch" in html


def test_a_page_answering_a_form_offers_no_language_switch_that_would_lose_it(
    client: TestClient, world: World
) -> None:
    """Following the switch is a GET: on the erasure receipt it would be a 405 and the one-time
    code gone for good (the session ended). The language chosen before the form stays."""
    person, _ = world.new_person()
    csrf = portal_session(client, person)
    assert _switch(client.get("/portal?lang=fr").text)
    erased = signed_erasure(client, csrf, person)
    assert erased.status_code == 200, erased.text
    assert 'id="one-time-code"' in erased.text and '<html lang="fr">' in erased.text
    assert not _switch(erased.text)
    assert _switch(client.get("/privacy").text)
    # Relative, so a proxy that ends TLS does not turn it into an http:// link.
    assert 'href="/privacy?lang=' in client.get("/privacy").text


@pytest.mark.parametrize(("language", "gone"), [
    (Language.EN, "Only this signed receipt remains"),
    (Language.FR, "Seul ce reçu signé demeure")])
def test_the_erasure_receipt_page_states_what_the_signed_receipt_states(
    client: TestClient, world: World, api_settings: ApiSettings, language: Language, gone: str
) -> None:
    """Its times, when copies become undecryptable, what outlives the destruction in the
    database and what is kept, each as the signed receipt states it, in the reader's words;
    never that the receipt alone remains (/privacy lists what remains, and so does the
    receipt)."""
    person, _ = world.new_person()
    csrf = portal_session(client, person)
    client.get("/portal", params={"lang": language})
    erased = signed_erasure(client, csrf, person)
    assert erased.status_code == 200, erased.text
    receipt = json.loads(unescape(erased.text.split('<pre id="receipt">')[1].split("</pre>")[0]))
    signed = receipt["receipt"]
    words = words_in(language, api_settings)
    summary = unescape(erased.text.split('id="summary"')[1].split('id="signed"')[0])
    for moment in ("requestedAt", "unsearchableAt", "destroyedAt", "copiesUndecryptableAt"):
        assert words.when(signed[moment]) in summary, moment
    assert words.reword(signed["afterDestroyedAt"]) in summary
    kept = summary.split('id="kept">')[1].split("</ul>")[0]
    assert [words.reword(item) for item in signed["kept"]] == re.findall(r"<li>([^<]*)</li>",
                                                                          kept)
    if language is Language.FR:  # the consent core's English, said in French
        assert signed["afterDestroyedAt"] not in summary and "pierre tombale" in kept
    assert gone not in summary and 'href="/privacy#after-erasure"' in summary


@pytest.mark.parametrize(("language", "told"), [
    ("en-CA", "This link was already used, has expired or is incomplete."),
    ("fr-CA", "Ce lien a déjà servi, a expiré ou est incomplet.")])
def test_a_used_link_is_refused_with_advice_in_the_readers_language(
    client: TestClient, world: World, language: str, told: str
) -> None:
    """The pages' script shows details.advice: words for people, the stable code kept."""
    client.cookies.clear()  # no language switched earlier: the browser's language
    _, made = world.new_person()  # the link is used by the person's taking over
    for route in ("/v1/passkeys/registration-options", "/v1/probe-links/registration-options"):
        answer = client.post(route, json={"link": made["enrolment"]["secret"]},  # type: ignore[index]
                             headers={"Accept-Language": language})
        assert answer.status_code == 410 and answer.json()["code"] == "link_invalid"
        assert answer.json()["details"]["advice"].startswith(told), answer.text
    cut = client.post("/v1/passkeys/registrations", json={"ceremony_id": 1},
                      headers={"Accept-Language": language})
    assert cut.status_code == 422 and cut.json()["details"]["errors"]
    assert cut.json()["details"]["advice"] != cut.json()["message"]


def test_a_photo_only_the_desk_may_enrol_is_refused_on_the_portal_in_the_readers_language(
    client: TestClient, world: World, portrait_jpegs: list[bytes]
) -> None:
    """A person whose only photo went with a withdrawn consent is told, before signing and
    after an upload signed earlier, that a new photo is enrolled at the desk."""
    person = world.people[world.subject]
    person.enrol(world.consent_id, portrait_jpegs[0])
    second = world.consent(world.subject)
    csrf = portal_session(client, person)
    # Signed in this order (a passkey's signature count only goes up): the withdrawal, then,
    # while the photo is still there, the capture; posted in that order.
    withdrawal = person.sign({"act": "withdraw", "consent_id": world.consent_id})
    act = {"act": "enrol", "consent_id": second,
           "photo_sha256": hashlib.sha256(portrait_jpegs[1]).hexdigest()}
    signed = portal_signature(client, csrf, person, act)
    withdrawn = world.client.post(
        f"/v1/subjects/{world.subject}/consents/{world.consent_id}/withdraw", json=withdrawal,
        headers=person.headers)
    assert withdrawn.status_code == 200, withdrawn.text
    french = {"Accept-Language": "fr-CA"}
    told = "Une photo de vous a déjà été enregistrée et il n'en reste aucune"

    asked = client.post("/portal/challenge", json=act, headers={"X-CSRF-Token": csrf, **french})
    assert_refused(asked, 403, "reenrol_at_desk")
    assert asked.json()["details"]["advice"].startswith(told), asked.text
    page = client.post("/portal/enrol", headers=french, data={
        "csrf": csrf, "consent_id": second, "signed": signed},
        files={"image": ("me.jpg", portrait_jpegs[1], "image/jpeg")})
    assert page.status_code == 403 and told in unescape(page.text), page.text
    assert "reenrol_at_desk" in page.text
    faces = client.get(f"/v1/subjects/{world.subject}/faces", headers=auth(world.keys.portal))
    assert faces.json() == []


def test_a_sharing_form_typed_wrong_is_refused_naming_the_field_in_the_readers_language(
    client: TestClient, world: World
) -> None:
    csrf = portal_session(client, world.people[world.subject])
    act = {"act": "disclose", "recipient": "Acme Bank", "recipient_country": "ca",
           "legal_basis": "consent", "document_reference": "REF-1"}
    answer = client.post("/portal/challenge", json=act,
                         headers={"X-CSRF-Token": csrf, "Accept-Language": "fr-CA"})
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error"
    assert answer.json()["details"]["fields"] == ["recipient_country"]
    assert answer.json()["details"]["advice"].startswith(
        "Vérifiez : Son pays (code à deux lettres, p. ex. CA). Indiquez qui"), answer.text
    # For a client, the same refusal as any route's: the schema's message, located in the body.
    assert answer.json()["message"] == "the request does not match the schema"
    assert [e["loc"] for e in answer.json()["details"]["errors"]] == [
        ["body", "disclose", "recipient_country"]]


@pytest.mark.browser
def test_the_language_switch_keeps_a_one_time_link_and_its_page_speaks_the_chosen_language(
    page, base_url: str, world: World
) -> None:
    """The switch on /passkey#secret keeps the secret: the passkey is made in French. A used
    link, or a device that gives no passkey, is told in French, never a code or the browser's
    English."""
    virtual_authenticator(page)
    created = world.new_shell()
    page.goto("/passkey#" + created["enrolment"]["secret"])  # type: ignore[attr-defined]
    page.click("[data-language-switch]")  # type: ignore[attr-defined]
    page.wait_for_selector("html[lang=fr]")  # type: ignore[attr-defined]
    page.click("#passkey-register")  # type: ignore[attr-defined]
    page.wait_for_selector("#registered:not([hidden])")  # type: ignore[attr-defined]
    assert page.inner_text("#registered-capacity") == "Elle agit en votre propre nom."  # type: ignore[attr-defined]
    page.reload()  # type: ignore[attr-defined]  # the link is used now
    page.click("#passkey-register")  # type: ignore[attr-defined]
    said = page.locator("[data-passkey-error]")  # type: ignore[attr-defined]
    said.wait_for()
    assert said.inner_text().startswith("Ce lien a déjà servi")
    # Another device, holding no passkey for this site.
    assert _told_at_sign_in(page, base_url, "fr-CA", virtual_authenticator).startswith(
        "Votre appareil n'a pas créé ou fourni la clé")


def _told_at_sign_in(page: object, base_url: str, locale: str,
                     prepare: Callable[[Any], object]) -> str:
    """What the portal tells a person whose sign-in fails on another browser, ``prepare``d."""
    other = page.context.browser.new_page(  # type: ignore[attr-defined]
        base_url=base_url, locale=locale)
    prepare(other)
    other.goto("/portal")
    other.click("#passkey-sign-in")
    other.locator("[data-passkey-error]").wait_for()
    return str(other.inner_text("[data-passkey-error]"))


@pytest.mark.browser
def test_a_browser_without_passkeys_is_told_so_not_that_the_network_failed(
    page, base_url: str, world: World
) -> None:
    """A fetch that fails and a browser without WebAuthn both throw a TypeError: the person is
    told which, in their words."""
    told = _told_at_sign_in(page, base_url, "en-CA", lambda other: other.add_init_script(
        "delete window.PublicKeyCredential;"
        " Object.defineProperty(navigator, 'credentials', {value: undefined})"))
    assert told.startswith("This browser cannot use passkeys.")


@pytest.mark.browser
def test_the_demo_banner_is_inside_a_landmark(page) -> None:
    """axe-core's "region" rule: a screen reader's landmark list reaches every text."""
    from axe_playwright_python.sync_playwright import Axe

    page.goto("/privacy")  # type: ignore[attr-defined]
    assert page.is_visible("#demo-mode")  # type: ignore[attr-defined]
    found = Axe().run(page, options={"runOnly": ["region"]}).response["violations"]
    assert found == [], found


def _receipt_text(client: TestClient, consent_id: str) -> str:
    page = client.get(f"/portal/receipts/{consent_id}")
    assert page.status_code == 200, page.text
    return page.text.split('id="summary"')[1].split("</section>")[0]


def _offered_durations(portal_page: str) -> list[int]:
    select = portal_page.split('id="duration">')[1].split("</select>")[0]
    return [int(value.split('"')[0]) for value in select.split('value="')[1:]]


@pytest.fixture
def two_studies(tmp_path: Path, pipeline: FacePipeline) -> Iterator[tuple[World, str]]:
    """Its own deployment: study A kept a year, and study B's id, kept three (published before
    declaring)."""
    with deployment(tmp_path, pipeline) as (_, _, client, keys):
        world = set_up_world(client, keys, declare=False)
        yield world, publish_purpose(client, keys, "B", retention_days=3 * 365,
                                     operations=("enrol",))


def test_a_consent_receipt_restates_the_purposes_signed_after_one_use_stopped(
    two_studies: tuple[World, str]
) -> None:
    world, purpose_b = two_studies
    person = world.people[world.subject]
    consent_id = world.consent(world.subject, purposes=[world.purpose_id, purpose_b])
    person.withdraw(consent_id, purpose_b)
    portal_session(world.client, person)
    assert "You agreed that we use your face for: Study A, Study B." in _receipt_text(
        world.client, consent_id)
    listed = world.client.get("/portal/receipts").text
    assert "Study A, Study B" in listed


def test_a_guardians_receipt_speaks_of_the_face_of_the_person_they_act_for(
    world: World
) -> None:
    """A guardian signs for a child: the receipt says whose face it is about."""
    _, answer = world.new_person(age="under_13")
    guardian = world.take_over(answer["guardian_enrolment"]["secret"])
    given = guardian.consent(purposes=[world.purpose_id], notice_id=world.notice_id,
                             expires_at=(datetime.now(UTC) + timedelta(days=30)).isoformat())
    portal_session(world.client, guardian)
    receipt = _receipt_text(world.client, given["consent"]["id"])
    assert "You agreed that we use the face of the person you act for: Study A." in receipt
    assert "your face" not in receipt


def test_the_consent_form_offers_only_durations_that_can_hold(
    two_studies: tuple[World, str]
) -> None:
    world, purpose_b = two_studies
    portal_session(world.client, world.people[world.subject])
    assert _offered_durations(world.client.get("/portal").text) == [30, 365, 3 * 365]
    _, answer = world.new_person(age="under_13")
    guardian = world.take_over(answer["guardian_enrolment"]["secret"])
    csrf = portal_session(world.client, guardian)
    assert _offered_durations(world.client.get("/portal").text) == [30, 365]
    too_long = {**world.consent_act(purpose_b),
                "expires_at": (datetime.now(UTC) + timedelta(days=3 * 365)).isoformat()}
    refused = world.client.post("/portal/challenge", json=too_long,
                                headers={"X-CSRF-Token": csrf})
    assert_refused(refused, 422, "invalid_request")
    assert "at most 365 days" in refused.json()["details"]["advice"]


def test_a_consent_form_offers_no_duration_past_every_uses_retention(
    client: TestClient, world: World
) -> None:
    portal_session(client, world.people[world.subject])  # the one study is kept a year
    assert _offered_durations(client.get("/portal").text) == [30, 365]


def test_the_end_of_a_consent_told_is_the_day_the_system_ends_it(
    client: TestClient, world: World, api_settings: ApiSettings
) -> None:
    person = world.people[world.subject]
    chosen = datetime.now(UTC) + timedelta(days=3 * 365)
    given = person.consent(purposes=[world.purpose_id], notice_id=world.notice_id,
                           expires_at=chosen.isoformat())["consent"]
    ends = datetime.fromisoformat(given["ends_at"])
    assert ends == datetime.fromisoformat(given["retained_until"]) < chosen
    [signed] = given["receipt"]["receipt"]["services"][0]["purposes"]
    assert datetime.fromisoformat(signed["termination"]) == ends  # the receipt says so too
    when = words_in(Language.EN, api_settings).when  # as the pages write a time
    portal_session(client, person)
    receipt = _receipt_text(client, given["id"])
    assert f"it ends on {when(ends)} at the latest" in receipt
    assert f"You chose {when(chosen)}; it ends sooner" in receipt
    card = client.get("/portal").text.split(f'id="consent-{given["id"]}"')[1]
    assert f"Ends on {when(ends)} at the latest." in card.split("</article>")[0]
    my_data = client.get("/portal/data").text.split('id="consents"')[1].split("</section>")[0]
    assert f"ends on {when(ends)}" in my_data and when(chosen) not in my_data


def test_a_probe_link_tells_the_notice_signed_for_and_who_answers_and_uses_nothing_up(
    client: TestClient, world: World, api_settings: ApiSettings
) -> None:
    for subject in (None, world.subject):
        link = _probe_link(world, "ab" * 32, subject=subject)
        asked = client.post("/v1/probe-links/request", json={"link": link["secret"]})
        assert asked.status_code == 200, asked.text
        told = asked.json()
        assert (told["notice"]["text"], told["notice"]["version"]) == (NOTICE, "1")
        assert told["notice"]["accountability"]["controller_name"] == api_settings.controller_name
        assert (told["purpose"]["name"], told["probe_sha256"]) == ("Study A", "ab" * 32)
        assert told["for_subject"] is (subject is not None)
        again = client.post("/v1/probe-links/request", json={"link": link["secret"]})
        assert again.json() == told  # read twice: nothing used up


@pytest.mark.browser
def test_the_person_in_a_probe_reads_the_notice_and_may_decline_without_signing(
    page, world: World, api_settings: ApiSettings
) -> None:
    link = _probe_link(world, "cd" * 32)
    page.goto(_probe_page(link))
    page.wait_for_selector("#probe-asked:not([hidden])")
    assert page.inner_text("#probe-notice") == NOTICE
    assert page.inner_text("#probe-notice-version") == "1"
    assert api_settings.controller_name in page.inner_text("#probe-controller")
    assert page.inner_text("#probe-purpose") == "Study A"
    shot(page, "probe-asked")
    page.click("#probe-decline")
    page.wait_for_selector("#probe-declined:not([hidden])")
    assert not page.is_visible("#probe-register") and not page.is_visible("#probe-sign")
    unused = world.client.post("/v1/probe-links/registration-options",
                               json={"link": link["secret"]})
    assert unused.status_code == 200, unused.text  # nothing signed, nothing used

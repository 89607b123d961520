"""The volunteer's tasks in Chromium, at a desktop width and a phone's.

Consent to two uses, keep the signed receipt, stop one use and keep the other, keep that
receipt too, then stop the last one (confirmed: it erases everything) and fetch the erasure
receipt once more with its code. Every page: no sideways scrolling, actions of at least 44 px,
no serious axe-core violation. Every downloaded receipt verifies with ``optinface receipt
verify`` against the key published at /.well-known/optinface-keys.json.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from optinface.api.app import create_app
from optinface.api.cli.main import app as cli
from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from tests.api.browser import (
    PHONE,
    WIDTHS,
    check_page,
    chromium_page,
    follow,
    localhost,
    passkey_log_in,
    virtual_authenticator,
)
from tests.support.api import World, auth
from tests.support.server import running

pytestmark = [pytest.mark.browser, pytest.mark.shared_deployment]


@pytest.fixture
def base_url(api_settings: ApiSettings, service: OptinFace, world: World) -> Iterator[str]:
    with running(create_app(api_settings, service=service)) as url:
        yield localhost(url)


def _log_in(page: object, world: World, subject: str) -> None:
    """The person signs in with their passkey (copied into the browser's authenticator)."""
    passkey_log_in(page, world.people[subject].authenticator.export())


def _verified(page: object, download: object) -> bool:
    """The downloaded file verifies with the key the deployment publishes."""
    published = page.request.get("/.well-known/optinface-keys.json")  # type: ignore[attr-defined]
    key = published.json()["keys"][0]["public_key"]
    path = Path(download.value.path())  # type: ignore[attr-defined]
    args = ["receipt", "verify", str(path), "--public-key", key]
    return CliRunner().invoke(cli, args).exit_code == 0


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_volunteer_consents_stops_one_use_of_two_and_keeps_every_receipt(
    base_url: str, world: World, second_use: str, width: int
) -> None:
    subject, _ = world.new_subject()
    with chromium_page(base_url, width) as page:
        _log_in(page, world, subject)
        check_page(page, "portal-new")
        boxes = page.locator("#give-consent input[name=purposes]")
        assert boxes.count() == 2 and not any(boxes.nth(i).is_checked() for i in range(2))
        policy = world.client.get("/privacy/policy").json()  # what the passkey will sign
        assert policy["sha256"] in page.inner_text("#retention-policy")
        for study in ("Study A", "Study B"):
            page.locator("#give-consent label", has_text=study).locator("input").check()
        page.click("#give-consent button[type=submit]")
        page.wait_for_selector("#summary")  # signed by the passkey first, then posted
        assert page.inner_text("h1") == "Consent recorded"
        assert "Study A, Study B" in page.inner_text("#summary")
        assert page.locator("[data-print]").is_visible()
        check_page(page, "portal-consent-receipt")
        with page.expect_download() as consent_receipt:
            page.click("#download-receipt")
        assert _verified(page, consent_receipt)

        page.goto("/portal")
        check_page(page, "portal-consented")
        page.click("text=Stop using my face for Study B")
        page.wait_for_selector("#summary")
        assert page.inner_text("h1") == "Use stopped"
        assert "Study B" in page.inner_text("#summary") and "Study A" in page.inner_text("#summary")
        with page.expect_download() as withdrawal_receipt:
            page.click("#download-receipt")
        assert _verified(page, withdrawal_receipt)

        page.goto("/portal")
        uses = page.locator("#consents ul.uses button").all_inner_texts()
        assert uses == ["Stop using my face for Study A"]  # Study B stopped, Study A kept
        follow(page, "nav.areas >> text=My receipts")
        assert page.locator("#receipts article").count() == 2
        check_page(page, "portal-receipts")

        page.goto("/portal")
        page.click("text=Stop using my face for Study A")
        page.wait_for_selector("#confirm-last")
        assert page.inner_text("h1") == "This is your last consent"
        assert "everything we hold about you will be erased" in page.inner_text("#confirm-last")
        check_page(page, "portal-withdraw-last")
        page.click("text=Stop and erase everything")
        page.wait_for_selector("#one-time-code")
        assert page.inner_text("h1") == "Everything erased"
        code = page.inner_text("#one-time-code .code")
        check_page(page, "portal-erasure-receipt")
        with page.expect_download() as erasure_receipt:
            page.click("#download-receipt")
        assert _verified(page, erasure_receipt)

        page.goto("/portal/erasure-receipt")
        page.fill("#code", code.lower())  # typed by hand, in any case
        with page.expect_download() as once_more:
            page.click("button[type=submit]")
        assert _verified(page, once_more)
        page.goto("/portal/erasure-receipt")
        page.fill("#code", code)
        page.click("button[type=submit]")
        assert "already used twice" in page.inner_text("#code-error")
        check_page(page, "portal-erasure-code")
        page.goto("/portal")
        assert page.locator("#passkey-sign-in").count() == 1  # the session ended with them


def _blank_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((240, 240, 3), 200, dtype=np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_refusals_are_shown_beside_the_field_with_advice_keeping_what_was_typed(
    base_url: str, world: World, tmp_path: Path
) -> None:
    with chromium_page(base_url, PHONE) as page:
        _log_in(page, world, world.subject)
        page.select_option("#duration", "30")
        page.click("#give-consent button[type=submit]")
        page.wait_for_selector("#purposes-error")
        assert "Tick at least one use" in page.inner_text("#purposes-error")
        assert page.input_value("#duration") == "30"  # what was chosen is kept
        check_page(page, "portal-consent-error")

        photo = tmp_path / "wall.jpg"
        photo.write_bytes(_blank_jpeg())
        page.set_input_files("#photo", str(photo))
        page.click("#enrol button[type=submit]")
        page.wait_for_selector("#image-error")  # the photo was signed, then refused
        assert "no face" in page.inner_text("#image-error")
        assert page.get_attribute("#photo", "aria-invalid") == "true"
        check_page(page, "portal-photo-error")

        page.click("#erase button[type=submit]")
        assert "Tick the box to confirm" in page.inner_text("#erase-error")


def test_the_volunteer_switches_searches_on_and_off(base_url: str, world: World) -> None:
    with chromium_page(base_url, PHONE) as page:
        _log_in(page, world, world.subject)
        assert "can find you" in page.inner_text("#searchable")
        page.click("#searchable-switch")
        page.wait_for_selector("#searchable >> text=cannot find you")
        mine = auth(world.subject_token)
        assert world.client.get(f"/v1/subjects/{world.subject}", headers=mine).json()[
            "searchable"
        ] is False
        page.click("#searchable-switch")
        page.wait_for_selector("#searchable >> text=can find you")


def test_the_volunteer_complains_and_sees_the_deadline_then_the_answer(
    base_url: str, world: World
) -> None:
    """P-39.1 s. 3.2: a complaint process; answered within 30 days like any request."""
    with chromium_page(base_url, PHONE) as page:
        _log_in(page, world, world.subject)
        page.select_option("#request-kind", "complaint")
        page.click("#requests button[type=submit]")
        page.wait_for_selector("#note-error")  # nothing written: refused, the choice kept
        assert "Write your message" in page.inner_text("#note-error")
        assert page.input_value("#request-kind") == "complaint"
        page.fill("#request-note", "I was asked for my photo twice.")
        page.click("#requests button[type=submit]")
        page.wait_for_selector("#request-recorded")
        assert "answer due by" in page.inner_text("#requests")
        check_page(page, "portal-request")
        reviewer = auth(world.keys.reviewer)
        [mine] = [r for r in world.client.get("/v1/requests", headers=reviewer).json()
                  if r["subject"] == world.subject and r["kind"] == "complaint"]
        assert (mine["note"], mine["channel"], mine["status"]) == (
            "I was asked for my photo twice.", "portal", "open")
        world.client.post(f"/v1/requests/{mine['id']}/answer", headers=reviewer,
                          json={"answer": "We are sorry: the desk now checks first."})
        page.goto("/portal")
        assert "the desk now checks first" in page.inner_text("#requests")


def test_the_portal_reads_in_french(base_url: str, world: World) -> None:
    with chromium_page(base_url, PHONE, language="fr-CA") as page:
        _log_in(page, world, world.subject)
        assert page.inner_text("h1") == "Vos données et vos consentements"
        assert "Cesser d'utiliser mon visage pour Study A" in page.inner_text("#consents")
        check_page(page, "portal-fr")


def test_a_volunteer_erased_meanwhile_is_told_so_not_asked_to_log_in(
    base_url: str, world: World
) -> None:
    with chromium_page(base_url, PHONE) as page:
        _log_in(page, world, world.subject)
        world.client.delete(f"/v1/subjects/{world.subject}", headers=auth(world.keys.admin))
        answer = page.goto("/portal")
        assert answer is not None and answer.status == 410
        assert "This record was erased" in page.inner_text("[role=alert]")
        check_page(page, "portal-erased")
        page.goto("/portal")
        assert page.locator("#passkey-sign-in").count() == 1  # that session is over


@pytest.mark.parametrize(("language", "told"), [
    ("en-CA", "This record was erased on"), ("fr-CA", "Ce dossier a été effacé le")])
def test_a_volunteer_who_signs_in_after_their_erasure_is_told_when_it_happened(
    base_url: str, world: World, language: str, told: str
) -> None:
    passkeys = world.people[world.subject].authenticator.export()
    world.client.delete(f"/v1/subjects/{world.subject}", headers=auth(world.keys.admin))
    with chromium_page(base_url, PHONE, language=language) as page:
        virtual_authenticator(page, credentials=passkeys)  # the passkey they used before
        page.goto("/portal")
        page.click("#passkey-sign-in")
        page.wait_for_selector("[data-erasure-receipt] a")
        said = page.inner_text("[data-passkey-error]")
        assert said.startswith(told) and "subject_erased" not in said
        assert page.get_attribute("[data-erasure-receipt] a", "href") == "/portal/erasure-receipt"
        check_page(page, f"portal-erased-sign-in-{language}")


@pytest.mark.parametrize("language", ["en-CA", "fr-CA"])
def test_the_data_and_privacy_pages_fit_a_phone(base_url: str, world: World, language: str) -> None:
    with chromium_page(base_url, PHONE, language=language) as page:
        _log_in(page, world, world.subject)
        page.goto("/portal/data")
        check_page(page, f"portal-data-{language}")
        page.goto("/privacy")
        check_page(page, f"privacy-{language}")


def test_a_consent_withdrawn_through_the_api_is_listed_with_its_signed_receipt(
    base_url: str, world: World
) -> None:
    kept = world.consent(world.subject)
    world.people[world.subject].withdraw(world.consent_id)  # the person, over the JSON API
    with chromium_page(base_url, PHONE) as page:
        _log_in(page, world, world.subject)
        page.goto("/portal/receipts")
        titles = page.locator("#receipts article h2").all_inner_texts()
        assert titles.count("Consent recorded") == 2 and titles.count("Consent withdrawn") == 1
        check_page(page, "portal-receipts-withdrawn")
        with page.expect_download() as withdrawal:
            page.click(f"a[href='/portal/receipts/{world.consent_id}-withdrawn.json']")
        assert _verified(page, withdrawal)
        assert kept in page.inner_text("#receipts")

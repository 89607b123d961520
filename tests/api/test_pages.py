"""The subject portal and the reviewer dashboard, driven by headless Chromium on a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from optinface.api.app import create_app
from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from tests.api.browser import DESKTOP, chromium_page, shot
from tests.api.conftest import World, auth, page_login
from tests.api.server import running

pytestmark = pytest.mark.shared_deployment


@pytest.fixture
def base_url(api_settings: ApiSettings, service: OptinFace, world: World) -> Iterator[str]:
    with running(create_app(api_settings, service=service)) as url:
        yield url


@pytest.fixture
def page(base_url: str) -> Iterator[object]:
    with chromium_page(base_url, DESKTOP) as opened:
        yield opened


@pytest.mark.browser
def test_subject_consents_enrols_sees_data_withdraws_and_erases_in_the_portal(
    page, world: World, portrait_jpegs: list[bytes], tmp_path: Path
) -> None:
    page.goto("/portal")
    shot(page, "portal-login")
    page.fill("#token", world.subject_token)
    page.click("button[type=submit]")
    assert page.inner_text("#pseudonym") == world.subject
    boxes = page.locator("input[name=purposes]")
    assert boxes.count() == 1 and not boxes.first.is_checked()  # express consent: unticked
    shot(page, "portal")
    boxes.first.check()
    page.click("#give-consent button[type=submit]")
    assert "Consent recorded" in page.inner_text("h1")
    assert '"signature"' in page.text_content("#receipt")
    shot(page, "portal-consent-receipt")

    page.goto("/portal")
    photo = tmp_path / "me.jpg"
    photo.write_bytes(portrait_jpegs[0])
    page.set_input_files("#enrol input[name=image]", str(photo))
    page.click("#enrol button[type=submit]")
    assert "encrypted template" in page.inner_text("#enrol [role=status]")
    shot(page, "portal-enrolled")
    page.goto("/portal/data")
    assert "w600k_mbf" in page.inner_text("#export")
    shot(page, "portal-data")

    page.goto("/portal")
    page.locator("#consents form").first.locator("button").click()
    assert "Use stopped" in page.inner_text("h1")
    page.goto("/portal")
    page.check("#erase input[name=confirm]")
    page.click("#erase button")
    assert "Everything erased" in page.inner_text("h1")
    assert '"signature"' in page.text_content("#receipt")
    shot(page, "portal-erasure-receipt")
    page.goto("/portal")
    assert page.locator("#token").count() == 1  # the session ended with the subject


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
    form = client.get("/portal")
    csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
    answer = client.post(
        "/portal/login", data={"token": world.subject_token, "csrf": csrf}, follow_redirects=False
    )
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/portal" in cookie


def test_a_form_post_without_the_sessions_csrf_token_is_refused(
    client: TestClient, world: World
) -> None:
    page_login(client, "portal", world.subject_token)
    answer = client.post("/portal/erase", data={"csrf": "forged", "confirm": "true"})
    assert answer.status_code == 403 and "forbidden" in answer.text
    assert (
        client.get(f"/v1/subjects/{world.subject}", headers=auth(world.subject_token)).status_code
        == 200
    )


def test_a_login_without_the_form_token_is_refused(client: TestClient, world: World) -> None:
    answer = client.post("/portal/login", data={"token": world.subject_token, "csrf": "x"})
    assert answer.status_code == 401 and "expired" in answer.text

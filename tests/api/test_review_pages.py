"""The reviewer answers the issue's four questions from the dashboard alone, in Chromium.

Who searched for a subject and when; how many searches per purpose per day; which erasures
happened this month; and whether their receipts verify with the published key. At a desktop
width and a phone's, every action is on screen and axe-core finds nothing serious.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from optinface.api.app import create_app
from optinface.api.cli.main import app as cli
from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from tests.api.browser import PHONE, WIDTHS, check_page, chromium_page, follow
from tests.support.api import World, auth
from tests.support.server import running

pytestmark = [pytest.mark.browser, pytest.mark.shared_deployment]


@pytest.fixture
def base_url(api_settings: ApiSettings, service: OptinFace, world: World) -> Iterator[str]:
    with running(create_app(api_settings, service=service)) as url:
        yield url


def _log_in(page: object, world: World) -> None:
    page.goto("/review")  # type: ignore[attr-defined]
    page.fill("#token", world.keys.reviewer)  # type: ignore[attr-defined]
    page.click("form[action='/review/login'] button")  # type: ignore[attr-defined]


def _verify(path: Path, public_key: str) -> int:
    args = ["receipt", "verify", str(path), "--public-key", public_key]
    return CliRunner().invoke(cli, args).exit_code


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_reviewer_answers_the_four_questions_from_the_pages(
    base_url: str,
    world: World,
    api_settings: ApiSettings,
    portrait_jpegs: list[bytes],
    tmp_path: Path,
    width: int,
) -> None:
    searched = world.subject
    world.enrol(searched, world.consent_id, portrait_jpegs[0])
    for _ in range(2):
        assert world.identify(portrait_jpegs[0]).status_code == 200  # type: ignore[attr-defined]
    world.add_consenting_subject()
    world.client.delete(f"/v1/subjects/{world.subject}", headers=auth(world.keys.admin))
    today = datetime.now(UTC).astimezone(ZoneInfo(api_settings.timezone)).date()

    with chromium_page(base_url, width) as page:
        _log_in(page, world)
        assert "Verified" in page.inner_text("#chain")
        check_page(page, "review")

        # 1. Who searched for this subject in the last week, and when?
        follow(page, "text=The whole access log, filtered")
        page.fill("input[name=subject]", searched)
        page.select_option("select[name=action]", "identify")
        page.fill("input[name=since]", (today - timedelta(days=7)).isoformat())
        follow(page, "#filters button[type=submit]")
        assert "2 events match" in page.inner_text("#log-count")
        rows = page.locator("#access-log tbody tr")
        assert rows.count() == 2
        for n in range(2):
            row = rows.nth(n).inner_text()
            assert "researcher" in row and "Study A" in row and "candidates for review" in row
            assert str(today.year) in row  # a readable local time, with its zone
        check_page(page, "review-log")
        follow(page, "#access-log tbody tr >> nth=0 >> a.id-link >> nth=0")
        assert "Searches that returned this volunteer" in page.inner_text("#searches-for-subject")
        assert page.locator("#searches-for-subject tbody tr").count() == 2
        check_page(page, "review-subject")

        # 2. How many searches per purpose per day?
        follow(page, "nav.areas >> text=Searches per day")
        table = page.locator("#search-table")
        header = table.locator("thead th").all_inner_texts()
        assert "Study A" in header
        today_row = table.locator("tbody tr").first.locator("td").all_inner_texts()
        assert int(today_row[header.index("Study A") - 1]) >= 2
        assert page.locator("svg.chart rect").count() >= 1  # drawn by the server
        with page.expect_download() as download:
            page.click("text=Download this table (CSV)")
        rows_csv = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        (todays,) = [r for r in rows_csv if (r["day"], r["purpose"]) == (str(today), "Study A")]
        assert int(todays["searches"]) == int(today_row[header.index("Study A") - 1])
        check_page(page, "review-searches")

        # 3. Which erasures happened this month? 4. Do their receipts verify?
        follow(page, "nav.areas >> text=Erasures")
        assert "Every receipt verifies with the published key." in page.inner_text("#erasures")
        check_page(page, "review-erasures")
        key = page.request.get("/.well-known/optinface-keys.json").json()["keys"][0]["public_key"]
        with page.expect_download() as month:
            page.click("text=Download these receipts (JSON)")
        assert _verify(Path(month.value.path()), key) == 0
        follow(page, "#erasures a:has-text('View and verify') >> nth=-1")
        assert "This receipt verifies" in page.inner_text("#verdict")
        with page.expect_download() as single:
            page.click("text=Download receipt")
        assert _verify(Path(single.value.path()), key) == 0
        check_page(page, "review-erasure")
        if width == PHONE:
            assert page.locator("#erasure dl").is_visible()


def test_the_dashboard_reads_in_french(base_url: str, world: World) -> None:
    with chromium_page(base_url, PHONE, language="fr-CA") as page:
        _log_in(page, world)
        assert page.inner_text("h1") == "Vérification de conformité"
        assert page.get_attribute("html", "lang") == "fr"
        follow(page, "nav.areas >> text=Journal des accès")
        assert "événements" in page.inner_text("#log-count")
        check_page(page, "review-log-fr")
        follow(page, "text=English")  # the switch
        assert "events match" in page.inner_text("#log-count")
        page.goto("/review")
        assert page.inner_text("h1") == "Compliance review"  # the choice is remembered


def test_the_regulators_side_reads_in_french_and_fits_a_phone(base_url: str, world: World) -> None:
    """A rights request and an incident, on the dashboard in French at a phone's width."""
    admin = auth(world.keys.admin)
    world.client.post(f"/v1/subjects/{world.subject}/requests", headers=admin,
                      json={"kind": "erasure", "channel": "e-mail"})
    now = datetime.now(UTC)
    world.client.post("/v1/incidents", headers=admin, json={
        "description": "export e-mailed to the wrong address", "circumstances": "typo",
        "occurred_from": (now - timedelta(hours=5)).isoformat(),
        "became_aware_at": (now - timedelta(hours=1)).isoformat(),
        "data_categories": ["access export"], "subjects_affected": 1,
        "risk_assessment": "one person's consents", "measures_taken": "recall asked",
        "measures_suggested": "none"})
    with chromium_page(base_url, PHONE, language="fr-CA") as page:
        _log_in(page, world)
        assert "réponse dans les 30 jours" in page.inner_text("#rights-requests h2")
        assert "Commission avisée" in page.inner_text("#incidents")
        assert "peuvent être provisoires" in page.inner_text("main")  # the register's warning
        check_page(page, "review-regulator-fr")

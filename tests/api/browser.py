"""Headless Chromium for the page tests, and the checks every page passes at every width.

CI installs the browser with ``apt-get install -y chromium`` and ``pip install playwright``
(no browser download: the Debian binary is used; ``./dev test`` installs it). Without
/usr/bin/chromium these tests fail rather than skip: a skipped page test would let a broken
page pass unseen.
axe-core comes inside the ``axe-playwright-python`` wheel: nothing is fetched at run time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_ZONE = "Asia/Tokyo"
"""The browser's own time zone: one no test deployment uses, so a page that shows a time in the
browser's zone instead of the deployment's (``OPTINFACE_TIMEZONE``) shows another hour."""
SCREENSHOTS = Path("/tmp/optinface-screenshots")
DESKTOP, PHONE = 1280, 390
WIDTHS = [DESKTOP, PHONE]
# What a person acts on: each must be on screen without sideways scrolling and big enough to hit.
ACTIONS = "button, a.button, input:not([type=hidden]), select, summary, nav a"
SERIOUS = {"serious", "critical"}


@contextmanager
def chromium_page(base_url: str, width: int, *, language: str = "en-CA") -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("needs /usr/bin/chromium (apt-get install -y chromium, or ./dev test)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            base_url=base_url,
            accept_downloads=True,
            viewport={"width": width, "height": 900},
            locale=language,
            timezone_id=BROWSER_ZONE,
            is_mobile=width < DESKTOP,
            has_touch=width < DESKTOP,
        )
        try:
            yield context.new_page()
        finally:
            browser.close()


def virtual_authenticator(page: Any, *, credentials: list[dict[str, Any]] | None = None) -> Any:
    """A DevTools virtual authenticator (a platform passkey that verifies its user), holding
    ``credentials`` if given (a software authenticator's, so the browser signs as that person).
    Its DevTools session, which reports each ceremony (``WebAuthn.credentialAsserted``)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    made = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    for credential in credentials or []:
        cdp.send("WebAuthn.addCredential", {"authenticatorId": made["authenticatorId"],
                                            "credential": credential})
    return cdp


def passkey_log_in(page: Any, credentials: list[dict[str, Any]]) -> Any:
    """Sign in to the portal in the browser with these passkeys; the authenticator's DevTools
    session (see :func:`virtual_authenticator`)."""
    cdp = virtual_authenticator(page, credentials=credentials)
    page.goto("/portal")
    page.click("#passkey-sign-in")
    page.wait_for_selector("#pseudonym")
    return cdp


def follow(page: Any, selector: str) -> None:
    """Click what opens another page; return once that page has loaded, failing with what the
    server said if it refused it. A click waits only for a navigation the browser has begun
    when it returns: on a busy machine it may not have, and a count read at once reads the page
    being left (CI once counted 0 of 2 receipts). A refusal is a page of its own at the same
    address, which a count would read as no match."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    answer = navigation.value
    assert answer is not None and answer.ok, (
        f"{selector} opened {page.url}: {answer and answer.status}: {page.inner_text('main')}")


def localhost(url: str) -> str:
    """WebAuthn needs a domain for the relying party id: localhost, never an IP address."""
    return url.replace("127.0.0.1", "localhost")


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    width = page.viewport_size["width"]
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


def assert_usable(page: Any) -> None:
    """No sideways scrolling; every action inside the screen and at least 44 px high and wide."""
    width = page.viewport_size["width"]
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} scrolls sideways: {scroll_width} > {width} px"
    boxes = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter(e => e.offsetParent !== null)
            .map(e => { const r = e.getBoundingClientRect();
                        return {what: e.outerHTML.slice(0, 80), left: r.left, right: r.right,
                                width: r.width, height: r.height}; })""",
        ACTIONS,
    )
    assert boxes, f"{page.url}: no action found"
    for box in boxes:
        assert box["left"] >= 0 and box["right"] <= width, f"{page.url}: off screen: {box}"
        if box["what"].startswith(("<button", '<a class="button', "<select", "<summary")):
            assert box["height"] >= 44 and box["width"] >= 44, f"{page.url}: too small: {box}"


def assert_accessible(page: Any) -> None:
    """axe-core finds no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["html"][:80] for n in v["nodes"][:3]])
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]
    assert not bad, f"{page.url}: {bad}"


def check_page(page: Any, name: str) -> None:
    """Screenshot, then the checks every page passes."""
    shot(page, name)
    assert_usable(page)
    assert_accessible(page)

"""The person's own rights in the portal, in Chromium, counted as the browser sees them.

Withdrawing is as easy as consenting (GDPR art. 7(3)): the person's actions are counted, from
the page loads they start, their presses (a click, a tick), the forms posted and the passkey
ceremonies their authenticator performs, for a consent and for its withdrawal, one use at a
time and the last one with its confirmation that everything will be erased. A copy of their
face templates (GDPR art. 15(3), 20) is theirs on "My data" only when they choose it after its
warning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optinface.api.app import create_app
from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from optinface.engine.pipeline import FacePipeline
from tests.api.browser import PHONE, check_page, chromium_page, localhost, passkey_log_in
from tests.support.api import World
from tests.support.server import running

pytestmark = [pytest.mark.browser, pytest.mark.shared_deployment]


@pytest.fixture
def base_url(api_settings: ApiSettings, service: OptinFace, world: World) -> Iterator[str]:
    with running(create_app(api_settings, service=service)) as url:
        yield localhost(url)


@dataclass
class Steps:
    """What the person did: each kind counted as the browser reported it."""

    page_loads: int = 0  # pages they opened themselves (not a redirect's)
    presses: int = 0  # clicks and ticks
    submissions: int = 0  # forms posted
    ceremonies: int = 0  # passkey signatures

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))


class StepCounter:
    """Counts a person's steps in ``page``: presses from the page itself (trusted pointer
    events only, so a script's own clicks are not the person's), page loads and posts from the
    browser's navigations, ceremonies from the virtual authenticator's DevTools session."""

    def __init__(self, page: Any, authenticator: Any) -> None:
        self.current: Steps | None = None
        page.expose_binding("personPressed", lambda _: self._add("presses"))
        page.add_init_script("document.addEventListener('pointerdown', (e) => {"
                             " if (e.isTrusted) { window.personPressed(); } }, true);")
        page.on("request", lambda request: self._navigated(page, request))
        authenticator.on("WebAuthn.credentialAsserted", lambda _: self._add("ceremonies"))

    def _add(self, kind: str) -> None:
        if self.current is not None:
            setattr(self.current, kind, getattr(self.current, kind) + 1)

    def _navigated(self, page: Any, request: Any) -> None:
        if (request.is_navigation_request() and request.frame == page.main_frame
                and request.redirected_from is None):
            self._add("submissions" if request.method == "POST" else "page_loads")

    @contextmanager
    def counting(self, page: Any) -> Iterator[Steps]:
        self.current = steps = Steps()
        try:
            yield steps
            page.wait_for_load_state()
            page.evaluate("1")  # the page's last reports delivered before counting stops
        finally:
            self.current = None


def _consent(page: Any, uses: list[str]) -> None:
    """From their page: tick each use, consent, sign."""
    page.goto("/portal")
    for use in uses:
        page.locator("#give-consent label", has_text=use).locator("input").check()
    page.click("#give-consent button[type=submit]")
    page.wait_for_selector("#summary")
    assert page.inner_text("h1") == "Consent recorded"


def _withdraw(page: Any, use: str, *, last: bool) -> None:
    """From their page: stop one use and sign, doing whatever the pages ask on the way (the
    last use's confirmation, beside its button or on a page of its own)."""
    page.goto("/portal")
    assert page.locator("#withdraw-confirm").count() == (1 if last else 0)
    if last:
        check_page(page, "portal-last-use")  # the box beside the button: usable, accessible
        page.check("#withdraw-confirm")
    page.click(f"text=Stop using my face for {use}")
    page.wait_for_selector("#summary, #confirm-last, #one-time-code")
    if page.locator("#confirm-last").count():
        page.click("text=Stop and erase everything")
        page.wait_for_selector("#one-time-code")
    assert page.inner_text("h1") == ("Everything erased" if last else "Use stopped")


@pytest.mark.parametrize("uses", [["Study A"], ["Study A", "Study B"]])
def test_withdrawing_each_use_takes_no_more_steps_than_consenting(
    base_url: str, world: World, second_use: str, uses: list[str]
) -> None:
    subject, _ = world.new_subject()
    with chromium_page(base_url, PHONE) as page:
        counter = StepCounter(page, passkey_log_in(page, world.people[subject].authenticator
                                                   .export()))
        with counter.counting(page) as consent:
            _consent(page, uses)
        # The count is real: one page, a tick per use and the button, one post, one signature.
        assert consent == Steps(page_loads=1, presses=len(uses) + 1, submissions=1,
                                ceremonies=1)
        for left, use in enumerate(reversed(uses)):
            last = left == len(uses) - 1
            with counter.counting(page) as withdrawal:
                _withdraw(page, use, last=last)
            assert withdrawal.total <= consent.total, (use, withdrawal, consent)
            assert withdrawal.ceremonies == consent.ceremonies  # no extra identity proofing


def _download(page: Any, selector: str) -> dict[str, Any]:
    with page.expect_download() as downloaded:
        page.click(selector)
    found: dict[str, Any] = json.loads(Path(downloaded.value.path()).read_text())
    return found


def test_my_data_gives_a_copy_of_the_templates_only_on_the_persons_choice(
    base_url: str, world: World, portrait_jpegs: list[bytes], pipeline: FacePipeline
) -> None:
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    with chromium_page(base_url, PHONE) as page:
        passkey_log_in(page, world.people[world.subject].authenticator.export())
        page.goto("/portal/data")
        warning = page.inner_text("#template-copy-warning")
        assert "can recognise you in other photos" in warning
        check_page(page, "portal-data")
        assert _download(page, "text=Download it as JSON")["template_vectors"] is None

        page.click("#template-copy button[type=submit]")  # the box left unticked: no copy
        page.wait_for_selector("#template-copy-error")
        assert "Tick the box to confirm" in page.inner_text("#template-copy-error")
        check_page(page, "portal-data-copy-unconfirmed")

        page.check("#template-copy-confirm")
        [copy] = _download(page, "#template-copy button[type=submit]")["template_vectors"]
        vector = np.asarray(copy["vector"], dtype=np.float32)
        computed = pipeline.embed_single(portrait_jpegs[0]).vector
        assert float(vector @ computed / np.linalg.norm(vector) / np.linalg.norm(computed)) > 0.9999

        page.goto("/portal/data?lang=fr")  # the copy is among their events, in their words
        assert "avec une copie de vos gabarits (1)" in page.inner_text("#events")
        assert "peut vous reconnaître sur d'autres photos" in page.inner_text(
            "#template-copy-warning")
        assert page.inner_text("#template-copy button") == (
            "Le télécharger en JSON avec mes gabarits")

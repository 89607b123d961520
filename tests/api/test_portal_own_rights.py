"""The person's own rights in the portal, in Chromium.

A copy of their face templates (GDPR art. 15(3), 20) is theirs on "My data" only when they
choose it after its warning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
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

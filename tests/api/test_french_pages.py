"""The operator's texts in French beyond the consent form (Law 25; Charter of the French
language; row Q-08): ``/privacy``, "My data" and the probe-consent page show a French reader
the operator's French, and a text with no French in English marked "(en anglais seulement)",
by the consent form's one rule (``consent.operator_texts.Shown``). The person in charge's title
and the non-biometric alternative follow that rule too: their French from
``OPTINFACE_*_FR`` as before, or from a translation set like any other, which replaces it.

One deployment for the module: its purpose's name and legal basis, its recipient's name and the
title (in the settings) have French; the purpose's description, the recipient's purpose and
legal basis and the alternative have none."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from optinface.api.app import create_app
from optinface.consent.service import OptinFace
from optinface.engine.pipeline import FacePipeline
from tests.api.browser import DESKTOP, chromium_page, localhost, passkey_log_in
from tests.support.api import (
    World,
    auth,
    declare_long_enough_ago,
    deployment,
    set_up_world,
)
from tests.support.server import running

BOARD = {"name": "Ethics board", "purpose": "audit of searches", "legal_basis": "consent"}
TITLE, TITLE_FR = "Head of privacy", "Responsable de la vie privée"
ALTERNATIVE = "Come to the front desk with a photo ID: the same service, without your face."
NAME_FR, BASIS_FR, BOARD_FR = "Étude A", "consentement exprès", "Comité d'éthique"
MARK = "(en anglais seulement)"
FRENCH_READER = {"Accept-Language": "fr-CA,fr;q=0.9"}


def _texts(world: World) -> dict[str, dict[str, Any]]:
    """The operator's texts as the admin lists them in French, by where they show."""
    listed = world.client.get("/v1/texts/fr", headers=auth(world.keys.admin))
    assert listed.status_code == 200, listed.text
    return {where: text for text in listed.json() for where in text["places"]}


def _translate(world: World, where: str, text: str) -> None:
    key = _texts(world)[where]["source_sha256"]
    made = world.client.put(f"/v1/texts/fr/{key}", json={"text": text},
                            headers=auth(world.keys.admin))
    assert made.status_code == 200, made.text


@pytest.fixture(scope="module")
def french(tmp_path_factory: pytest.TempPathFactory,
           pipeline: FacePipeline) -> Iterator[tuple[World, OptinFace, str]]:
    """The deployment (see the module docstring), declared with its translations, served."""
    with deployment(tmp_path_factory.mktemp("french"), pipeline, recipients=[BOARD],
                    privacy_officer_title=TITLE, privacy_officer_title_fr=TITLE_FR,
                    non_biometric_alternative=ALTERNATIVE) as (settings, service, client, keys):
        world = set_up_world(client, keys, declare=False)
        _translate(world, f"purpose {world.purpose_id} name", NAME_FR)
        _translate(world, f"purpose {world.purpose_id} legal_basis", BASIS_FR)
        _translate(world, "recipient 1 name", BOARD_FR)
        declare_long_enough_ago(client, keys)
        with running(create_app(settings, service=service)) as url:
            yield world, service, localhost(url)


def _description(world: World) -> str:
    return str(_texts(world)[f"purpose {world.purpose_id} description"]["source"])


@pytest.mark.browser
def test_privacy_my_data_and_the_probe_page_show_the_operators_french_or_mark_the_english(
    french: tuple[World, OptinFace, str],
) -> None:
    """In Chromium, in French, one load per page: each shows the French the operator gave
    (the title's from its setting) and marks each English-only text (the alternative
    included), in the reader's words."""
    world, _, url = french
    description = _description(world)
    link = world.client.post("/v1/probe-consents", headers=auth(world.keys.researcher), json={
        "purpose_id": world.purpose_id, "notice_id": world.notice_id,
        "probe_sha256": hashlib.sha256(b"probe").hexdigest()})
    assert link.status_code == 201, link.text
    with chromium_page(url, DESKTOP, language="fr-CA") as page:
        page.goto("/privacy")
        assert TITLE_FR in page.inner_text("#person-in-charge")
        assert TITLE not in page.inner_text("#person-in-charge")
        recipients = page.inner_text("#recipients")
        assert f"{BOARD_FR} :" in recipients and f"audit of searches {MARK}" in recipients
        assert f"{ALTERNATIVE} {MARK}" in page.inner_text("#alternative")
        retention = page.inner_text("#retention")
        assert NAME_FR in retention and f"{description} {MARK}" in retention
        assert "Study A" not in retention
        assert page.locator('#alternative [lang="en"]').inner_text() == ALTERNATIVE

        passkey_log_in(page, world.people[world.subject].authenticator.export())
        page.goto("/portal/data")
        purposes = page.inner_text("#purposes")
        assert NAME_FR in purposes and f"{description} {MARK} ({BASIS_FR};" in purposes
        recipients = page.inner_text("#recipients")
        assert BOARD_FR in recipients and f"audit of searches {MARK}" in recipients
        accountability = page.inner_text("#accountability")
        assert TITLE_FR in accountability and f"{ALTERNATIVE} {MARK}" in accountability

        page.goto("/" + str(link.json()["link_url"]).split("/", 3)[3])
        page.wait_for_selector("#probe-asked:not([hidden])")
        assert page.inner_text("#probe-purpose") == NAME_FR
        assert not page.is_visible("#probe-purpose-english-only")
        assert page.inner_text("#probe-purpose-description") == description
        assert page.get_attribute("#probe-purpose-description", "lang") == "en"
        assert page.inner_text("#probe-purpose-description-english-only") == MARK


def test_the_probe_pages_texts_the_listing_and_a_translation_of_the_title(
    french: tuple[World, OptinFace, str],
) -> None:
    """Over the API: the probe link's purpose in the reader's language with what is English
    only; an English reader reads the English unmarked; the title and the alternative are
    listed with the operator's other texts (the title's French from its setting, the
    alternative's missing); a translation set for the title replaces the setting's French, on
    the pages and in the documents the core writes (the record of processing)."""
    world, _, _ = french
    link = world.client.post("/v1/probe-consents", headers=auth(world.keys.researcher), json={
        "purpose_id": world.purpose_id, "notice_id": world.notice_id,
        "probe_sha256": hashlib.sha256(b"api").hexdigest()}).json()
    secret = {"link": link["secret"]}
    asked = world.client.post("/v1/probe-links/request", json=secret, headers=FRENCH_READER)
    assert asked.status_code == 200, asked.text
    description = _description(world)
    assert asked.json()["purpose_shown"] == {"language": "fr", "name": NAME_FR,
                                             "description": description,
                                             "english_only": [description]}
    english = world.client.post("/v1/probe-links/request?lang=en", json=secret).json()
    assert english["purpose_shown"]["name"] == "Study A"
    assert english["purpose_shown"]["english_only"] == []

    texts = _texts(world)
    assert texts["privacy_officer_title"]["text"] == TITLE_FR
    assert texts["non_biometric_alternative"]["text"] is None
    ropa = world.client.get("/v1/register/ropa", params={"format": "md", "lang": "fr"},
                            headers=auth(world.keys.reviewer))
    assert ropa.status_code == 200 and TITLE_FR in ropa.text, ropa.text
    _translate(world, "privacy_officer_title", "Responsable de la protection")
    privacy = world.client.get("/privacy", headers=FRENCH_READER).text
    assert "Responsable de la protection" in privacy and TITLE_FR not in privacy
    # The documents the core writes take the same translation as the pages.
    ropa = world.client.get("/v1/register/ropa", params={"format": "md", "lang": "fr"},
                            headers=auth(world.keys.reviewer))
    assert "Responsable de la protection" in ropa.text and TITLE_FR not in ropa.text
    assert _texts(world)["privacy_officer_title"]["text"] == "Responsable de la protection"

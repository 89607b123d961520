"""A French-speaking person consents in French and signs what they read (Law 25; Charter of the
French language; rows Q-08, Q-15): the operator's texts in French on the consent form, in the
statement the passkey signs and in the receipt; a text with no French said to be English only,
and the operator told; the translations set by an admin, over the API, refused with a stable
code when they are not one."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from optinface.api.app import create_app
from optinface.consent.crypto import canonical_json
from optinface.consent.passkeys import challenge_for
from optinface.engine.pipeline import FacePipeline
from tests.api.browser import PHONE, check_page, chromium_page, localhost, passkey_log_in
from tests.support.api import (
    Keys,
    World,
    assert_refused,
    auth,
    declare_long_enough_ago,
    deployment,
    page_login,
    portal_session,
    set_up_world,
    verify_receipt_file,
)
from tests.support.server import running

BOARD = {"name": "Ethics board", "purpose": "audit of searches", "legal_basis": "consent"}
STUDY_FR = {
    "name": "Étude A",
    "description": "Réidentification de volontaires consentants de l'étude A",
    "legal_basis": "consentement exprès (LCCJTI, art. 44)",
}
BOARD_FR = {"name": "Comité d'éthique", "purpose": "vérification des recherches",
            "legal_basis": "consentement"}


def _texts(client: TestClient, keys: Keys) -> dict[str, dict[str, Any]]:
    """The texts consent forms show, by where they show."""
    listed = client.get("/v1/texts/fr", headers=auth(keys.reviewer))
    assert listed.status_code == 200, listed.text
    return {where: text for text in listed.json() for where in text["places"]}


def _translate(client: TestClient, keys: Keys, where: str, text: str) -> dict[str, Any]:
    key = _texts(client, keys)[where]["source_sha256"]
    made = client.put(f"/v1/texts/fr/{key}", json={"text": text}, headers=auth(keys.admin))
    assert made.status_code == 200, made.text
    return dict(made.json())


def _in_french(client: TestClient, keys: Keys, world: World) -> None:
    """The admin translates the purpose and the recipient and publishes a French notice, then
    declares the register (the translations are part of its material)."""
    for field, text in STUDY_FR.items():
        _translate(client, keys, f"purpose {world.purpose_id} {field}", text)
    for field, text in BOARD_FR.items():
        _translate(client, keys, f"recipient 1 {field}", text)
    notice = client.post("/v1/notices", headers=auth(keys.admin), json={
        "version": "1", "language": "fr", "text": "Nous utilisons votre visage pour l'étude A."})
    assert notice.status_code == 201, notice.text
    declare_long_enough_ago(client, keys)


def _signed_challenge(receipt: dict[str, Any]) -> bytes:
    """The challenge the person's authenticator signed, from its clientDataJSON."""
    def unpadded(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    client_data = json.loads(unpadded(
        receipt["subjectSignature"]["assertion"]["response"]["clientDataJSON"]))
    return unpadded(client_data["challenge"])


@pytest.mark.browser
def test_a_french_reader_consents_in_french_signing_the_text_they_read(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes],
) -> None:
    """In Chromium, in French: the form shows the operator's French, the passkey signs the
    statement holding it, the receipt keeps it (its SHA-256 the one the form showed) and its
    page shows it; an English consent beside it is signed in English as before; each is
    checked against its receipt at enrolment and at the search that finds its person."""
    with deployment(tmp_path, pipeline, recipients=[BOARD]) as (settings, service, client, keys):
        world = set_up_world(client, keys, declare=False)
        english_subject, english_consent = world.subject, world.consent_id  # signed in English
        _in_french(client, keys, world)
        subject, _ = world.new_subject()
        with running(create_app(settings, service=service)) as url, chromium_page(
                localhost(url), PHONE, language="fr-CA") as page:
            passkey_log_in(page, world.people[subject].authenticator.export())
            form = page.inner_text("#give-consent")
            for text in (*STUDY_FR.values(), "Comité d'éthique (vérification des recherches)",
                         "Je consens aux utilisations cochées"):
                assert text in form, text
            assert "en anglais seulement" not in form and "Re-identification" not in form
            assert page.locator("#notice-language").count() == 0  # a French notice exists
            shown = page.inner_text("#wording-sha256").split("SHA-256 ")[1].strip()
            check_page(page, "portal-consent-fr")
            page.locator("#give-consent label", has_text="Étude A").locator("input").check()
            page.click("#give-consent button[type=submit]")
            page.wait_for_selector("#summary")
            assert page.inner_text("h1") == "Consentement enregistré"
            summary = page.inner_text("#summary")
            assert "Étude A" in summary and "Comité d'éthique" in summary
            signed_box = page.inner_text("#signed-wording")
            assert STUDY_FR["description"] in signed_box and "français" in signed_box
            check_page(page, "portal-consent-receipt-fr")
            with page.expect_download() as download:
                page.click("#download-receipt")
            path = tmp_path / "receipt.json"
            download.value.save_as(path)  # the browser's own copy goes with the browser
            page.goto("/portal")  # the person enrols their photo under it, signed as well
            photo = tmp_path / "me.jpg"
            photo.write_bytes(portrait_jpegs[0])
            page.set_input_files("#enrol input[name=image]", str(photo))
            page.click("#enrol button[type=submit]")
            page.wait_for_selector("#enrol [role=status]")
        assert verify_receipt_file(path, service.public_key).exit_code == 0
        receipt = json.loads(path.read_text())["receipt"]
        wording = receipt["wording"]
        assert wording["sha256"] == shown and wording["language"] == "fr"
        assert [p["name"] for p in wording["purposes"]] == ["Étude A"]
        assert wording["recipients"] == [{"name": BOARD_FR["name"], "purpose": BOARD_FR[
            "purpose"], "legalBasis": BOARD_FR["legal_basis"]}]
        statement = receipt["subjectSignature"]["statement"]
        assert statement["wording"] == wording and statement["notice"]["language"] == "fr"
        assert _signed_challenge(receipt) == challenge_for(statement)  # the bytes signed

        english = client.get(f"/v1/subjects/{english_subject}/consents",
                             headers=auth(keys.admin)).json()[0]["receipt"]["receipt"]
        assert english["wording"]["language"] == "en"
        assert english["wording"]["purposes"][0]["name"] == "Study A"
        assert english["language"] == "en" and english["recipients"] == [BOARD]

        world.enrol(english_subject, english_consent, portrait_jpegs[1])
        for image, person in ((flipped_jpegs[0], subject), (flipped_jpegs[1], english_subject)):
            found = world.identify(image)
            assert found.status_code == 200, found.text
            assert [c["subject"] for c in found.json()["candidates"]] == [person]


def test_a_text_with_no_french_is_said_to_be_english_only_and_the_operator_is_told(
    tmp_path: Path, pipeline: FacePipeline, caplog: pytest.LogCaptureFixture,
) -> None:
    """A French deployment (OPTINFACE_DEFAULT_LANGUAGE=fr) whose recipient has no French: the
    French form shows it in English, each such text marked "en anglais seulement" and said so
    above the boxes, and the statement to sign lists it; the operator is told at start, in the
    server's log, and on the dashboard; once translated, none of it."""
    with deployment(tmp_path, pipeline, recipients=[BOARD],
                    default_language="fr") as (settings, service, client, keys):
        world = set_up_world(client, keys)
        for field, text in STUDY_FR.items():
            _translate(client, keys, f"purpose {world.purpose_id} {field}", text)
        with caplog.at_level(logging.WARNING, logger="optinface.api.app"), TestClient(
                create_app(settings, service=service)):
            pass  # the lifespan's start
        assert "3 texts shown on consent forms have no French translation" in caplog.text
        assert "Ethics board" not in caplog.text  # named by their SHA-256 only
        csrf = portal_session(client, world.people[world.subject])
        page = client.get("/portal").text
        assert 'id="english-only"' in page
        box = page.split('id="consent-recipients"')[1].split("</li>")[0]
        assert '<span lang="en">Ethics board</span>' in box
        assert box.count("(en anglais seulement)") == 2  # the name and the purpose
        challenge = client.post("/portal/challenge", headers={"X-CSRF-Token": csrf},
                                json=world.consent_act())
        assert challenge.status_code == 200, challenge.text
        assert set(challenge.json()["statement"]["wording"]["englishOnly"]) == {
            "Ethics board", "audit of searches", "consent"}  # signed: told English only
        page_login(client, "review", keys.reviewer)
        dashboard = client.get("/review").text
        assert 'id="untranslated"' in dashboard and "3 textes affichés" in dashboard

        for field, text in BOARD_FR.items():
            _translate(client, keys, f"recipient 1 {field}", text)
        assert 'id="untranslated"' not in client.get("/review").text
        portal_session(client, world.people[world.subject])
        page = client.get("/portal").text
        assert "en anglais seulement" not in page and 'id="english-only"' not in page


def test_the_wording_signed_is_the_one_the_page_showed(tmp_path: Path,
                                                       pipeline: FacePipeline) -> None:
    """The portal's challenge carries the SHA-256 of the wording the page showed: one
    translated meanwhile is refused with 409 wording_changed, before anyone signs; the
    statement otherwise holds the very wording shown, in the page's language."""
    with deployment(tmp_path, pipeline, default_language="fr") as (_, _, client, keys):
        world = set_up_world(client, keys)
        csrf = portal_session(client, world.people[world.subject])
        shown = client.get("/portal").text.split('name="wording_sha256" value="')[1].split('"')[0]
        act = {**world.consent_act(), "wording_sha256": shown}
        asked = client.post("/portal/challenge", headers={"X-CSRF-Token": csrf}, json=act)
        assert asked.status_code == 200, asked.text
        wording = asked.json()["statement"]["wording"]
        assert wording["sha256"] == shown and wording["language"] == "fr"
        body = {key: value for key, value in wording.items() if key != "sha256"}
        assert wording["sha256"] == hashlib.sha256(canonical_json(body)).hexdigest()
        _translate(client, keys, f"purpose {world.purpose_id} name", "Étude A")
        again = client.post("/portal/challenge", headers={"X-CSRF-Token": csrf}, json=act)
        assert_refused(again, 409, "wording_changed")
        assert "Rechargez la page" in again.json()["details"]["advice"]


def test_translations_are_an_admins_and_bad_ones_are_refused_with_a_stable_code(
    tmp_path: Path, pipeline: FacePipeline,
) -> None:
    with deployment(tmp_path, pipeline) as (_, _, client, keys):
        world = set_up_world(client, keys)
        name = _texts(client, keys)[f"purpose {world.purpose_id} name"]
        assert (name["source"], name["text"], name["language"]) == ("Study A", None, "fr")
        url = f"/v1/texts/fr/{name['source_sha256']}"
        for secret in (keys.reviewer, keys.portal, keys.researcher, world.subject_token):
            assert_refused(client.put(url, json={"text": "Étude A"}, headers=auth(secret)),
                           403, "forbidden")
        admin = auth(keys.admin)
        assert_refused(client.put(f"/v1/texts/fr/{'0' * 64}", json={"text": "x"},
                                  headers=admin), 404, "not_found")
        assert_refused(client.put(f"/v1/texts/de/{name['source_sha256']}",
                                  json={"text": "Studie A"}, headers=admin),
                       422, "validation_error")
        assert_refused(client.put("/v1/texts/fr/not-a-hash", json={"text": "x"},
                                  headers=admin), 422, "validation_error")
        for text in ("", "   ", "Étude\x07A", "x" * 5_001):
            assert_refused(client.put(url, json={"text": text}, headers=admin),
                           422, "validation_error")
        two_lines = client.put(url, json={"text": "Étude\nA"}, headers=admin)
        assert_refused(two_lines, 422, "invalid_request")
        assert two_lines.json()["details"]["field"] == "text"
        assert _texts(client, keys)[f"purpose {world.purpose_id} name"]["text"] is None
        made = client.put(url, json={"text": "Étude A"}, headers=admin)
        assert made.status_code == 200 and made.json()["text"] == "Étude A"
        assert _texts(client, keys)[f"purpose {world.purpose_id} name"]["text"] == "Étude A"

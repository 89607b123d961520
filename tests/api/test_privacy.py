"""Accountability that cannot stay a placeholder: the public /privacy page, demo mode stated
everywhere, serve refusing placeholders, and the same record in notices, receipts and exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from markupsafe import escape
from typer.testing import CliRunner

from optinface.api.cli.main import app
from optinface.consent import disclosures
from optinface.consent.errors import PlaceholderAccountability
from optinface.engine.pipeline import FacePipeline
from tests.support.api import (
    World,
    assert_refused,
    auth,
    deployment,
    portal_session,
    set_up_world,
    verify_receipt_file,
)
from tests.support.thresholds import TEST_DATASET, TEST_DATE, write_test_thresholds

pytestmark = pytest.mark.shared_deployment

REAL = {
    "demo_mode": False,
    "controller_name": "Université Exemplaire",
    "controller_contact": "vie-privee@univ.qc.ca",
    "privacy_officer_name": "Claire Tremblay",
    "privacy_officer_title": "Responsable de la protection des renseignements personnels",
    "privacy_officer_contact": "rprp@univ.qc.ca",
    "dpo_contact": "dpo@univ.qc.ca",
    "pia_reference": "EFVP-2026-07",
    "pia_sha256": "ab" * 32,
    "policy_url": "https://univ.qc.ca/politique-biometrie",
    "hosting_country": "CA",
    "hosting_region": "Montréal, Québec",
    "hosting_provider": "university data centre",
    "non_biometric_alternative": "Show your student card at the front desk instead.",
}


def test_privacy_page_answers_without_authentication(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    with deployment(tmp_path, pipeline, **REAL) as (_, _, client, _):
        page = client.get("/privacy")
        assert page.status_code == 200
        for value in ("Claire Tremblay", "rprp@univ.qc.ca", "dpo@univ.qc.ca",
                      "https://univ.qc.ca/politique-biometrie", "student card at the front desk",
                      "Montréal, Québec", "within 30 days", "never sold"):
            assert value in page.text, value
        for right in ("access", "rectification", "withdrawal", "erasure", "complaint"):
            assert f"<td>{right}</td>" in page.text, right
        data = client.get("/privacy.json").json()
        assert data["accountability"]["privacy_officer_name"] == "Claire Tremblay"
        assert "DEMO MODE" not in page.text


def test_privacy_states_the_operating_point_in_plain_words(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """G-08 told to the public, in English and French: the threshold, how often it errs both
    ways and on what it was measured, candidates only, two verifiers never the searcher; and
    that a rate never calibrated means no search at all. The calibration's day is written as
    the reader writes days; its description of the data set, English as the calibration wrote
    it, is quoted as such (``lang="en"``), never run into a French sentence."""
    calibration = write_test_thresholds(tmp_path / "calibration.toml")
    quoted = f'<q lang="en">{TEST_DATASET}</q>'
    with deployment(tmp_path, pipeline, thresholds_path=calibration) as (settings, _, client, _):
        english = client.get("/privacy").text
        for said in ("with the model w600k_mbf", "a score of at least 0.36 makes someone a"
                     " candidate", "about 1 comparison in 10,000 between two different people",
                     "(a false-match rate of 0.01%), and 2% of the comparisons of one person",
                     "as measured on Fri 1 Jan 2027 on the data set below",
                     f"Data set, as the calibration describes it: {quoted}",
                     "once 2 different verifiers confirm it (1 when",
                     "never the person who ran the search"):
            assert said in english, said
        french = client.get("/privacy", params={"lang": "fr"}).text
        for said in ("d'au moins 0,36 fait de", "environ 1 comparaison sur 10\u00a0000 entre",
                     "de 0,01\u00a0%), et 2\u00a0% des", "par 2 contrôleurs différents (1 quand",
                     "selon la mesure du ven. 1 janv. 2027 sur le jeu de données ci-dessous",
                     "jamais par la personne qui a lancé la recherche"):
            assert str(escape(said)) in french, said
        assert (str(escape("Jeu de données, tel que l'étalonnage le décrit (en anglais) : "))
                + quoted) in french
        assert TEST_DATE not in french
        settings.match_fmr = 1e-2
        english = client.get("/privacy", params={"lang": "en"}).text
        assert ("No threshold is calibrated for the model w600k_mbf at a false-match rate of"
                " 1%: every search is refused.") in english


def test_the_public_pages_answer_head_like_get(world: World) -> None:
    for path in ("/privacy", "/healthz"):
        head, get = world.client.head(path), world.client.get(path)
        assert head.status_code == get.status_code == 200, path
        assert head.headers["content-type"] == get.headers["content-type"], path


def test_every_page_and_healthz_state_demo_mode(tmp_path: Path, pipeline: FacePipeline) -> None:
    with deployment(tmp_path, pipeline, demo_mode=True) as (_, _, client, keys):
        assert client.get("/healthz").json()["demo_mode"] is True
        for path in ("/privacy", "/portal", "/review"):
            assert "DEMO MODE" in client.get(path).text, path
        register = client.get("/v1/register", params={"format": "md"}, headers=auth(keys.admin))
        assert "DEMO MODE" in register.text


def test_serve_refuses_placeholder_accountability_outside_demo_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTINFACE_DEMO_MODE", "false")
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path / "var")])
    assert isinstance(result.exception, PlaceholderAccountability)
    assert "privacy_officer_contact" in result.exception.details["settings"]
    assert not (tmp_path / "var").exists()  # refused before anything is created


EU_REPRESENTATIVE = "Vertretung GmbH, Friedrichstraße 1, Berlin (eu-rep@vertretung.de)"
EU_PERSON = {"age_category": "adult", "jurisdiction": "EU"}


def test_an_eu_subject_is_refused_while_no_eu_representative_is_named(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """GDPR art. 27, outside demo mode: a documented 409 with a stable code, no subject."""
    with deployment(tmp_path, pipeline, **REAL) as (_, _, client, keys):
        answer = client.post("/v1/subjects", json=EU_PERSON, headers=auth(keys.portal))
        assert_refused(answer, 409, "eu_representative_required")
        assert "OPTINFACE_EU_REPRESENTATIVE" in answer.json()["message"]
        made = client.post("/v1/subjects", json={"age_category": "adult", "jurisdiction": "QC"},
                           headers=auth(keys.portal))
        assert made.status_code == 201, made.text


def test_the_eu_representative_is_named_on_privacy_notices_receipts_and_exports(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    with deployment(tmp_path, pipeline, **REAL, eu_representative=EU_REPRESENTATIVE) as (
            _, _, client, keys):
        world = set_up_world(client, keys)
        person, _ = world.new_person(jurisdiction="EU")
        world.consent(person.pseudonym)
        assert EU_REPRESENTATIVE in client.get("/privacy").text
        told = client.get("/privacy.json").json()["accountability"]
        assert told["eu_representative"] == EU_REPRESENTATIVE
        notices = client.get("/v1/notices", headers=auth(keys.admin)).json()
        assert [n["accountability"]["eu_representative"] for n in notices] == [
            EU_REPRESENTATIVE]
        [consent] = client.get(f"/v1/subjects/{person.pseudonym}/consents",
                               headers=auth(person.token)).json()
        assert consent["receipt"]["receipt"]["accountability"]["eu_representative"] == (
            EU_REPRESENTATIVE)
        export = f"/v1/subjects/{person.pseudonym}/export"
        assert client.get(export, headers=auth(person.token)).json()["accountability"][
            "eu_representative"] == EU_REPRESENTATIVE
        for kind in ("md", "html"):
            readable = client.get(export, params={"format": kind}, headers=auth(person.token))
            assert EU_REPRESENTATIVE in readable.text, kind


def test_notices_receipts_and_exports_carry_the_accountability(world: World) -> None:
    notices = world.client.get("/v1/notices", headers=auth(world.keys.admin)).json()
    assert all(n["accountability"]["non_biometric_alternative"] for n in notices)
    consents = world.client.get(f"/v1/subjects/{world.subject}/consents",
                                headers=auth(world.subject_token)).json()
    receipt = consents[0]["receipt"]["receipt"]
    assert receipt["accountability"]["privacy_officer_contact"]
    assert receipt["accountability"]["non_biometric_alternative"]
    export = world.client.get(f"/v1/subjects/{world.subject}/export",
                              headers=auth(world.subject_token)).json()
    assert export["accountability"]["rights"]
    readable = world.client.get(f"/v1/subjects/{world.subject}/export",
                                params={"format": "md"}, headers=auth(world.subject_token))
    assert "non-biometric alternative" in readable.text
    signed = consents[0]["retention_policy_sha256"]
    assert receipt["retentionPolicy"]["sha256"] == signed
    assert f"retention policy {signed[:12]}" in readable.text


def test_notices_receipts_and_exports_name_the_configured_privacy_officer(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """Not merely a name: the officer the settings name, title and contact equal to the
    settings in every notice, the consent receipt, and the JSON and Markdown exports."""
    officer = {key: REAL[key] for key in
               ("privacy_officer_name", "privacy_officer_title", "privacy_officer_contact")}
    with deployment(tmp_path, pipeline, **REAL) as (settings, _, client, keys):
        assert officer == {key: getattr(settings, key) for key in officer}
        world = set_up_world(client, keys)
        notices = client.get("/v1/notices", headers=auth(keys.admin)).json()
        consents = client.get(f"/v1/subjects/{world.subject}/consents",
                              headers=auth(world.subject_token)).json()
        url, token = f"/v1/subjects/{world.subject}/export", auth(world.subject_token)
        export = client.get(url, headers=token).json()
        readable = client.get(url, params={"format": "md"}, headers=token).text
    records = [n["accountability"] for n in notices] + [
        consents[0]["receipt"]["receipt"]["accountability"], export["accountability"]]
    assert notices and all({key: r[key] for key in officer} == officer for r in records)
    assert all(str(value) in readable for value in officer.values())


def test_the_retention_policy_and_every_version_of_it_are_public(world: World) -> None:
    """No key needed: a person, a court or a regulator reads the version a receipt names."""
    client = world.client
    in_force = client.get("/privacy/policy").json()
    assert "at most 3 years after the last interaction" in in_force["rules"]
    assert client.get(f"/privacy/policy/{in_force['sha256']}").json() == in_force
    assert client.get("/privacy/policy/versions").json() == [in_force]
    assert client.get("/privacy.json").json()["retention_policy"] == in_force
    page = client.get("/privacy").text
    assert f"/privacy/policy/{in_force['sha256']}" in page
    assert_refused(client.get("/privacy/policy/" + "0" * 64), 404, "not_found")
    assert_refused(client.get("/privacy/policy/not-a-hash"), 422, "validation_error")


def test_the_consent_form_tells_how_the_face_is_used_and_who_answers_before_anyone_signs(
    world: World
) -> None:
    """P-39.1 s. 8, GDPR art. 13: told at collection, from the live system, whatever the
    operator's notice says: the means, who answers, who receives, where, the rights."""
    told = world.client.get("/privacy.json").json()
    portal_session(world.client, world.people[world.subject])
    page = world.client.get("/portal").text
    box = page.split('id="before-you-agree"')[1].split("</details>")[0]
    accountability = told["accountability"]
    for expected in ("512-number template", "photos are discarded once the template is made",
                     accountability["controller_name"], accountability["privacy_officer_contact"],
                     "nobody as a rule", str(escape(told["disclosures"])),
                     accountability["hosting"]["region"],
                     "stop each use at any time", 'href="/privacy#rights"'):
        assert expected in box, expected
    assert told["source"] and told["matching"] and told["recipients"] == []
    # Disclosures on BIPA 15(d)'s grounds happen with no standing recipient: told, not denied.
    assert told["disclosures"] == disclosures.RULE
    page = world.client.get("/privacy").text
    assert "nobody as a rule" in page and str(escape(disclosures.RULE)) in page


def test_the_recipients_are_shown_before_signing_and_named_in_the_signed_receipt(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """GDPR art. 13(1)(e), row Q-08: the configured recipients are on the consent form, in the
    statement the portal has the passkey sign, in the receipt (which ``optinface receipt
    verify`` accepts) and on the receipt's page."""
    board = {"name": "Ethics board", "purpose": "audit of searches", "legal_basis": "consent"}
    with deployment(tmp_path, pipeline, recipients=[board]) as (_, service, client, keys):
        world = set_up_world(client, keys)
        csrf = portal_session(client, world.people[world.subject])
        box = client.get("/portal").text.split('id="before-you-agree"')[1].split("</details>")[0]
        assert "Ethics board (audit of searches)" in box and "nobody as a rule" not in box
        challenge = client.post("/portal/challenge", headers={"X-CSRF-Token": csrf},
                                json=world.consent_act())
        assert challenge.status_code == 200, challenge.text
        assert challenge.json()["statement"]["recipients"] == [board]
        signed = client.get(f"/portal/receipts/{world.consent_id}.json").json()
        page = client.get(f"/portal/receipts/{world.consent_id}").text
    receipt = signed["receipt"]
    assert receipt["recipients"] == [board] == receipt["subjectSignature"]["statement"][
        "recipients"]
    assert [(p["thirdPartyDisclosure"], p["thirdPartyName"])
            for s in receipt["services"] for p in s["purposes"]] == [(True, "Ethics board")]
    assert "Your receipt names who receives your data: Ethics board (audit of searches)." in page
    path = tmp_path / "consent.json"
    path.write_text(json.dumps(signed))
    assert verify_receipt_file(path, service.public_key).exit_code == 0


def test_whether_the_data_are_kept_outside_quebec_is_told_at_collection(
    world: World, tmp_path: Path, pipeline: FacePipeline
) -> None:
    """P-39.1 s. 8: the person is told of the possibility of a communication outside Québec
    before they consent, from the hosting the deployment runs on, on /privacy and on the
    consent form alike."""
    told = world.client.get("/privacy.json").json()
    assert {t["jurisdiction"]: t["transfer"] for t in told["transfers"]} == {"QC": False,
                                                                            "EU": True}
    portal_session(world.client, world.people[world.subject])
    box = world.client.get("/portal").text.split('id="consent-transfers"')[1].split("</li>")[0]
    assert "QC: none: hosted in CA (Québec)" in box and "outside the EEA; no safeguard" in box
    abroad = {"hosting_country": "US", "hosting_region": "Virginia",
              "transfer_safeguards": "EFVP-2026-09 and a written agreement"}
    with deployment(tmp_path, pipeline, **abroad) as (_, _, client, _):
        told = client.get("/privacy.json").json()
        assert {t["jurisdiction"]: t["transfer"] for t in told["transfers"]}["QC"] is True
        row = client.get("/privacy").text.split('id="transfers"')[1].split("</tr>")[0]
        assert ("transferred to US (Virginia), outside Québec; safeguards: EFVP-2026-09 and a"
                " written agreement") in row


def test_the_portal_request_form_takes_only_the_kinds_it_offers(world: World) -> None:
    """Withdrawal and erasure have their own signed buttons; the form refuses them, keeps
    what was typed, and records nothing."""
    csrf = portal_session(world.client, world.people[world.subject])
    before = world.client.get("/v1/requests", headers=auth(world.keys.reviewer)).json()
    answer = world.client.post("/portal/requests", data={
        "csrf": csrf, "kind": "erasure", "note": "please erase me"})
    assert answer.status_code == 422
    assert "Choose what your message is about" in answer.text and "please erase me" in answer.text
    assert world.client.get("/v1/requests", headers=auth(world.keys.reviewer)).json() == before

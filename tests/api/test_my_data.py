""""My data", the privacy page and the regulator's side of the dashboard in the reader's
language, every label and sentence.

The consent core returns the access export as data (its JSON stays English: an interface); the
pages render it with the same words as every page. A French page must hold no English text
the pages could have translated: :func:`english_left_in` looks for every English source string
(three words or more) of the dictionary in the page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from optinface.api.web import vocabulary
from optinface.api.web.french import FRENCH
from optinface.api.web.i18n import Language, Words
from optinface.consent import access
from optinface.engine.pipeline import FacePipeline
from optinface.engine.samples import encode
from tests.support.api import (
    World,
    auth,
    deployment,
    in_a_year,
    page_login,
    portal_session,
    publish_purpose,
    set_up_world,
)

pytestmark = pytest.mark.shared_deployment
FRENCH_READER = {"Accept-Language": "fr-CA,fr;q=0.9"}


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def english_left_in(text: str) -> list[str]:
    """English source strings (their literal parts of three words or more) found in ``text``."""
    left = []
    for english, french in FRENCH.items():
        if english == french:
            continue
        for part in re.split(r"\{\w+\}", english.replace("{{", "{").replace("}}", "}")):
            if len(part.split()) >= 3 and part.strip() in text and part.strip() not in french:
                left.append(part.strip())
    return sorted(set(left))


def _searched(world: World, image: bytes) -> None:
    """The person's face is enrolled and found once, so their export lists a search."""
    world.enrol(world.subject, world.consent_id, image)
    assert world.identify(image).status_code == 200  # type: ignore[attr-defined]


def test_my_data_reads_in_french_every_label(world: World, portrait_jpegs: list[bytes]) -> None:
    _searched(world, portrait_jpegs[0])
    portal_session(world.client, world.people[world.subject])
    page = world.client.get("/portal/data", headers=FRENCH_READER)
    assert page.status_code == 200, page.text
    text = _text(page.text)
    for heading in ("Qui répond de vos données", "Consentements (1)", "Comment les visages sont"
                    " comparés", "Recherches qui vous ont concerné (1)", "Vos droits et comment"
                    " les exercer", "Conservation"):
        assert heading in text, heading
    assert "candidat (en attente des contrôleurs), pas une identification" in text
    assert english_left_in(text) == []


def test_my_data_lists_every_passkey_that_acts_for_the_person(world: World) -> None:
    minor, answer = world.new_person(age="minor_13")
    world.take_over(answer["guardian_enrolment"]["secret"])
    portal_session(world.client, minor)
    page = _text(world.client.get("/portal/data").text)
    listed = page.split("Passkeys that act for you (2)")[1].split("Consents (")[0]
    assert "your own passkey" in listed
    assert "a passkey of the holder of parental authority" in listed
    exported = world.client.get(f"/v1/subjects/{minor.pseudonym}/export", headers=minor.headers)
    assert [p["capacity"] for p in exported.json()["passkeys"]] == [
        "self", "parental_authority"]


def test_my_data_shows_a_rights_requests_kind_and_state_in_french(world: World) -> None:
    """The request's kind and state are codes: the page words them, as the dashboard does."""
    asked = world.client.post(f"/v1/subjects/{world.subject}/requests",
                              headers=auth(world.keys.admin),
                              json={"kind": "withdrawal", "channel": "letter"})
    assert asked.status_code == 201, asked.text
    portal_session(world.client, world.people[world.subject])
    page = world.client.get("/portal/data", headers=FRENCH_READER).text
    requests = _text(page[page.index('id="requests"'):page.index('<section id="events"')])
    assert "retrait du consentement, reçue le" in requests, requests
    assert requests.rstrip().endswith(" : ouverte"), requests


def test_what_someone_typed_is_literal_text_in_the_markdown_export(world: World) -> None:
    """A name someone typed (here a disclosure's recipient) is shown, never rendered: no tag,
    link or emphasis of its author's in the export a reader opens."""
    recipient = "<img src=x onerror=alert(1)> [click](https://evil.example) *loud* # x"
    made = world.client.post(f"/v1/subjects/{world.subject}/disclosures",
                             headers=auth(world.keys.admin),
                             json={"recipient": recipient, "legal_basis": "warrant_subpoena",
                                   "document_reference": "W-1", "recipient_country": "CA",
                                   "recipient_region": "Québec"})
    assert made.status_code == 201, made.text
    markdown = world.client.get(f"/v1/subjects/{world.subject}/export",
                                params={"format": "md"}, headers=auth(world.subject_token)).text
    assert "\\<img src=x onerror=alert(1)\\>" in markdown
    assert "<img" not in markdown.replace("\\<img", "")
    assert "\\[click\\](https://evil.example)" in markdown and "\\*loud\\* \\# x" in markdown


def test_the_api_exports_for_people_speak_the_callers_language_and_the_json_does_not(
    world: World,
) -> None:
    url = f"/v1/subjects/{world.subject}/export"
    token = auth(world.subject_token)
    markdown = world.client.get(url, params={"format": "md"},
                                headers={**token, **FRENCH_READER}).text
    assert markdown.startswith("# Données détenues à votre sujet")
    assert "## Qui répond de vos données" in markdown and english_left_in(markdown) == []
    html = world.client.get(url, params={"format": "html"}, headers={**token, **FRENCH_READER})
    assert "<html lang='fr'>" in html.text and english_left_in(_text(html.text)) == []
    english = world.client.get(url, params={"format": "md"}, headers=token).text
    assert "## Who answers for your data" in english
    exported = world.client.get(url, headers={**token, **FRENCH_READER}).json()
    assert exported["source"] == access.SOURCE  # the JSON is an interface: never translated
    assert exported["retention"][0]["what"] == access.EVERYTHING


def test_the_privacy_page_reads_in_french_every_sentence(world: World) -> None:
    page = world.client.get("/privacy", headers=FRENCH_READER)
    text = _text(page.text)
    assert "au plus 3 ans après la dernière interaction" in text  # a retention rule, with years
    assert "Commission d'accès à l'information du Québec ou à votre autorité de contrôle" in text
    assert "Ce qui reste après un effacement" in text
    assert english_left_in(text) == []


@pytest.mark.parametrize(("reader", "words"), [
    ({}, {"access": "access", "portability": "portability", "page": '"My data"',
          "button": '"Download it as JSON"', "law": "P-39.1 s. 27; GDPR art. 20",
          "templates": '"Download it as JSON with my templates"',
          "labelled": "portability:"}),
    (FRENCH_READER, {"access": "accès", "portability": "portabilité", "page": "« Mes données »",
                     "button": "« Le télécharger en JSON »",
                     "templates": "« Le télécharger en JSON avec mes gabarits »",
                     "law": "P-39.1, art. 27; RGPD, art. 20", "labelled": "portabilité :"}),
])
def test_the_rights_name_portability_and_the_my_data_page_in_each_language(
    world: World, reader: dict[str, str], words: dict[str, str]
) -> None:
    """GDPR art. 20, P-39.1 s. 27 (rows G-13, Q-18): portability is listed with the JSON export
    that exercises it (and the copy of the templates, the person's own choice, since the plain
    download does not hold them), and access names the portal's My data page, in English as in
    French, on /privacy and in the readable access export (one list: the notices and receipts
    carry it)."""
    page = world.client.get("/privacy", headers=reader).text.split('id="rights"')[1]
    rows = {unescape(right): unescape(how) for right, how in re.findall(
        r"<tr><td>([^<]*)</td><td>([^<]*)</td>", page.split("</section>")[0])}
    assert words["page"] in rows[words["access"]]
    assert words["button"] in rows[words["portability"]]
    assert "/v1/subjects/{pseudonym}/export?format=json" in rows[words["portability"]]
    assert words["templates"] in rows[words["portability"]]
    assert "&vectors=true" in rows[words["portability"]]
    exported = unescape(world.client.get(
        f"/v1/subjects/{world.subject}/export", params={"format": "html"},
        headers={**auth(world.subject_token), **reader}).text)
    assert (f"<li><b>{words['labelled']}</b> {rows[words['portability']]}"
            f" ({words['law']})</li>") in exported
    record = world.client.get("/privacy.json").json()["accountability"]
    [consent] = world.client.get(f"/v1/subjects/{world.subject}/consents",
                                 headers=auth(world.subject_token)).json()
    assert consent["receipt"]["receipt"]["accountability"]["rights"] == record["rights"]
    assert [r["basis"] for r in record["rights"] if r["right"] == "portability"] == [
        "P-39.1 s. 27; GDPR art. 20"]


def test_the_regulators_side_of_the_dashboard_reads_in_french(world: World) -> None:
    admin = auth(world.keys.admin)
    asked = world.client.post(f"/v1/subjects/{world.subject}/requests", headers=admin,
                              json={"kind": "access", "channel": "letter"})
    assert asked.status_code == 201, asked.text
    now = datetime.now(UTC)
    for aware, description in ((2, "laptop stolen"), (96, "letter misdirected")):
        incident = world.client.post("/v1/incidents", headers=admin, json={
            "description": description, "circumstances": "from a car",
            "occurred_from": (now - timedelta(days=5)).isoformat(),
            "became_aware_at": (now - timedelta(hours=aware)).isoformat(),
            "data_categories": ["access export"], "subjects_affected": 1234,
            "affected_is_estimate": True, "risk_assessment": "one person's consents",
            "measures_taken": "device wiped", "measures_suggested": "none"})
        assert incident.status_code == 201, incident.text
    late = world.client.post(f"/v1/incidents/{incident.json()['id']}/notified", headers=admin,
                             json={"delay_reason": "found in an audit"})
    assert late.status_code == 200, late.text
    page_login(world.client, "review", world.keys.reviewer)
    page = world.client.get("/review", headers=FRENCH_READER).text
    regulator = _text(page[page.index('id="rights-requests"'):page.index("</main>")])
    assert "Demandes d'exercice d'un droit (réponse dans les 30 jours)" in regulator
    assert "Incidents de confidentialité (à déclarer dans les 72 heures)" in regulator
    assert "conservé au moins 5 ans" in regulator
    # Numbers as a French reader writes them: "1 234", "96 h", never "1234" or "96.0 h".
    # (as a number of its own: a random hexadecimal id on the page may hold the digits)
    assert "environ 1\u00a0234" in regulator and not re.search(r"\b1234\b", regulator)
    assert re.search(r"encore \d+(,\d)? h", regulator), regulator
    assert "avisée en retard (96 h après" in regulator, regulator
    assert not re.search(r"\d\.\d h", regulator), regulator
    assert english_left_in(regulator) == []


def test_the_operators_own_texts_read_in_french_when_the_operator_wrote_them(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    alternative = ("Come to the front desk with a photo ID: the same service, without your"
                   " face.")
    french = ("Présentez-vous à l'accueil avec une pièce d'identité avec photo : le même"
              " service, sans votre visage.")
    with deployment(tmp_path, pipeline, non_biometric_alternative=alternative,
                    non_biometric_alternative_fr=french,
                    privacy_officer_title="Head of privacy",
                    privacy_officer_title_fr="Responsable de la vie privée") as (_, _, client, _):
        in_french = _text(client.get("/privacy", headers=FRENCH_READER).text)
        assert french in in_french and alternative not in in_french
        assert "Responsable de la vie privée" in in_french and "Head of privacy" not in in_french
        in_english = _text(client.get("/privacy").text)
        assert alternative in in_english and french not in in_english


@pytest.mark.parametrize("code", ["no_calibration", "consent_missing"])
def test_a_refused_searchs_code_reads_back_from_the_wording_that_wrote_it(code: str) -> None:
    """The pages translate a refusal's code: it must survive a change of ``access.REFUSED``."""
    assert access.refusal_code(access.REFUSED.format(code=code)) == code
    assert access.refusal_code("no_candidate") is None
    assert access.refusal_code(access.REFUSED.format(code="")) is None


def test_my_data_words_the_age_bracket_rounds_the_threshold_and_names_a_withdrawn_purpose(
    world: World,
) -> None:
    """Codes are worded ("adult", a purpose's id), and the matching figures are written as
    /privacy writes them, in the reader's number format: the threshold, the false-match rate
    and the false non-match rate as a percentage (never a raw float)."""
    other = publish_purpose(world.client, world.keys, "Words")
    person, _ = world.new_person()
    given = person.consent(purposes=[world.purpose_id, other], notice_id=world.notice_id,
                           expires_at=in_a_year())
    person.withdraw(given["consent"]["id"], other)  # the consent goes on without it
    url = f"/v1/subjects/{person.pseudonym}/export"
    markdown = world.client.get(url, params={"format": "md"},
                                headers={**auth(person.token), **FRENCH_READER}).text
    assert "**Tranche d'âge :** adulte (18 ans ou plus)" in markdown
    events = markdown[markdown.index("## Événements"):]
    assert other not in events and "pour Study Words" in events, events
    point = world.client.get("/privacy.json").json()["accuracy"]
    words = Words(Language.FR, ZoneInfo("America/Toronto"))
    assert (f"**Seuil :** {words.number(point['threshold'])} (étalonné pour un taux de fausses"
            f" correspondances de {words.percent(point['fmr'])})") in markdown, markdown
    assert f"**Taux de fausses non-correspondances :** {words.percent(point['fnmr'])}\n" in (
        markdown)
    privacy = unescape(world.client.get("/privacy", headers=FRENCH_READER).text)
    assert f"d'au moins {words.number(point['threshold'])} fait" in privacy  # both agree
    # Listed, since events name it, but not as if the processing went on (GDPR art. 15(1)(a)),
    # and, untranslated, said to be English only.
    assert "Study Words (en anglais seulement) (plus en vigueur)" in markdown
    exported = world.client.get(url, headers=auth(person.token)).json()["purposes"]
    assert {p["id"]: p["in_force"] for p in exported} == {world.purpose_id: True, other: False}


def test_a_refused_attempt_reads_in_words_in_the_french_export(
    tmp_path: Path, pipeline: FacePipeline, portrait_images: list[Any]
) -> None:
    """A refusal's event names the code of what was refused: the export tells it as the pages
    tell that code, never the bare code ("Refusé : no_face"). Its own deployment: a purpose
    published by another test would refuse every search for a redeclaration first."""
    blank = portrait_images[0].copy()
    blank[:] = 128
    with deployment(tmp_path, pipeline) as (_, _, client, keys):
        world = set_up_world(client, keys)
        refused = world.verify(world.subject, encode(blank))
        assert refused.status_code == 422 and refused.json()["code"] == "no_face", refused.text
        markdown = client.get(f"/v1/subjects/{world.subject}/export", params={"format": "md"},
                              headers={**auth(world.subject_token), **FRENCH_READER}).text
    events = markdown[markdown.index("## Événements"):]
    assert f"Refusé ({FRENCH[vocabulary.ERRORS['no_face']]})" in events, events
    assert "no_face" not in markdown


def test_a_reader_whose_browser_names_neither_language_reads_the_deployments_default(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPTINFACE_DEFAULT_LANGUAGE=fr (a Québec deployment): a page, a readable export and an
    incident notice are in French for a browser asking for German; a reader's own choice, or a
    language their browser names, still wins."""
    settings = world.client.app.state.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "default_language", Language.FR)
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    world.client.cookies.clear()
    assert '<html lang="fr">' in world.client.get("/privacy", headers=german).text
    assert '<html lang="en">' in world.client.get(
        "/privacy", headers={"Accept-Language": "de-DE,en;q=0.5"}).text
    assert '<html lang="en">' in world.client.get("/privacy", params={"lang": "en"},
                                                  headers=german).text
    world.client.cookies.clear()
    markdown = world.client.get(f"/v1/subjects/{world.subject}/export", params={"format": "md"},
                                headers={**auth(world.subject_token), **german}).text
    assert markdown.startswith("# Données détenues à votre sujet"), markdown[:80]
    now = datetime.now(UTC)
    incident = world.client.post("/v1/incidents", headers=auth(world.keys.admin), json={
        "description": "laptop stolen", "circumstances": "from a car",
        "occurred_from": (now - timedelta(days=1)).isoformat(),
        "became_aware_at": now.isoformat(), "data_categories": ["access export"],
        "risk_assessment": "none", "measures_taken": "device wiped", "measures_suggested": "none"})
    assert incident.status_code == 201, incident.text
    notice = world.client.get(f"/v1/incidents/{incident.json()['id']}/notice",
                              params={"text": "true"}, headers={**auth(world.keys.admin), **german})
    assert notice.text.startswith("# Avis à la Commission"), notice.text[:80]
    monkeypatch.setattr(settings, "default_language", Language.EN)
    assert '<html lang="en">' in world.client.get("/privacy", headers=german).text

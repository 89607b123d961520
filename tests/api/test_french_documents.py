"""The documents a reviewer or a person downloads, in French for a French reader.

A Québec regulator receiving the declaration of the biometric database expects it in French
(Charter of the French language): the register, the record of processing and the access export
are chosen in French as the pages are (``lang``, else ``Accept-Language``, else
``OPTINFACE_DEFAULT_LANGUAGE``). Only the wording changes: the JSON keeps its keys and English
texts, the English Markdown stays as it was, and the material SHA-256 a declaration hashed is
the same in every language.
"""

from __future__ import annotations

import re

import pytest

from optinface.api.web.i18n import Language
from optinface.consent.markdown import markdown_text
from tests.support.api import World, auth, page_login

pytestmark = pytest.mark.shared_deployment

REGISTER = "/v1/register"
ROPA = "/v1/register/ropa"
FRENCH_BROWSER = {"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"}
ENGLISH_LEFT = (
    "Register of the biometric database", "Generated", "Controller", "Person in charge",
    "Data protection officer", "EU representative", "**Policy**", "Non-biometric alternative",
    "Hosting location", "DEMO MODE", "Jurisdiction", "Biometric characteristic",
    "Active model", "(detector)", "(recognizer)", "Identifications confirmed", "**Subjects**",
    "**templates**", "needing re-enrolment", "**Database**", "**Declaration**", "(reference ",
    "material sha256", "In service", "sold, leased or traded", "never", "Accuracy",
    "threshold", "false-match rate", "verifiers", "candidates_for_review", "no_candidate",
    "Purposes", "retention", " days", "identify", "Recipients", "Disclosures", "Transfers",
    "hosted in", "outside", "safeguards", "Signing keys", "Receipts and checkpoints",
    "signs", "receipts", "Categories", "adults", "minors", "Retention", "Security measures",
    "encryption", "rotation fingerprint", "Regulator's orders", "Warnings", "- none",
    "Settings that bound a promise",
)
"""English labels and words of the register's Markdown that no French reader should meet
(none of them is in what the test deployment's operator typed)."""


def _markdown(world: World, path: str, *, headers: dict[str, str] | None = None,
              **asked: str) -> str:
    answer = world.client.get(path, params={"format": "md", **asked},
                              headers={**auth(world.keys.reviewer), **(headers or {})})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
    return answer.text


def _french(world: World, path: str) -> str:
    """``path``'s Markdown for ``lang=fr``, which a French browser gets too."""
    chosen = _markdown(world, path, lang="fr")
    assert _timeless(_markdown(world, path, headers=FRENCH_BROWSER)) == _timeless(chosen)
    return chosen


def _timeless(markdown: str) -> str:
    """The document without its generation time (two requests may fall in two minutes)."""
    return re.sub(r"^(Généré le|Generated) .*$", "", markdown, flags=re.MULTILINE)


def _left_over(french: str, english: list[str]) -> list[str]:
    return [text for text in english if text in french]


def test_the_register_is_french_for_a_french_reader(world: World) -> None:
    """LCCJTI art. 45, Charter of the French language: the declaration's register in French,
    every label, heading and statement of the core, with French numbers and days; the
    operator's own words as typed."""
    french = _french(world, REGISTER)
    data = world.client.get(REGISTER, headers=auth(world.keys.reviewer)).json()
    assert french.startswith("# Registre de la banque de caractéristiques biométriques\n"
                             "Généré le ")
    assert re.search(r"^Généré le \d{1,2} [a-zéû]+\.? \d{4}, \d\d:\d\d ", french, re.MULTILINE)
    for sentence in (
        "- **Responsable** : ",
        "- **Caractéristique biométrique** : visage : gabarits ArcFace de 512 dimensions,"
        " protégés par une rotation secrète et chiffrés; aucune image conservée\n",
        "- **Données biométriques vendues, louées ou échangées** : jamais\n",
        "## Catégories de personnes\n- adultes ayant donné un consentement exprès\n",
        "- chiffrement AES-256-GCM des gabarits sous une clé propre à chaque personne,"
        " enveloppée par une clé maîtresse\n",
        "## Mesures de sécurité\n",
        "- **EU** : vers le pays CA (Québec), hors de l'EEE; garanties : aucune indiquée\n",
        "MODE DÉMONSTRATION : les paramètres de responsabilité peuvent être provisoires",
        "## Paramètres qui bornent un engagement\n- `OPTINFACE_KEY_EPOCH_HOURS` = 24 : heures"
        " pendant lesquelles une copie faite avant un effacement",
    ):
        assert sentence in french, sentence
    [purpose] = [line for line in french.splitlines() if "; conservation 365 jours" in line]
    assert "inscription, " in purpose and "vérification" in purpose, purpose
    # The declared figures keep every digit, with a French decimal comma.
    threshold = repr(data["accuracy"]["threshold"]).replace(".", ",")
    assert f"seuil {threshold} (un score égal ou supérieur fait un candidat)" in french
    english_prose = [data["biometric_characteristic"], data["disclosure_rule"],
                     *data["categories_of_persons"], *data["categories_of_data"],
                     *data["security_measures"], *data["retention_rules"], *data["warnings"],
                     *(bound["bounds"] for bound in data["promise_bounds"])]
    assert not _left_over(french, [*ENGLISH_LEFT, *english_prose])


def test_the_record_of_processing_is_french_down_to_its_grounds_of_disclosure(
    world: World
) -> None:
    """GDPR art. 30(1) in French: each point's title and statement, and a disclosure's ground
    in words, not its code; the JSON keeps the English titles and the code."""
    world.disclose_to_the_police()
    french = _french(world, ROPA)
    english = world.client.get(ROPA, headers=auth(world.keys.reviewer)).json()
    assert french.startswith("# Registre des activités de traitement (RGPD, art. 30(1))\n")
    for sentence in (
        "## Art. 30(1)(a) : Responsable du traitement, responsable conjoint, représentant et"
        " délégué à la protection des données\n",
        "- responsable conjoint du traitement (art. 26) : aucun\n",
        "- Sûreté du Québec (CA) : communication 1 fois, pour le motif : une exigence de la loi",
        "## Art. 30(1)(f) : Délais prévus pour l'effacement\n",
        "- point de fonctionnement (exactitude) : un candidat ne compte qu'une fois confirmé par"
        " 2 contrôleurs des correspondances différents",
    ):
        assert sentence in french, sentence
    titles = [entry["title"] for entry in english["entries"]]
    assert titles[0] == "Controller, joint controller, representative and data protection officer"
    items = [markdown_text(item) for entry in english["entries"] for item in entry["items"]]
    assert not _left_over(french, ["Record of processing", "Generated", "Warning", *titles,
                                   *(item for item in items if "Study A" not in item)])


def test_the_reviewers_downloads_speak_the_pages_language(world: World) -> None:
    """``/review/download/register.md`` and ``ropa.md`` are in the language the reviewer chose
    on the pages (the switch's cookie); their JSON stays the interface it is, keys and English
    texts."""
    page_login(world.client, "review", world.keys.reviewer)
    world.client.get("/review", params={"lang": "fr"})  # the switch: remembered in a cookie
    for name, heading in (("register.md", "# Registre de la banque de caractéristiques"),
                          ("ropa.md", "# Registre des activités de traitement")):
        download = world.client.get(f"/review/download/{name}")
        assert download.headers["content-disposition"] == f'attachment; filename="{name}"'
        assert download.text.startswith(heading), download.text[:80]
    ropa = world.client.get("/review/download/ropa.json").json()
    assert ropa["entries"][0]["title"].startswith("Controller, joint controller")
    world.client.get("/review", params={"lang": "en"})
    assert world.client.get("/review/download/register.md").text.startswith(
        "# Register of the biometric database\n")
    world.client.cookies.clear()


def test_english_and_the_json_are_unchanged_by_the_french(world: World) -> None:
    """The English Markdown is the one it always was (times in ISO 8601, the core's labels);
    the JSON of either document is the same whatever language is asked, keys included."""
    english = _markdown(world, REGISTER)
    assert _timeless(english) == _timeless(
        _markdown(world, REGISTER, lang="en", headers=FRENCH_BROWSER))
    assert re.match(r"# Register of the biometric database\nGenerated \d{4}-\d\d-\d\dT", english)
    assert "- **Subjects**: " in english and "## Security measures\n" in english
    assert "Registre" not in english and "gabarit" not in english
    assert _markdown(world, ROPA, lang="en").startswith(
        "# Record of processing activities (GDPR art. 30(1))\nGenerated ")
    reviewer = auth(world.keys.reviewer)
    for path in (REGISTER, ROPA):
        plain = world.client.get(path, headers=reviewer).json()
        asked = world.client.get(path, params={"lang": "fr"},
                                 headers={**reviewer, **FRENCH_BROWSER}).json()
        for each in (plain, asked):  # one reading each, signed at its own time
            each.pop("generated_at"), each.pop("signature")
        assert asked == plain, path


def test_the_declared_hash_is_the_same_in_every_language(world: World) -> None:
    """What the declaration hashed is the register's material (canonical JSON of its English
    source fields), never a rendering: the French and English documents name the same SHA-256,
    the one the declaration recorded, and rendering either changes nothing in service."""
    reviewer = auth(world.keys.reviewer)
    before = world.client.get(REGISTER, headers=reviewer).json()
    material = before["material_sha256"]
    assert before["in_service"] and before["declaration"]["material_sha256"] == material
    french, english = _french(world, REGISTER), _markdown(world, REGISTER, lang="en")
    assert f"sha256 actuel des éléments déclarés {material})" in french
    assert f"sha256 des éléments déclarés {material})" in french
    assert f"material sha256 now {material})" in english
    assert f"- **SHA-256 des éléments déclarés du registre** : {material}\n" in _french(
        world, ROPA)
    after = world.client.get(REGISTER, headers=reviewer).json()
    assert (after["material_sha256"], after["in_service"]) == (material, True)


def test_a_quebec_deployment_writes_its_documents_in_french_by_default(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPTINFACE_DEFAULT_LANGUAGE=fr: a reader whose browser names neither language gets the
    register and the record in French; ``lang=en`` still gives English."""
    settings = world.client.app.state.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "default_language", Language.FR)
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    assert _markdown(world, REGISTER, headers=german).startswith("# Registre de la banque")
    assert _markdown(world, ROPA, headers=german).startswith("# Registre des activités")
    assert _markdown(world, REGISTER, lang="en", headers=german).startswith(
        "# Register of the biometric database")


def test_the_access_export_takes_the_readers_choice_of_language(world: World) -> None:
    """The person's export in Markdown and HTML chooses its language as the pages do: ``lang``
    first, then the browser; its JSON is the same in both."""
    url = f"/v1/subjects/{world.subject}/export"
    token = auth(world.subject_token)
    chosen = world.client.get(url, params={"format": "md", "lang": "fr"}, headers=token).text
    assert chosen.startswith("# Données détenues à votre sujet"), chosen[:80]
    html = world.client.get(url, params={"format": "html", "lang": "fr"}, headers=token).text
    assert "<html lang='fr'>" in html and "Vos droits et comment les exercer" in html
    english = world.client.get(url, params={"format": "md", "lang": "en"},
                               headers={**token, **FRENCH_BROWSER}).text
    assert english.startswith("# Data held about"), english[:80]

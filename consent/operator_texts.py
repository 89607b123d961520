"""The operator's own texts that consent forms show, and their translations into French.

Québec's Law 25 asks for consent in clear terms the person understands, and the Charter of the
French language for French to a French-speaking person. The pages' own words have their French
(``api.web.french``); what the operator typed in English does not: a purpose's name,
description and legal basis (ledger rows), the recipients, the transfer safeguards, an
access-log hold, the person in charge's title and the non-biometric alternative (settings).
:func:`places` lists them, each English text with where it shows.

Every page that shows one to a reader goes through :class:`Shown` (:func:`shown`): the consent
form, ``/privacy``, "My data" and the probe-consent page alike. A text is shown in its
translation into the reader's language, else in English, noted as shown in English only, which
the page marks in the reader's words: never silently English.

A translation is kept per language and per English text, keyed by the text's SHA-256
(``operator_texts``, migration 0032), whether the text comes from a row or from the settings:

* one mechanism for both, and a legal basis repeated over purposes is translated once;
* a translation follows its English: once an English text changes (a recipient renamed in the
  settings), its old French is no longer used, and the text is listed as untranslated again,
  never shown in French as if it still said the same;
* no column per field and language: another language is rows, not a migration.

The person in charge's title and the non-biometric alternative have had their French in the
settings since before this table (``OPTINFACE_PRIVACY_OFFICER_TITLE_FR``,
``OPTINFACE_NON_BIOMETRIC_ALTERNATIVE_FR``): these still give it (:func:`given_in_settings`), as a
translation that a row set for the same English replaces (a row is chained and dated, and an
admin who sets one sees it shown). A demonstration's placeholder is the product's own text, so
it reads in the pages' French (the ``Say`` given) and is listed nowhere as the operator's.

Translations in use are part of the register's declared material
(:func:`consent.declaration.material_fields`), as their English is: what French readers are told
of the purposes is declared and assessed like what English readers are told, so a translation
written into the database from outside, or set after the declaration, refuses matching until
the register is declared again (``redeclaration_required``). Each write is chained
(``operator_text_translated``) with the SHA-256 of the English and of the French.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.errors import InvalidRequest, NotFound
from optinface.consent.identifiers import NAME_PATTERN, WORDS_PATTERN
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import OperatorTextPublic, TranslationLanguage
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import OperatorText, Purpose
from optinface.consent.wording import Say

SOURCE_LANGUAGE = "en"
"""The language the operator's texts are typed in: an English form shows them as they are."""
MAX_TRANSLATION_LENGTH = 5_000  # a purpose's description's own limit
PURPOSE_FIELDS = ("name", "description", "legal_basis")
"""What the consent form shows of a purpose (its study and operations are not prose)."""
RECIPIENT_FIELDS = ("name", "purpose", "legal_basis")
GIVEN_IN_FRENCH = {"privacy_officer_title": "privacy_officer_title_fr",
                   "non_biometric_alternative": "non_biometric_alternative_fr"}
"""The accountability texts the pages show, each with the setting that may give its French."""
_ONE_LINE = re.compile(NAME_PATTERN)
_WORDS = re.compile(WORDS_PATTERN)


def source_sha256(text: str) -> str:
    """The key of an English text: its SHA-256 (UTF-8), what the API and the CLI name it by."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def purpose_texts(purpose: Purpose) -> dict[str, Any]:
    """A purpose's fields :func:`places` reads (the register's purpose material has them too)."""
    return {"id": purpose.id, **{name: getattr(purpose, name) for name in PURPOSE_FIELDS}}


def places(purposes: Iterable[Mapping[str, Any]], settings: ConsentSettings, *,
           declared: bool = False) -> dict[str, list[str]]:
    """Every English text the operator typed that the pages show, with where it shows
    (``purpose pur_x name``, ``recipient 1 purpose``, ``transfer_safeguards``,
    ``access_log_hold``, ``privacy_officer_title``, ``non_biometric_alternative``), in the order
    of the consent form; ``declared``: only those the register's material holds (the access
    log's hold is in the retention policy, which a declaration does not cover, so that changing
    it needs none; the accountability record is not in the material either)."""
    found: dict[str, list[str]] = {}

    def add(text: str | None, place: str) -> None:
        if text:
            found.setdefault(text, []).append(place)

    for purpose in purposes:
        for name in PURPOSE_FIELDS:
            add(purpose[name], f"purpose {purpose['id']} {name}")
    for number, recipient in enumerate(settings.recipients, start=1):
        for name in RECIPIENT_FIELDS:
            add(getattr(recipient, name), f"recipient {number} {name}")
    add(settings.transfer_safeguards, "transfer_safeguards")
    if not declared:
        add(settings.access_log_hold, "access_log_hold")
        # Not in the register's material, as their English is not: no declaration for them.
        for name in GIVEN_IN_FRENCH:
            if getattr(settings, name) != _placeholder(name):
                add(getattr(settings, name), name)
    return found


def _placeholder(name: str) -> str:
    """A setting's default: for these, a demonstration's placeholder in the product's words."""
    return str(ConsentSettings.model_fields[name].default)


def given_in_settings(settings: ConsentSettings) -> dict[str, str]:
    """English text -> the French the settings give it (``*_FR``; see the module docstring)."""
    pairs = ((getattr(settings, name), getattr(settings, french))
             for name, french in GIVEN_IN_FRENCH.items())
    return {english: french for english, french in pairs if french}


def in_use(session: Session, settings: ConsentSettings) -> dict[str, list[str]]:
    """:func:`places` for the purposes of the ledger (oldest first) and these settings."""
    rows = session.scalars(select(Purpose).order_by(Purpose.created_at))
    return places((purpose_texts(p) for p in rows), settings)


def all_translations(session: Session) -> dict[str, dict[str, str]]:
    """Every translation kept: language -> English text -> translation."""
    kept: dict[str, dict[str, str]] = {}
    for row in session.scalars(select(OperatorText)):
        kept.setdefault(row.language, {})[row.source] = row.text
    return kept


def _primary(language: str) -> str:
    return language.split("-")[0].lower()


def read_in_english(language: str) -> bool:
    """Whether a reader of ``language`` (a BCP 47 tag) is shown the operator's texts as typed."""
    return _primary(language) == SOURCE_LANGUAGE


def _kept(session: Session, language: str) -> list[OperatorText]:
    """The table's translations into ``language`` (a primary subtag)."""
    return list(session.scalars(select(OperatorText).where(OperatorText.language == language)))


def _translated(settings: ConsentSettings, language: str,
                kept: Iterable[OperatorText]) -> dict[str, str]:
    """English text -> translation: ``kept`` rows of ``language``, else the settings' French."""
    given = given_in_settings(settings) if language == TranslationLanguage.FR else {}
    return {**given, **{row.source: row.text for row in kept}}


def translations(session: Session, settings: ConsentSettings, language: str) -> dict[str, str]:
    """English text -> its translation into ``language`` (its primary subtag: ``fr-CA`` reads
    ``fr``): the table's, else the settings' French (:func:`given_in_settings`); none for
    English, the texts' own language."""
    primary = _primary(language)
    return _translated(settings, primary, _kept(session, primary))


class Shown:
    """The operator's texts as a reader of one language is shown them: each in its
    translation, else in English, noted (:meth:`in_english`, :attr:`english_only`) so that the
    page marks it, never as if it were translated."""

    def __init__(self, translated: Mapping[str, str] | None) -> None:
        """``translated``: English text -> its translation; None for a reader of English."""
        self._translated = translated
        self.english_only: dict[str, None] = {}  # in the order first shown

    def in_english(self, text: str) -> bool:
        """Whether ``text`` is shown in English for want of a translation."""
        return self._translated is not None and text not in self._translated

    def marked(self, text: str, marker: str) -> str:
        """``text`` as shown, followed by ``marker`` (the page's "(in English only)" in the
        reader's words) when in English: plain text, for a label or an export's line."""
        return f"{self(text)} {marker}" if self.in_english(text) else self(text)

    def __call__(self, text: str) -> str:
        if self._translated is None:
            return text
        if self.in_english(text):
            self.english_only[text] = None
            return text
        return self._translated[text]


def shown(session: Session, settings: ConsentSettings, say: Say) -> Shown:
    """The operator's texts for ``say``'s reader: the translations kept (:func:`translations`)
    and, for a demonstration's placeholders, the pages' own words."""
    if read_in_english(say.language):
        return Shown(None)
    pages = {text: say(text) for text in map(_placeholder, GIVEN_IN_FRENCH)}
    return Shown({**{text: said for text, said in pages.items() if said != text},
                  **translations(session, settings, say.language)})


def shown_in(session: Session, settings: ConsentSettings, language: str) -> Shown:
    """The operator's own texts (a purpose's, a recipient's) for a reader of ``language``, with
    no ``Say`` at hand: none of them is a placeholder of the pages' words, so they read as
    :func:`shown` shows them (what a consent checks its signed wording against)."""
    if read_in_english(language):
        return Shown(None)
    return Shown(translations(session, settings, language))


def material(sources: Iterable[str],
             kept: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """The translations of the texts in use (``sources``), per language, as the register's
    material states them; empty when none is (a deployment that never translated keeps the hash
    it declared)."""
    wanted = set(sources)
    stated = {language: {source: text for source, text in texts.items() if source in wanted}
              for language, texts in kept.items()}
    return {language: texts for language, texts in stated.items() if texts}


def listing(session: Session, settings: ConsentSettings,
            language: TranslationLanguage) -> list[OperatorTextPublic]:
    """Every text in use with its translation into ``language`` (null: none yet; one the
    settings give has no ``updated_at``)."""
    kept = _kept(session, language)
    rows = {row.source_sha256: row for row in kept}
    known = _translated(settings, language, kept)
    listed = []
    for source, where in in_use(session, settings).items():
        key = source_sha256(source)
        row = rows.get(key)
        listed.append(OperatorTextPublic(
            source_sha256=key, source=source, places=where, language=language,
            text=known.get(source), updated_at=row.updated_at if row is not None else None))
    return listed


def require_translation(source: str, text: str) -> None:
    """Refuse (``invalid_request``, ``details.field`` ``text``) a translation that says
    nothing, is too long, holds a control character, or spans lines where its English is one
    line (a name or a legal basis); the API's schema refuses most of these first, the command
    line comes here."""
    problem = None
    if not 0 < len(text) <= MAX_TRANSLATION_LENGTH or _WORDS.fullmatch(text) is None:
        problem = (f"a translation is text of 1 to {MAX_TRANSLATION_LENGTH} characters that says"
                   " something, without control characters")
    elif _ONE_LINE.fullmatch(source) and not _ONE_LINE.fullmatch(text):
        problem = "the English is one line, so is its translation"
    if problem is not None:
        raise InvalidRequest(problem, details={"field": "text"})


def translate(runtime: Runtime, *, actor: Actor, language: TranslationLanguage, key: str,
              text: str, now: datetime) -> OperatorTextPublic:
    """Set (or replace) the translation of the text in use whose SHA-256 is ``key``, chained
    with the SHA-256 of the English, of the new text and of the one it replaces.

    Raises:
        NotFound: no text in use has that SHA-256 (a text no consent form shows needs none).
        InvalidRequest: the translation is not one (:func:`require_translation`).
    """
    with runtime.db.transaction() as session:
        where = {source_sha256(source): (source, places_)
                 for source, places_ in in_use(session, runtime.settings).items()}
        if key not in where:
            raise NotFound(f"no text a consent form shows has SHA-256 {key}",
                           details={"source_sha256": key})
        source, shown_at = where[key]
        require_translation(source, text)
        row = session.get(OperatorText, (str(language), key))
        replaced = None if row is None else source_sha256(row.text)
        if row is None:
            row = OperatorText(language=str(language), source_sha256=key, source=source,
                               text=text, updated_at=now)
            session.add(row)
        else:
            row.source, row.text, row.updated_at = source, text, now
        runtime.audit(session, Entry(
            action=AuditAction.OPERATOR_TEXT_TRANSLATED, actor=actor,
            details={"language": str(language), "source_sha256": key,
                     "text_sha256": source_sha256(text), "replaced_sha256": replaced}))
        return OperatorTextPublic(source_sha256=key, source=source, places=shown_at,
                                  language=language, text=text, updated_at=now)

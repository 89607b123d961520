"""The operator's own texts that consent forms show, and their translations into French.

Québec's Law 25 asks for consent in clear terms the person understands, and the Charter of the
French language for French to a French-speaking person. The pages' own words have their French
(``api.web.french``); what the operator typed in English does not: a purpose's name,
description and legal basis (ledger rows), the recipients, the transfer safeguards and an
access-log hold (settings). :func:`places` lists them, each English text with where a consent
form shows it.

A translation is kept per language and per English text, keyed by the text's SHA-256
(``operator_texts``, migration 0032), whether the text comes from a row or from the settings:

* one mechanism for both, and a legal basis repeated over purposes is translated once;
* a translation follows its English: once an English text changes (a recipient renamed in the
  settings), its old French is no longer used, and the text is listed as untranslated again,
  never shown in French as if it still said the same;
* no column per field and language: another language is rows, not a migration.

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

SOURCE_LANGUAGE = "en"
"""The language the operator's texts are typed in: an English form shows them as they are."""
MAX_TRANSLATION_LENGTH = 5_000  # a purpose's description's own limit
PURPOSE_FIELDS = ("name", "description", "legal_basis")
"""What the consent form shows of a purpose (its study and operations are not prose)."""
RECIPIENT_FIELDS = ("name", "purpose", "legal_basis")
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
    """Every English text the operator typed that a consent form shows, with where it shows
    (``purpose pur_x name``, ``recipient 1 purpose``, ``transfer_safeguards``,
    ``access_log_hold``), in the order of the form; ``declared``: only those the register's
    material holds (the access log's hold is in the retention policy, which a declaration does
    not cover, so that changing it needs none)."""
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
    return found


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


def translations(session: Session, language: str) -> dict[str, str]:
    """English text -> its translation into ``language`` (its primary subtag: ``fr-CA`` reads
    ``fr``); none for English, the texts' own language."""
    primary = language.split("-")[0].lower()
    return all_translations(session).get(primary, {})


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
    """Every text in use with its translation into ``language`` (null: none yet)."""
    rows = {row.source_sha256: row for row in session.scalars(
        select(OperatorText).where(OperatorText.language == language))}
    listed = []
    for source, where in in_use(session, settings).items():
        key = source_sha256(source)
        row = rows.get(key)
        listed.append(OperatorTextPublic(
            source_sha256=key, source=source, places=where, language=language,
            text=row.text if row is not None and row.source == source else None,
            updated_at=row.updated_at if row is not None else None))
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

"""The words a reader gets: a page's (the reader's language and the deployment's time zone) and
a document's the consent core writes (the register, the record of processing, the PIA
skeleton, an access export's).

Apart from the page renderer (:mod:`api.web.rendering`), so that the commands that write those
documents start without the web framework (``benchmarks/bench_cli_start.py``).
"""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from optinface.api.settings import ApiSettings
from optinface.api.web.i18n import Language, Words
from optinface.consent.schemas import TranslationLanguage
from optinface.consent.service import OptinFace
from optinface.consent.wording import Say, english


def words_in(language: Language | None, settings: ApiSettings) -> Words:
    """Words in ``language`` (none named: the deployment's default language) with the
    deployment's time zone. The operator's texts are not among them: a page shows those through
    :class:`consent.operator_texts.Shown`, which also marks those left in English, and a
    document the core writes gets their translations from :func:`document_words`."""
    return Words(language=language or settings.default_language,
                 zone=ZoneInfo(settings.timezone))


def document_words(words: Words, service: OptinFace) -> Say:
    """The words a document the consent core writes (the register, the record of processing,
    the PIA skeleton) is rendered with: the reader's French, as the pages write it (its
    typography, numbers, local times and days), with the operator's texts in the French the
    deployment keeps for them (``optinface texts set``, else the ``*_FR`` settings: the same
    translations the pages show); for an English reader, the core's own English, so the
    English documents stay as they were (times in ISO 8601, figures as Python writes them) for
    the people and scripts that read them."""
    if words.language is not Language.FR:
        return english
    return replace(words, own=service.translations(TranslationLanguage.FR))

"""``optinface texts`` (list, set): the French of the operator's texts that the pages show.

A purpose's name, description and legal basis, the recipients, the transfer safeguards, an
access-log hold, the person in charge's title and the non-biometric alternative are typed in
English; a French reader's pages (the consent form, ``/privacy``, "My data", the probe page)
show their French when the operator gave one (for the title and the alternative, also
``OPTINFACE_*_FR``, which one set here replaces), else the English marked as such
(:mod:`consent.operator_texts`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from optinface.api.cli.common import ApiKey, DataDir, echo_json, opened, operator
from optinface.consent.schemas import TranslationLanguage

app = typer.Typer(
    help="The French of the operator's texts that consent forms show: list lists them with"
         " their translations, set sets one (an admin key).\n\n"
         "Example: optinface texts list --missing",
    no_args_is_help=True)

Language = Annotated[TranslationLanguage, typer.Option(
    "--language", help="The language of the translation.")]


@app.command("list")
def list_texts(
    missing: Annotated[bool, typer.Option(
        "--missing", help="Only the texts with no translation yet.")] = False,
    language: Language = TranslationLanguage.FR,
    data_dir: DataDir = None,
) -> None:
    """Print, as JSON, every English text consent forms show, where each shows, its SHA-256
    (what `texts set` names it by) and its translation (null: French readers see the English,
    marked as such).

    Example: optinface texts list --missing
    """
    with opened(data_dir) as (_, service):
        listed = service.operator_texts(language=language, missing=missing)
    echo_json(listed)


@app.command("set")
def set_text(
    source_sha256: Annotated[str, typer.Argument(
        help="The English text's SHA-256, as `texts list` prints it.", show_default=False)],
    text: Annotated[str, typer.Option(
        "--text", help="The translation; one line where the English is one line.",
        show_default=False)],
    api_key: ApiKey,
    language: Language = TranslationLanguage.FR,
    data_dir: DataDir = None,
) -> None:
    """Set or replace the translation of one text, chained in the audit log. The translations
    are part of the register's declared material: set them before declaring, or declare again.
    Refused: a SHA-256 no text in use has (not_found), a translation that says nothing, holds a
    control character, or spans lines where the English is one line (invalid_request).

    Example: optinface texts set 3f5a...e1 --text "Réidentification de volontaires consentants"
    --api-key $ADMIN_KEY
    """
    with opened(data_dir) as (_, service):
        made = service.translate_operator_text(
            actor=operator(service, api_key), language=language, source_sha256=source_sha256,
            text=text)
    echo_json(made)

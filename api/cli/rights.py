"""``optinface sweep``, ``optinface export SUBJECT``, ``optinface erase SUBJECT``."""

from __future__ import annotations

from typing import Annotated

import typer

from optinface.api.cli.common import ApiKey, DataDir, Lang, echo_json, opened, operator
from optinface.api.web import export as my_data
from optinface.api.web.reader_words import words_in
from optinface.consent.schemas import ErasureReason, ExportFormat

Subject = Annotated[str, typer.Argument(help="The subject's pseudonym (subj_...).")]


def add_commands(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
    app.command("export")(export)
    app.command("erase")(erase)


def sweep(data_dir: DataDir = None) -> None:
    """Erase everyone past a retention limit now (the server also sweeps periodically).

    Example: optinface sweep --data-dir /srv/optinface
    """
    with opened(data_dir) as (_, service):
        report = service.sweep()
    typer.echo(f"{report.consents_expired} consents expired, {report.templates_destroyed}"
               f" templates of expired consents destroyed, {len(report.erasures)} erased")
    for receipt in report.erasures:
        typer.echo(f"  erased {receipt.subject_hash[:16]}… ({receipt.reason})")
    if report.erasures_unfinished:
        typer.echo(f"  {report.erasures_unfinished} erasures left unfinished, the subjects kept"
                   " unsearchable: see the log (erasure_unfinished); the next sweep retries")


def export(
    subject: Subject,
    api_key: ApiKey,
    output_format: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.JSON,
    language: Lang = None,
    data_dir: DataDir = None,
) -> None:
    """Print everything held about a subject (the right of access).

    Example: optinface export subj_0123abcd --format md --lang fr --api-key $ADMIN_KEY
    """
    with opened(data_dir) as (settings, service):
        result = service.export(actor=operator(service, api_key), subject=subject)
        words = words_in(language, settings)
        typer.echo(my_data.render(result, output_format, words, service.shown_texts(words)))


def erase(subject: Subject, api_key: ApiKey, data_dir: DataDir = None) -> None:
    """Erase a subject at once and print the signed erasure receipt.

    Example: optinface erase subj_0123abcd --api-key $ADMIN_KEY > receipt.json
    """
    with opened(data_dir) as (_, service):
        receipt = service.erase(
            actor=operator(service, api_key), subject=subject, reason=ErasureReason.REQUEST
        )
    echo_json(receipt)

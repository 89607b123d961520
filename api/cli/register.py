"""``optinface register`` (show, ropa, pia, declare, suspend, lift): the declared biometric
database."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from optinface.api.cli.common import ApiKey, DataDir, Lang, opened, operator
from optinface.api.schemas import RegisterFormat
from optinface.api.web.rendering import document_words, words_in
from optinface.consent.register import render_pia_skeleton
from optinface.consent.ropa import render_ropa

app = typer.Typer()  # help comes from the callback docstring, with its example
Format = Annotated[RegisterFormat, typer.Option("--format", help="md (readable) or json.")]


@app.callback(invoke_without_command=True)
def show(
    ctx: typer.Context,
    output_format: Format = RegisterFormat.MD,
    language: Lang = None,
    data_dir: DataDir = None,
) -> None:
    """Print the register from live figures (LCCJTI art. 45, GDPR art. 30).

    The Markdown is in the language chosen (French for the Commission d'accès à
    l'information); the JSON, and the material SHA-256 both state, are the same in every
    language.

    Example: optinface register --format md --lang fr > declaration.md
    """
    if ctx.invoked_subcommand is not None:
        return
    with opened(data_dir) as (settings, service):
        current = service.register()
        text = (
            service.render_register(current, document_words(words_in(language, settings), service))
            if output_format is RegisterFormat.MD
            else current.model_dump_json(indent=2)
        )
    typer.echo(text)


@app.command("ropa")
def ropa(
    output_format: Format = RegisterFormat.MD,
    language: Lang = None,
    data_dir: DataDir = None,
) -> None:
    """Print the record of processing activities (GDPR art. 30(1)), generated from the live
    register: each entry names the point of art. 30(1) it answers, and the record names the
    register's material SHA-256 it describes. The Markdown is in the language chosen; the
    JSON is always English.

    Example: optinface register ropa --format md --lang fr > ropa.md
    """
    with opened(data_dir) as (settings, service):
        if output_format is RegisterFormat.MD:
            say = document_words(words_in(language, settings), service)
            text = render_ropa(service.ropa(say=say), say)
        else:
            text = service.ropa().model_dump_json(indent=2) + "\n"
    typer.echo(text, nl=False)


@app.command("pia")
def pia(language: Lang = None, data_dir: DataDir = None) -> None:
    """Print a privacy impact assessment to complete and sign, from the live register.

    It names the material hash it assesses: set it as OPTINFACE_PIA_MATERIAL_SHA256 once
    signed (outside demo mode, matching is refused while the register differs). The hash is
    the same whatever the language the assessment is printed in.

    Example: optinface register pia --lang fr > pia.md
    """
    with opened(data_dir) as (settings, service):
        say = document_words(words_in(language, settings), service)
        typer.echo(render_pia_skeleton(service.register(), say), nl=False)


@app.command("declare")
def declare(
    declared_on: Annotated[
        datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Date of the declaration.")
    ],
    reference: Annotated[str, typer.Option(
        "--reference",
        help="The regulator's file number: letters, digits, spaces, '.', '_' and '-'.")],
    api_key: ApiKey,
    data_dir: DataDir = None,
) -> None:
    """Record the declaration of the register as it stands (its material SHA-256).

    Matching opens OPTINFACE_DECLARATION_PERIOD_DAYS (60, or more) after --date, the day the
    regulator received it, and, outside demo mode, never sooner than that many days after this
    recording. It also waits for an assessment of the same register
    (OPTINFACE_PIA_MATERIAL_SHA256, see register pia); a later change of the register needs
    both again.

    Example: optinface register declare --date 2026-01-05 --reference CAI-2026-001
    --api-key $ADMIN_KEY
    """
    with opened(data_dir) as (_, service):
        service.declare(actor=operator(service, api_key), date=declared_on.date(),
                        reference=reference)
    typer.echo(f"declaration of {declared_on.date().isoformat()} recorded (reference {reference})")


@app.command("suspend")
def suspend(
    order: Annotated[str, typer.Option(
        "--order", help="The regulator's order reference, as declare's --reference.")],
    api_key: ApiKey,
    destroy: Annotated[
        bool, typer.Option("--destroy", help="Also destroy every template, with receipts.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Apply a regulator's order: enrolment and matching stop (LCCJTI art. 45). While an
    order under --order is in force, a repeat is refused (order_in_force) and records nothing.

    Example: optinface register suspend --order CAI-1037199 --destroy --api-key $ADMIN_KEY
    """
    with opened(data_dir) as (_, service):
        register = service.apply_regulator_order(actor=operator(service, api_key),
                                                 reference=order, destroy=destroy)
    [applied] = [o for o in register.orders if o.reference == order and o.lifted_at is None]
    typer.echo(f"order {order} applied ({applied.kind}): enrolment and matching suspended;"
               f" {applied.templates_destroyed} templates destroyed")


@app.command("lift")
def lift(
    order: Annotated[str, typer.Option("--order", help="The order the regulator lifted.")],
    api_key: ApiKey,
    data_dir: DataDir = None,
) -> None:
    """Record that the regulator lifted its order (refused when it is not in force).

    Example: optinface register lift --order CAI-1037199 --api-key $ADMIN_KEY
    """
    with opened(data_dir) as (_, service):
        service.lift_regulator_order(actor=operator(service, api_key), reference=order)
    typer.echo(f"order {order} lifted")

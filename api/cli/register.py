"""``optinface register`` and ``optinface register declare``: the declared biometric database."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer

from optinface.api.cli.common import ApiKey, DataDir, opened, operator
from optinface.api.schemas import RegisterFormat

app = typer.Typer()  # help comes from the callback docstring, with its example


@app.callback(invoke_without_command=True)
def show(
    ctx: typer.Context,
    output_format: Annotated[
        RegisterFormat, typer.Option("--format", help="md (readable) or json.")
    ] = RegisterFormat.MD,
    data_dir: DataDir = None,
) -> None:
    """Print the register from live figures (LCCJTI art. 45, GDPR art. 30).

    Example: optinface register --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    with opened(data_dir) as (_, service):
        current = service.register()
        text = (
            service.render_register(current)
            if output_format is RegisterFormat.MD
            else current.model_dump_json(indent=2)
        )
    typer.echo(text)


@app.command("declare")
def declare(
    declared_on: Annotated[
        datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Date of the declaration.")
    ],
    reference: Annotated[str, typer.Option("--reference", help="The regulator's file number.")],
    api_key: ApiKey,
    data_dir: DataDir = None,
) -> None:
    """Record the declaration to the regulator; matching is refused until one is recorded.

    Example: optinface register declare --date 2026-01-05 --reference CAI-2026-001
    """
    day: date = declared_on.date()
    with opened(data_dir) as (_, service):
        service.declare(actor=operator(service, api_key), date=day, reference=reference)
    typer.echo(f"declaration of {day.isoformat()} recorded (reference {reference})")

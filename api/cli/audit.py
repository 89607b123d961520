"""``optinface audit verify``: recompute the hash chain and its signed checkpoints."""

from __future__ import annotations

import typer

from optinface.api.cli.common import DataDir, opened

app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@app.command("verify")
def verify(data_dir: DataDir = None) -> None:
    """Exit 0 if the chain is intact, else 1 and the first bad sequence number.

    Example: optinface audit verify --data-dir /srv/optinface
    """
    with opened(data_dir) as (_, service):
        status = service.verify_audit()
    if status.ok:
        typer.echo(f"audit chain OK: {status.events} events, {status.checkpoints} checkpoints")
        return
    typer.echo(f"audit chain BROKEN at sequence {status.first_bad_sequence}", err=True)
    raise typer.Exit(code=1)

"""``optinface keys rotate-master`` and ``optinface protect rekey``: key rotation.

They refuse to run beside a server (``data_dir_in_use``): it would keep the old keys in memory.
"""

from __future__ import annotations

import dataclasses

import typer

from optinface.api.cli import keys
from optinface.api.cli.common import ApiKey, DataDir, echo_json, opened, operator
from optinface.api.settings import load_settings
from optinface.consent.errors import DataDirInUse
from optinface.consent.rotation import finish_interrupted_rotation

protect = typer.Typer(help="The template protection key.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    keys.app.command("rotate-master")(rotate_master_command)
    protect.command("rekey")(rekey_command)
    app.add_typer(protect, name="protect")


def _finish_interrupted(data_dir: DataDir) -> None:
    try:
        recovered = finish_interrupted_rotation(load_settings(data_dir=data_dir))
    except DataDirInUse as error:
        typer.echo(f"refused: {error.code}: {error.message}", err=True)
        raise typer.Exit(code=1) from error
    for line in recovered:
        typer.echo(f"recovered: {line}", err=True)


def rotate_master_command(api_key: ApiKey, data_dir: DataDir = None) -> None:
    """Generate a new master key and re-wrap every subject key under it (server stopped).

    Example: optinface keys rotate-master --api-key $ADMIN_KEY --data-dir /srv/optinface
    """
    _finish_interrupted(data_dir)
    with opened(data_dir) as (_, service):
        report = service.rotate_master_key(actor=operator(service, api_key))
    echo_json(dataclasses.asdict(report))


def rekey_command(api_key: ApiKey, data_dir: DataDir = None) -> None:
    """Generate a new protection key, re-protect every template and rebuild the index.

    Example: optinface protect rekey --api-key $ADMIN_KEY --data-dir /srv/optinface
    """
    _finish_interrupted(data_dir)
    with opened(data_dir) as (_, service):
        report = service.rekey_templates(actor=operator(service, api_key))
    echo_json(dataclasses.asdict(report))

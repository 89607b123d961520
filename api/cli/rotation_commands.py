"""``optinface keys rotate-epoch``, ``optinface keys epochs`` and ``optinface protect rekey``.

They refuse to run beside a server (``data_dir_in_use``): it would keep the old keys in memory.
A running server rotates the epoch itself every ``OPTINFACE_KEY_EPOCH_HOURS``.
"""

from __future__ import annotations

import typer

from optinface.api.cli import keys
from optinface.api.cli.common import ApiKey, DataDir, echo_json, opened, operator

protect = typer.Typer(
    help="The template protection key: rekey replaces it, every template re-protected (every"
         " server stopped).\n\nExample: optinface protect rekey --api-key $ADMIN_KEY",
    no_args_is_help=True)


def add_commands(app: typer.Typer) -> None:
    keys.app.command("rotate-epoch")(rotate_epoch_command)
    keys.app.command("epochs")(epochs_command)
    protect.command("rekey")(rekey_command)
    app.add_typer(protect, name="protect")


def rotate_epoch_command(api_key: ApiKey, data_dir: DataDir = None) -> None:
    """Re-wrap every subject key under a new epoch key and destroy the older ones.

    Backups made before an erasure can then no longer decrypt the erased subject. On SQLite,
    with the server stopped; on PostgreSQL, beside the running workers, from a data directory
    of its own.

    Example: optinface keys rotate-epoch --api-key $ADMIN_KEY --data-dir /srv/optinface
    """
    with opened(data_dir) as (_, service):
        report = service.rotate_epoch(actor=operator(service, api_key))
    echo_json(report)


def epochs_command(api_key: ApiKey, data_dir: DataDir = None) -> None:
    """List the key epochs: when each was created and destroyed.

    An erasure receipt's copiesUndecryptableAt names the destruction of its keyEpoch.

    Example: optinface keys epochs --api-key $ADMIN_KEY
    """
    with opened(data_dir) as (_, service):
        echo_json(service.key_epochs(actor=operator(service, api_key)))


def rekey_command(api_key: ApiKey, data_dir: DataDir = None) -> None:
    """Generate a new protection key, re-protect every template and rebuild the index.

    Example: optinface protect rekey --api-key $ADMIN_KEY --data-dir /srv/optinface
    """
    with opened(data_dir) as (_, service):
        report = service.rekey_templates(actor=operator(service, api_key))
    echo_json(report)

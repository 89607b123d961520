"""``optinface backup DEST`` and ``optinface restore SRC``: ledger copies without keys."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from optinface.api.cli.common import DataDir, echo_json, opened, refused, refusing
from optinface.api.error_codes import CliErrorCode
from optinface.api.settings import load_settings
from optinface.consent.backup import backup, restore
from optinface.engine.errors import UnreadableFile


def add_commands(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)


def backup_command(
    destination: Annotated[Path, typer.Argument(help="A new or empty folder.")],
    data_dir: DataDir = None,
) -> None:
    """Copy the ledger consistently, even while the server runs; no key is copied.

    Example: optinface backup /mnt/backups/optinface-2027-03-01
    """
    settings = load_settings(data_dir=data_dir)
    try:
        with refusing():
            report = backup(settings, destination, now=datetime.now(UTC))
    except OSError as error:  # the destination cannot be made or written
        raise refused(CliErrorCode.UNWRITABLE_FILE,
                      f"cannot write the backup in {destination}: {error.strerror}") from error
    echo_json({"destination": report.destination, "bytes": report.bytes,
               "sha256": report.sha256, "createdAt": report.created_at})


def restore_command(
    source: Annotated[Path, typer.Argument(help="A folder written by optinface backup.")],
    data_dir: DataDir = None,
) -> None:
    """Replace the ledger by a backup (server stopped) and replay what happened since.

    Voids what the backup holds single-use and unused (probe consents, one-time links,
    challenges, approved captures), then starts once to replay what the erasure journal
    recorded since the backup (erasures, withdrawals, templates destroyed, revocations,
    opt-outs, choices of the alternative, break-glass openings, admin passkeys) and rebuild the
    index.

    Example: optinface restore /mnt/backups/optinface-2027-03-01
    """
    if not source.is_dir():  # a folder to read, as a verifier's file: not an invalid backup
        raise refused(UnreadableFile.code, f"{source}: cannot be read"
                      f" ({'not a folder' if source.exists() else 'no such folder'})")
    with refusing():
        voided = restore(load_settings(data_dir=data_dir), source, now=datetime.now(UTC))
    with opened(data_dir) as (_, service):
        report = service.last_reconcile
    echo_json({**({} if report is None else report.model_dump()), **voided})

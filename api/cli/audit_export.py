"""``optinface audit export``: the log's export written to a file on the machine, for an
operator with the server stopped (on SQLite), as ``GET /v1/audit/export`` gives it to a key.

One path with the API: the options are validated by the route's own filters
(:func:`api.routes.audit.audit_filter`), the events read and chained by
:func:`api.auditfiles.exported` and written by the same builders, so ``audit verify-export``
accepts the JSON. The export is an access to personal data like the API's: chained as one
``audit_read`` naming the command as its view, with no key, the operator's own read where the
data directory and the key store are (as the reseals and break-glass are their own acts).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError, validate_call

from optinface.api.auditfiles import audit_csv, audit_json, exported
from optinface.api.cli.common import (
    DataDir,
    echo_json,
    opened,
    refused,
    refusing,
    require_writable,
)
from optinface.api.error_codes import ApiErrorCode, CliErrorCode, validation_errors
from optinface.api.schemas import AuditExportFormat
from optinface.consent.schemas import AuditFilter
from optinface.engine.files import write_private_atomic

VIEW = "optinface audit export"
"""The view its ``audit_read`` event names, where the API's names its route."""


@functools.cache
def _validated_filter() -> Callable[..., AuditFilter]:
    """The route's filters, validating text as FastAPI validates a query. Imported when the
    command runs: the API's routes are not needed by every CLI start (see serve._listen)."""
    from optinface.api.routes.audit import audit_filter

    return validate_call(audit_filter)


def add_commands(app: typer.Typer) -> None:
    app.command("export")(export)


def _option(field: str) -> str:
    return "--" + field.replace("_", "-")


def filters_given(**given: str | None) -> AuditFilter:
    """The log's filters from the options given, checked as the API checks its query (an
    instant with its offset, an action of the log, identifiers, a range not backwards).

    Raises:
        typer.Exit: an option the API would refuse, one line with its code
            (``validation_error``, or ``invalid_request`` for a range backwards).
    """
    try:
        with refusing():
            return _validated_filter()(**{name: value for name, value in given.items()
                                        if value is not None})
    except ValidationError as error:
        problems = "; ".join(f"{_option(problem['loc'][-1])}: {problem['msg']}"
                             for problem in validation_errors(error))
        raise refused(ApiErrorCode.VALIDATION_ERROR, problems) from error


def _text(flag: str, help_text: str) -> Any:
    """A text option, checked by the API's filters rather than by typer, so that a bad value
    is refused with the API's code in one line, not as a usage error."""
    return typer.Option(flag, help=help_text, show_default=False)


Out = Annotated[Path, typer.Option(
    "--out", help="The file to write (0600); an existing one is refused unless --force.")]
Format = Annotated[AuditExportFormat, typer.Option(
    "--format", help="json (what audit verify-export checks) or csv (for reading).")]
Action = Annotated[str | None, _text("--action", "Only events of this action (erase,"
                                                 " audit_read...).")]
Subject = Annotated[str | None, _text("--subject", "Only events naming this pseudonym.")]
ActorKeyId = Annotated[str | None, _text("--actor-key-id", "Only events of this key id.")]
Purpose = Annotated[str | None, _text("--purpose", "Only events of this purpose.")]
Outcome = Annotated[str | None, _text("--outcome", "Only events with this outcome (ok, an"
                                                   " error's code).")]
Since = Annotated[str | None, _text("--since", "ISO time with its offset, inclusive.")]
Until = Annotated[str | None, _text("--until", "ISO time with its offset, exclusive.")]
Force = Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")]


def export(out: Out, export_format: Format = AuditExportFormat.JSON, action: Action = None,
           subject: Subject = None, actor_key_id: ActorKeyId = None, purpose: Purpose = None,
           outcome: Outcome = None, since: Since = None, until: Until = None,
           force: Force = False, data_dir: DataDir = None) -> None:
    """Write the audit log's export to --out, as GET /v1/audit/export gives it, chained.

    The JSON is the API's, keyed seals included (never the key): optinface audit verify-export
    checks it (with --filtered if a filter was given). The filters are the API's, checked as it
    checks them. The export is chained as one audit_read naming this command, with no key: the
    operator's own read where the data directory and the key store are (on SQLite with the
    server stopped). Nothing is read or chained when an option or --out is refused.

    Example: optinface audit export --out audit.json --since 2027-03-01T00:00Z
    """
    filters = filters_given(action=action, subject=subject, actor_key_id=actor_key_id,
                            purpose=purpose, outcome=outcome, since=since, until=until)
    require_writable(out, force=force)
    with opened(data_dir) as (_, service):
        events, note = exported(service, None, filters, view=VIEW,
                                signed=export_format is AuditExportFormat.JSON)
    text = audit_csv(events) if export_format is AuditExportFormat.CSV else audit_json(events, note)
    try:
        write_private_atomic(out, text.encode())
    except OSError as error:
        raise refused(CliErrorCode.UNWRITABLE_FILE,
                      f"cannot write {out}: {error.strerror} (the read is chained)") from error
    echo_json({"file": str(out), "format": str(export_format), "events": len(events)})

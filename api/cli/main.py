"""The ``optinface`` console script: assembles the command groups."""

from __future__ import annotations

import logging
import sys

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from optinface.api.cli import (
    audit,
    audit_export,
    backup_commands,
    drivers,
    engine_commands,
    keys,
    receipts,
    register,
    rights,
    rotation_commands,
    serve,
    texts,
)
from optinface.api.cli.common import refused, require_utf8
from optinface.api.cli.output import whole_output
from optinface.api.error_codes import ApiErrorCode, CliErrorCode
from optinface.api.settings import SettingsRefused, settings_problems
from optinface.api.tls import TlsFileRefused
from optinface.consent.db import storage_refusal, unreachable, unreachable_summary
from optinface.consent.errors import ConsentError
from optinface.engine.errors import EngineError
from optinface.engine.settings import SettingNotJson

app = typer.Typer(
    help="optinface: consent-first face matching. Every command has --help with an example.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a traceback must never print keys or vectors
)
engine_commands.add_commands(app)
serve.add_commands(app)
drivers.add_commands(app)
rights.add_commands(app)
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
audit_export.add_commands(audit.app)
app.add_typer(register.app, name="register")
app.add_typer(receipts.app, name="receipt")
app.add_typer(texts.app, name="texts")
rotation_commands.add_commands(app)
backup_commands.add_commands(app)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at INFO level.")) -> None:
    """Configure logging once, here at the entry point."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run() -> None:
    """The console script: any refusal ends in one line with its stable code, never a traceback
    (:func:`common.refused` says which prefix).

    Commands that open the service already print their own refusals; this catches what happens
    before (an unreadable manifest, a missing model file, a data directory that cannot be made,
    an ``OPTINFACE_*`` setting that is not valid, a TLS file serve or ``keys create`` cannot
    use, a PostgreSQL ledger that cannot be reached, a ledger damaged where only the command
    reads, a full disk under it), and an argument that is not UTF-8
    (:func:`common.require_utf8`), checked before any command runs.
    """
    try:
        require_utf8(sys.argv[1:])
        with whole_output():
            app()
    except (EngineError, ConsentError) as error:
        ended = refused(error.code, error.message)
    except ValidationError as error:
        if not error.title.endswith("Settings"):
            raise
        ended = refused(CliErrorCode.INVALID_SETTINGS, settings_problems(error))
    except (SettingsError, SettingsRefused, TlsFileRefused) as error:
        # A list not even JSON (pydantic-settings' error naming a field; the variable in its
        # cause); the settings load_settings refused; a TLS file.
        named = error.__cause__ if isinstance(error.__cause__, SettingNotJson) else error
        ended = refused(CliErrorCode.INVALID_SETTINGS, str(named))
    except (DBAPIError, SQLAlchemyTimeoutError) as error:
        if unreachable(error):
            ended = refused(ApiErrorCode.LEDGER_UNAVAILABLE, unreachable_summary(error))
        elif (unusable := storage_refusal(error)) is not None:  # damaged, or a full disk
            ended = refused(unusable.code, unusable.message)
        else:
            raise
    else:
        return
    sys.exit(ended.exit_code)


if __name__ == "__main__":
    run()

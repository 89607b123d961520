"""Moving a ledger to another schema revision, as a ledger written by an older version is."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from optinface.consent.db import MIGRATIONS


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    """Upgrade the ledger behind ``engine`` to ``revision``, or downgrade it (``down``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

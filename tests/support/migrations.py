"""Moving a ledger to another schema revision, as a ledger written by an older version is."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine

from optinface.consent.db import alembic_config


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    """Upgrade the ledger behind ``engine`` to ``revision``, or downgrade it (``down``)."""
    with engine.begin() as connection:
        (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)

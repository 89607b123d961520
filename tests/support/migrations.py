"""Moving a ledger to another schema revision, as a ledger written by an older version is."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Sequence

from alembic import command
from sqlalchemy import Engine, inspect

from optinface.consent import db
from optinface.consent.db import alembic_config, migrating


def migrate(engine: Engine, revision: str, *, down: bool = False, x: Sequence[str] = ()) -> None:
    """Upgrade the ledger behind ``engine`` to ``revision``, or downgrade it (``down``), with
    the operator's ``-x`` arguments ``x`` (``name=value``)."""
    with migrating(engine) as connection:
        config = alembic_config(connection)
        config.cmd_opts = Namespace(x=list(x))
        (command.downgrade if down else command.upgrade)(config, revision)


def migrated_as_at_start(url: str) -> None:
    """Migrate the empty database at ``url`` as a deployment's first start does (the service's
    own :func:`consent.db.migrate`), then close every connection (on SQLite the WAL is folded
    into the file): the ledger the test fixtures copy."""
    engine = db.make_engine(url)
    try:
        db.migrate(engine)
    finally:
        engine.dispose()


def columns(engine: Engine, table: str) -> set[str]:
    """The names of ``table``'s columns as the database has them now (after a migration)."""
    with engine.connect() as connection:
        return {column["name"] for column in inspect(connection).get_columns(table)}

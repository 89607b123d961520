"""Alembic environment: runs on the connection that :func:`consent.db.migrate` hands over."""

from __future__ import annotations

from alembic import context

from optinface.consent.db import make_engine, migrating
from optinface.consent.tables import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # command-line use: `alembic -x url=sqlite:///var/optinface.db upgrade head`
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///var/optinface.db")
    # The ledger's own engine: on SQLite it opens the transaction itself, so every step of a
    # run, DDL included, commits or rolls back together (the driver would commit a DROP
    # COLUMN at once, and a later step's refusal would leave the schema half moved).
    with migrating(make_engine(url)) as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    context.run_migrations()

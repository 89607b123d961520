"""The Alembic migrations: they build what the models declare, and carry old ledgers forward."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from optinface.consent.tables import Base, Consent
from tests.support.consent import World
from tests.support.migrations import migrate


def test_the_migrations_build_the_schema_the_models_declare(world: World) -> None:
    with world.service.runtime.db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_consents_from_before_retained_until_get_their_purposes_retention(world: World) -> None:
    world.subject()
    with world.service.runtime.db.transaction() as session:
        [given] = session.scalars(select(Consent)).all()
        expected = given.retained_until
    engine = world.service.runtime.db.engine
    migrate(engine, "0002", down=True)  # a ledger written before the column existed
    migrate(engine, "head")
    with world.service.runtime.db.transaction() as session:
        [migrated] = session.scalars(select(Consent)).all()
        assert migrated.retained_until == expected

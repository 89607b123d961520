"""The Alembic migrations: they build what the models declare, and carry old ledgers forward."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from optinface.consent.errors import Unauthenticated
from optinface.consent.roles import Role
from optinface.consent.tables import Base, Consent
from tests.support.backends import both_backends
from tests.support.certificates import Authority
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


def test_keys_outlive_a_migration_back_before_expiry_and_an_expiring_one_stays_ended(
    world: World,
) -> None:
    """Migrated back before 0026 and up again, every key is still there and works as before;
    a break-glass key, whose expiry the older schema cannot hold, was revoked on the way down,
    by its expiry at the latest (the migration's wall clock, not the test's), so a downgrade
    never makes it permanent."""
    service = world.service
    kiosk = service.create_api_key(actor=world.admin, role=Role.PORTAL, name="kiosk")
    glass = service.open_break_glass(reason="INC-9: admin unreachable", hours=4)
    assert service.authenticate(glass.secret).role is Role.ADMIN  # its row is kept now
    before = {key.key_id for key in service.list_api_keys(actor=world.admin)}
    engine = service.runtime.db.engine
    migrate(engine, "0025", down=True)
    migrate(engine, "head")
    after = service.list_api_keys(actor=world.admin)
    assert {key.key_id for key in after} == before
    assert service.authenticate(kiosk.secret).role is Role.PORTAL
    [(revoked_at, expires_at)] = [(k.revoked_at, k.expires_at) for k in after
                                  if k.key_id == glass.key_id]
    assert revoked_at is not None and expires_at is None
    assert revoked_at <= glass.expires_at and revoked_at <= datetime.now(UTC)  # never to come
    with pytest.raises(Unauthenticated):
        service.authenticate(glass.secret)


@both_backends
def test_a_migration_back_before_certificate_binding_revokes_every_bound_key(
    world: World, tmp_path: Path,
) -> None:
    """The schema before 0027 cannot hold a key's client certificate, so a bound key would come
    out a bearer key, usable from any machine: it is revoked on the way down instead. An
    unbound relying party's key, which nothing tied to a machine, works as before."""
    service = world.service
    lab = Authority.create(tmp_path, "labs-ca").issue("lab")
    bound = service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="lab A",
                                   client_cert_pem=lab.pem)
    unbound = service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="lab B")
    assert service.authenticate(bound.secret).role is Role.RESEARCHER  # its row is kept now
    engine = service.runtime.db.engine
    migrate(engine, "0026", down=True)
    migrate(engine, "head")
    [revoked_at] = [key.revoked_at for key in service.list_api_keys(actor=world.admin)
                    if key.key_id == bound.key_id]
    assert revoked_at is not None and revoked_at <= datetime.now(UTC)
    with pytest.raises(Unauthenticated):
        service.authenticate(bound.secret)
    assert service.authenticate(unbound.secret).role is Role.RESEARCHER

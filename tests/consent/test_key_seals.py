"""API-key seals (consent.row_seals): a key row written or edited without the key store
authenticates no one, whatever role, name, expiry or revocation the edit gave it.

Each attack is the reviewer's (review 1, finding 4), in SQL on the real ledger; the key's
secret is the one the service handed out, so only the edit can be what is refused.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, text

from optinface.consent.apikeys import flush_failures
from optinface.consent.break_glass import is_break_glass
from optinface.consent.errors import Unauthenticated
from optinface.consent.roles import Role
from optinface.consent.tables import ApiKey, AuditEvent
from tests.support.backends import both_backends
from tests.support.consent import World


def _edit(world: World, key_id: str, change: str, **parameters: object) -> None:
    with world.service.runtime.db.transaction() as session:
        session.execute(text(f"UPDATE api_keys SET {change} WHERE id = :key"),
                        {"key": key_id, **parameters})


def _refused_as_unsealed(world: World, secret: str, key_id: str) -> None:
    """Refused as every bad credential is, and tallied into the log as ``unsealed``."""
    with pytest.raises(Unauthenticated):
        world.service.authenticate(secret)
    flush_failures(world.service.runtime)
    with world.service.runtime.db.transaction() as session:
        tallied = session.scalars(select(AuditEvent.details).where(
            AuditEvent.action == "login_failure").order_by(AuditEvent.seq.desc())).first()
    assert tallied is not None and tallied["reasons"].get("unsealed") == 1
    assert key_id in tallied["key_ids"]


@both_backends
def test_a_researcher_key_made_an_admin_in_the_database_authenticates_no_one(
    world: World,
) -> None:
    """role.py: ``UPDATE api_keys SET role='admin'`` on a researcher key."""
    lab = world.service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="lab")
    assert world.service.authenticate(lab.secret).role is Role.RESEARCHER  # kept from here
    _edit(world, lab.key_id, "role = 'admin'")
    _refused_as_unsealed(world, lab.secret, lab.key_id)


def test_an_admin_key_renamed_break_glass_in_the_database_is_neither_key_nor_break_glass(
    world: World,
) -> None:
    """mfa.py: named ``break-glass`` with an expiry, an admin key with no passkey would skip
    the second factor (break_glass.is_break_glass). Its row is no longer the one sealed."""
    admin = world.service.create_api_key(actor=world.admin, role=Role.ADMIN, name="ops")
    _edit(world, admin.key_id, "name = 'break-glass', expires_at = :later",
          later=datetime(2999, 1, 1))
    _refused_as_unsealed(world, admin.secret, admin.key_id)
    with world.service.runtime.db.transaction() as session:
        row = session.get_one(ApiKey, admin.key_id)
        assert not is_break_glass(world.service.runtime.keys, row)
    opened = world.service.open_break_glass(reason="INC-7: admins unreachable", hours=1)
    with world.service.runtime.db.transaction() as session:  # the honest one is
        assert is_break_glass(world.service.runtime.keys, session.get_one(ApiKey, opened.key_id))
    assert world.service.authenticate(opened.secret).role is Role.ADMIN


@both_backends
def test_a_revoked_key_unrevoked_in_the_database_stays_refused(world: World) -> None:
    """``revoked_at`` set back to NULL: the revocation was sealed, so the row is an edit."""
    lab = world.service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="lab")
    world.service.revoke_api_key(actor=world.admin, key_id=lab.key_id)
    with pytest.raises(Unauthenticated):
        world.service.authenticate(lab.secret)
    _edit(world, lab.key_id, "revoked_at = NULL")
    _refused_as_unsealed(world, lab.secret, lab.key_id)


@both_backends
def test_a_revoked_keys_older_row_written_back_while_the_service_runs_authenticates_no_one(
    world: World,
) -> None:
    """Review 2: the whole row of a key as it was before its revocation carries a valid seal;
    written back while the service runs (on PostgreSQL no row is kept between requests), it
    would authenticate until the next start replays the journal. Each authentication asks the
    journal, apart from the database, which revoked it (consent.journal_ends)."""
    made = world.service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="lab")
    columns = "revoked_at, seal"
    with world.service.runtime.db.transaction() as session:
        before = session.execute(text(f"SELECT {columns} FROM api_keys WHERE id = :k"),
                                 {"k": made.key_id}).one()
    world.service.revoke_api_key(actor=world.admin, key_id=made.key_id)
    _edit(world, made.key_id, "revoked_at = :r, seal = :s", r=before[0], s=before[1])
    with pytest.raises(Unauthenticated):
        world.service.authenticate(made.secret)

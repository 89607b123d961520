"""Roles, API keys and subject tokens: who may do what, and secrets stored only hashed."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import text

from optinface.consent import row_seals
from optinface.consent.apikeys import HASH_DOMAIN, revoke_api_key
from optinface.consent.audit import AuditAction
from optinface.consent.errors import Forbidden, InvalidRequest, Unauthenticated
from optinface.consent.roles import Actor, Role
from optinface.consent.schemas import AgeCategory, AuditFilter, SubjectCreate
from optinface.consent.tables import ApiKey
from tests.support.backends import both_backends
from tests.support.consent import World


def test_each_role_is_refused_what_it_may_not_do(world: World) -> None:
    with pytest.raises(Forbidden) as refused:
        world.service.list_api_keys(actor=world.researcher)
    assert refused.value.code == "forbidden"
    with pytest.raises(Forbidden):
        world.service.identify(actor=world.admin, purpose_id=world.purpose,
                               probe_consent_id="x", image=b"")
    with pytest.raises(Forbidden):
        world.service.audit_events(actor=world.portal, filters=_all())


def test_a_subject_token_acts_on_its_own_subject_only(world: World) -> None:
    mine = world.person()
    other, _ = world.subject()
    me = mine.actor
    assert me.role is Role.SUBJECT and me.subject == mine.pseudonym
    own = world.service.export(actor=me, subject=mine.pseudonym)
    assert own.subject.pseudonym == mine.pseudonym
    with pytest.raises(Forbidden):
        world.service.export(actor=me, subject=other)


def test_the_operator_gets_links_never_a_subject_credential(world: World) -> None:
    created = world.service.create_subject(
        actor=world.portal, body=SubjectCreate(age_category=AgeCategory.ADULT))
    assert "subject_token" not in created.model_dump()
    assert created.enrolment.link_url.endswith("#" + created.enrolment.secret)
    assert created.enrolment.qr_svg.startswith("<svg")
    with pytest.raises(Unauthenticated):  # a link is no API credential
        world.service.authenticate(created.enrolment.secret)


def test_secrets_are_stored_only_as_hashes_and_revocation_is_immediate(world: World) -> None:
    created = world.service.create_api_key(actor=world.admin, role=Role.PORTAL, name="kiosk")
    with world.service.runtime.db.engine.connect() as connection:
        dump = "\n".join(str(row) for row in connection.execute(text("SELECT * FROM api_keys")))
    assert created.secret not in dump and created.secret.split(".")[1] not in dump
    world.service.revoke_api_key(actor=world.admin, key_id=created.key_id)
    with pytest.raises(Unauthenticated) as refused:
        world.service.authenticate(created.secret)
    assert refused.value.code == "unauthenticated"
    assert [k.revoked_at is not None for k in world.service.list_api_keys(actor=world.admin)
            if k.key_id == created.key_id] == [True]


def _used_key(world: World) -> tuple[str, Actor]:
    """A new key's secret, authenticated twice: its row is read, then (on SQLite) kept."""
    secret = world.service.create_api_key(actor=world.admin, role=Role.PORTAL, name="kiosk").secret
    first = world.service.authenticate(secret)
    assert world.service.authenticate(secret) == first
    return secret, first


@both_backends
def test_a_used_key_is_answered_without_the_ledger_only_where_one_process_writes_it(
    world: World,
) -> None:
    secret, actor = _used_key(world)
    only_writer = not world.service.runtime.db.shared  # SQLite: the data directory's lock
    assert world.service.authenticate_kept(secret) == (actor if only_writer else None)


@both_backends
def test_a_key_revoked_after_it_was_used_is_refused_at_its_next_use(world: World) -> None:
    secret, actor = _used_key(world)
    world.service.revoke_api_key(actor=world.admin, key_id=actor.key_id)
    with pytest.raises(Unauthenticated):
        world.service.authenticate(secret)
    assert world.service.authenticate_kept(secret) is None


@both_backends
def test_a_key_revoked_in_plain_sql_after_it_was_used_is_refused_at_its_next_use(
    world: World,
) -> None:
    secret, actor = _used_key(world)
    with world.service.runtime.db.engine.begin() as connection:
        connection.execute(text("UPDATE api_keys SET revoked_at = created_at WHERE id = :id"),
                           {"id": actor.key_id})
    with pytest.raises(Unauthenticated):
        world.service.authenticate(secret)


def test_a_search_in_flight_when_its_key_is_revoked_finds_no_one(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """A revocation takes effect at once for searches already authenticated too (outside race
    test: identifies by a key revoked while they embedded returned candidates after the
    revocation's answer): the search's own transaction reads the key again, so it is refused,
    chained as such, and opens no review."""
    world.enrolled(portrait_jpegs[0])
    made = world.service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="r2")
    searcher = world.service.authenticate(made.secret)  # the request, authenticated
    probe = world.probe(image=flipped_jpegs[0], researcher=searcher)
    world.service.revoke_api_key(actor=world.admin, key_id=searcher.key_id)  # meanwhile
    with pytest.raises(Unauthenticated):
        world.service.identify(actor=searcher, purpose_id=world.purpose,
                               probe_consent_id=probe, image=flipped_jpegs[0])
    assert world.service.pending_reviews(actor=world.verifiers[0]) == []
    refused = world.service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.REFUSED, actor_key_id=searcher.key_id))
    assert [e.outcome for e in refused.events] == ["unauthenticated"]


def test_a_revocation_rolled_back_does_not_revoke(world: World) -> None:
    secret, actor = _used_key(world)
    runtime = world.service.runtime
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        revoke_api_key(session, key_id=actor.key_id, keys=runtime.keys, now=world.clock.now())
        session.flush()
        row = runtime.key_rows.read(session, actor.key_id)  # read inside the transaction
        assert row is not None and row.revoked_at is not None
        raise RuntimeError("rolled back")
    assert world.service.authenticate(secret) == actor


def test_a_new_key_authenticates_at_once_even_after_its_id_was_refused(world: World) -> None:
    _used_key(world)
    with pytest.raises(Unauthenticated):  # an id not yet in the table
        world.service.authenticate("key_00000000000000aa.guess")
    hashed = world.service.runtime.keys.keyed_hash("key_00000000000000aa.guess",
                                                   domain=HASH_DOMAIN)
    with world.service.runtime.db.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO api_keys (id, name, role, secret_hash, created_at)"
                 " SELECT 'key_00000000000000aa', 'made in SQL', 'portal', :hash, created_at"
                 " FROM api_keys LIMIT 1"), {"hash": hashed})
    with world.service.runtime.db.transaction() as session:  # sealed as the service would
        row_seals.seal_api_key(world.service.runtime.keys,
                               session.get_one(ApiKey, "key_00000000000000aa"))
    assert world.service.authenticate("key_00000000000000aa.guess").role is Role.PORTAL
    created = world.service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="lab")
    assert world.service.authenticate(created.secret).role is Role.RESEARCHER


def test_a_wrong_secret_for_a_used_key_is_refused_and_audited_with_its_key_id(
    world: World,
) -> None:
    secret, actor = _used_key(world)
    world.service.flush_auth_failures()
    assert world.service.authenticate_kept(secret[:-4] + "AAAA") is None  # never tallied here
    with pytest.raises(Unauthenticated):
        world.service.authenticate(secret[:-4] + "AAAA")
    world.service.flush_auth_failures()
    last = world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.LOGIN_FAILURE)).events[-1]
    assert last.details["failures"] == 1 and last.details["key_ids"] == [actor.key_id]
    assert last.details["reasons"] == {"unknown_or_wrong": 1}


def test_a_secret_that_is_no_credential_of_ours_is_refused_as_malformed(world: World) -> None:
    """No dot, or no API key's nor subject token's prefix before it: refused before any lookup,
    tallied as malformed and naming no key."""
    for secret in ("malformed", "key_0123456789abcdef", "lnk_0123456789abcdef.secret",
                   "0123456789abcdef.secret", ".key_0123456789abcdef"):
        with pytest.raises(Unauthenticated):
            world.service.authenticate(secret)
    world.service.flush_auth_failures()
    tallies = [event.details for event in world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.LOGIN_FAILURE)).events]
    assert sum((Counter(tally["reasons"]) for tally in tallies), Counter()) == {"malformed": 5}
    assert all(tally["key_ids"] == [] for tally in tallies)


def test_bootstrap_works_only_on_an_empty_system(world: World) -> None:
    with pytest.raises(InvalidRequest):
        world.service.create_api_key(actor=None, role=Role.ADMIN, name="second root")


def test_key_and_index_files_and_their_folders_are_private(world: World) -> None:
    settings = world.service.settings
    world.service.index.save()
    keys = list(settings.keys_dir.glob("*.key"))
    assert {key.stem for key in keys} >= {"epoch-1", "signing", "hmac", "rotation", "checkpoint"}
    files = (*keys, settings.index_path)
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600, path.name
        assert path.parent.stat().st_mode & 0o777 == 0o700, path.parent.name


def test_the_data_directory_and_database_files_are_private(world: World) -> None:
    world.subject()  # a write, so the WAL file exists
    data_dir = world.service.settings.data_dir
    assert data_dir.stat().st_mode & 0o777 == 0o700
    databases = [p for p in data_dir.iterdir() if p.name.startswith("optinface.db")]
    assert any(p.name.endswith("-wal") for p in databases)
    for path in databases:
        assert path.stat().st_mode & 0o777 == 0o600, path.name


def _all():  # type: ignore[no-untyped-def]
    from optinface.consent.schemas import AuditFilter

    return AuditFilter()

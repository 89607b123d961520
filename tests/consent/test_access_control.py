"""Roles, API keys and subject tokens: who may do what, and secrets stored only hashed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from optinface.consent.errors import Forbidden, InvalidRequest, Unauthenticated
from optinface.consent.roles import Role
from optinface.consent.schemas import AgeCategory, SubjectCreate
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


def test_bootstrap_works_only_on_an_empty_system(world: World) -> None:
    with pytest.raises(InvalidRequest):
        world.service.create_api_key(actor=None, role=Role.ADMIN, name="second root")


def test_key_and_index_files_and_their_folders_are_private(world: World) -> None:
    settings = world.service.settings
    world.service.index.save()
    files = (*settings.keys_dir.glob("epoch-*.key"), settings.signing_key_path,
             settings.hmac_key_path, settings.rotation_key_path, settings.index_path)
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

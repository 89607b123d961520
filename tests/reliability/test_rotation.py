"""Key rotation: identification is unchanged afterwards, the old keys open nothing, both audited.

``rotate_epoch`` re-wraps every subject data key under a new epoch key and destroys the old one;
``rekey_templates`` re-protects every template under a new secret rotation and rebuilds the
index from the ledger. Neither leaves the old key's bytes in the key store's files.
"""

from __future__ import annotations

import io
from contextlib import closing
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from optinface.api.cli.main import app as cli
from optinface.api.settings import ApiSettings
from optinface.consent.audit import AuditAction
from optinface.consent.db import Database
from optinface.consent.errors import KeyUnavailable
from optinface.consent.keys import ROTATION_KEY_NAME
from optinface.consent.keystore import open_key_store
from optinface.consent.rotation import STAGED_SUFFIX
from optinface.consent.schemas import AuditFilter
from optinface.consent.service import OptinFace
from optinface.consent.tables import Subject, SubjectKey
from optinface.engine.pipeline import FacePipeline
from optinface.engine.protection import TemplateProtector
from tests.support.consent import FakeClock, World, make_world
from tests.support.migrations import migrate
from tests.support.reliability import record

TOLERANCE = 1e-4
ROTATION_KEY_FILE = f"{ROTATION_KEY_NAME}.key"
STAGED_KEY_FILE = f"{ROTATION_KEY_NAME}{STAGED_SUFFIX}.key"
"""The key store's file where a re-key stages its new rotation until its transaction commits."""


def _enrolled_world(service: OptinFace, jpegs: list[bytes]) -> World:
    world = make_world(service, FakeClock(datetime.now(UTC)))
    for jpeg in jpegs[:4]:
        world.enrolled(jpeg)
    return world


def _results(world: World, jpegs: list[bytes]) -> list[list[tuple[str, float]]]:
    return [[(c.subject, c.score) for c in world.identify(jpeg).candidates] for jpeg in jpegs]


def _assert_same(before: list[list[tuple[str, float]]],
                 after: list[list[tuple[str, float]]]) -> None:
    assert [[s for s, _ in r] for r in before] == [[s for s, _ in r] for r in after]
    for old, new in zip(before, after, strict=True):
        for (_, a), (_, b) in zip(old, new, strict=True):
            assert abs(a - b) < TOLERANCE


def test_rotation_keeps_every_match_and_the_old_keys_open_nothing(
    service: OptinFace, api_settings: ApiSettings, portrait_jpegs: list[bytes],
    pipeline: FacePipeline,
) -> None:
    world = _enrolled_world(service, portrait_jpegs)
    probes = portrait_jpegs[:5]  # four enrolled people and one stranger
    before = _results(world, probes)
    assert sum(bool(r) for r in before) == 4
    old_epoch = service.runtime.keys.epoch
    old_epoch_path = api_settings.keys_dir / f"epoch-{old_epoch}.key"
    old_epoch_key = old_epoch_path.read_bytes()
    rotation_key = api_settings.keys_dir / ROTATION_KEY_FILE
    old_rotation = rotation_key.read_bytes()
    with service.runtime.db.transaction() as session:
        old_wrapped = session.execute(select(SubjectKey.subject_id, SubjectKey.wrapped,
                                             Subject.pseudonym).join(Subject)).all()

    epoch = service.rotate_epoch(actor=world.admin)
    rekey = service.rekey_templates(actor=world.admin)
    assert epoch.subject_keys_rewrapped == 4 and rekey.templates_reprotected == 4
    assert epoch.destroyed_epochs == [old_epoch] and not old_epoch_path.exists()
    assert rekey.old_fingerprint != rekey.new_fingerprint
    _assert_same(before, _results(world, probes))

    assert rotation_key.stat().st_mode & 0o777 == 0o600
    with service.runtime.db.transaction() as session:
        wrapped = list(session.scalars(select(SubjectKey)))
    assert len(wrapped) == 4 and {row.epoch for row in wrapped} == {epoch.new_epoch}
    for subject_id, blob, pseudonym in old_wrapped:  # what a backup from before it holds
        with pytest.raises(KeyUnavailable):
            service.runtime.keys.unwrap(blob, subject_id=subject_id, pseudonym=pseudonym,
                                        epoch=old_epoch)
    # Neither old key's bytes survive anywhere in the key store (shredded, not renamed).
    for path in api_settings.keys_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert old_epoch_key not in content and old_rotation[-64:] not in content, path
    # The old rotation turns a probe into a vector that matches nobody in the new index.
    old_protector = TemplateProtector(np.load(io.BytesIO(old_rotation), allow_pickle=False))
    raw = pipeline.embed_single(portrait_jpegs[0]).vector[None, :]
    stale = service.index.search(old_protector.protect(raw)[0], k=4)
    assert max(hit.score for hit in stale) < 0.36
    actions = {e.action for e in service.audit_events(
        actor=world.admin, filters=AuditFilter(), limit=1000).events}
    assert {AuditAction.KEY_EPOCH_ROTATED, AuditAction.TEMPLATES_REKEYED} <= actions
    assert service.verify_audit().ok
    record("rotation", {"subject_keys_rewrapped": epoch.subject_keys_rewrapped,
                        "templates_reprotected": rekey.templates_reprotected,
                        "probes_compared": len(probes)})


def test_cli_rotation_survives_a_restart(
    api_settings: ApiSettings, pipeline: FacePipeline,
    portrait_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    with closing(OptinFace.open(api_settings, pipeline=pipeline)) as service:
        world = _enrolled_world(service, portrait_jpegs)
        admin = service.create_api_key(actor=world.admin, role=world.admin.role, name="ops")
        before = _results(world, portrait_jpegs[:5])
    monkeypatch.setenv("OPTINFACE_THRESHOLDS_PATH", str(api_settings.thresholds_path))
    monkeypatch.setenv("OPTINFACE_INDEX_MAX_ELEMENTS", str(api_settings.index_max_elements))
    runner = CliRunner()
    data = ["--data-dir", str(api_settings.data_dir), "--api-key", admin.secret]
    for command in (["keys", "rotate-epoch"], ["protect", "rekey"]):
        result = runner.invoke(cli, [*command, *data])
        assert result.exit_code == 0, result.output
    with closing(OptinFace.open(api_settings, pipeline=pipeline)) as service:
        world.service = service
        _assert_same(before, _results(world, portrait_jpegs[:5]))
        assert service.last_reconcile is not None
        assert service.last_reconcile.removed == service.last_reconcile.re_added == 0
        assert service.verify_audit().ok
    assert not (api_settings.keys_dir / STAGED_KEY_FILE).exists()


def _stage(api_settings: ApiSettings, rotation: bytes) -> None:
    """Stage ``rotation`` in the key store as a re-key does before its transaction commits."""
    store = open_key_store(api_settings, create=False)
    try:
        store.put_secret(ROTATION_KEY_NAME + STAGED_SUFFIX, rotation)
    finally:
        store.close()


def _interrupted_rekey(
    api_settings: ApiSettings, pipeline: FacePipeline, jpegs: list[bytes], *,
    key_in_place: bool = False,
) -> tuple[World, list[list[tuple[str, float]]], bytes]:
    """A re-key that died after its transaction committed, before it saved the index it
    rebuilt: the index saved under the old rotation and, unless ``key_in_place``, the new
    rotation staged beside the old one. The world, the results from before, the new rotation."""
    rotation_key = api_settings.keys_dir / ROTATION_KEY_FILE
    with closing(OptinFace.open(api_settings, pipeline=pipeline)) as service:
        world = _enrolled_world(service, jpegs)
        before = _results(world, jpegs[:5])
        service.index.save()
        old_key, old_index = rotation_key.read_bytes(), api_settings.index_path.read_bytes()
        service.rekey_templates(actor=world.admin)
    new_key = rotation_key.read_bytes()
    if not key_in_place:
        _stage(api_settings, new_key)
        rotation_key.write_bytes(old_key)
    api_settings.index_path.write_bytes(old_index)
    return world, before, new_key


@pytest.mark.parametrize("schema", ["current", "from_before_key_checks"])
def test_a_rekey_interrupted_after_it_committed_is_finished_at_the_next_start(
    api_settings: ApiSettings, pipeline: FacePipeline, portrait_jpegs: list[bytes], schema: str,
) -> None:
    """The ledger names the rotation its templates are under (its key check; for a ledger from
    before the checks, migration 0025 reads its last re-key's event): the start puts the staged
    key in place and rebuilds the index, and every search finds what it found before."""
    world, before, new_key = _interrupted_rekey(api_settings, pipeline, portrait_jpegs)
    if schema == "from_before_key_checks":
        with closing(Database(api_settings.url)) as db:
            migrate(db.engine, "0024", down=True)
        # Back past 0030 dropped the row seals: the operator seals again, with the key store.
        with closing(OptinFace.open(api_settings, pipeline=pipeline)) as service:
            service.reseal_rows(reason="test: schema rolled back to 0024 and forward")
    with closing(OptinFace.open(api_settings, pipeline=pipeline)) as service:
        world.service = service
        _assert_same(before, _results(world, portrait_jpegs[:5]))
    assert (api_settings.keys_dir / ROTATION_KEY_FILE).read_bytes() == new_key
    assert not (api_settings.keys_dir / STAGED_KEY_FILE).exists()


def test_an_index_saved_under_the_rotation_a_rekey_replaced_is_rebuilt(
    api_settings: ApiSettings, pipeline: FacePipeline, portrait_jpegs: list[bytes],
) -> None:
    """A re-key that died between putting its key in place and saving the index: the saved
    index's key is bound to the rotation, so it no longer opens and is rebuilt from the ledger;
    kept, it would answer every search with misses."""
    world, before, _ = _interrupted_rekey(api_settings, pipeline, portrait_jpegs,
                                          key_in_place=True)
    with closing(OptinFace.open(api_settings, pipeline=pipeline)) as service:
        world.service = service
        _assert_same(before, _results(world, portrait_jpegs[:5]))


def test_a_rekey_that_did_not_commit_leaves_the_old_key_in_place(
    api_settings: ApiSettings, pipeline: FacePipeline, portrait_jpegs: list[bytes],
) -> None:
    """Its staged key is left where it is (the start cannot tell it from the key of a re-key
    running now on another ledger sharing the store), and the next re-key replaces it."""
    with closing(OptinFace.open(api_settings, pipeline=pipeline)) as service:
        world = _enrolled_world(service, portrait_jpegs)
        before = _results(world, portrait_jpegs[:5])
    rotation_key = (api_settings.keys_dir / ROTATION_KEY_FILE).read_bytes()
    _stage(api_settings, TemplateProtector.generate().to_bytes())
    with closing(OptinFace.open(api_settings, pipeline=pipeline)) as service:
        world.service = service
        _assert_same(before, _results(world, portrait_jpegs[:5]))
        assert (api_settings.keys_dir / ROTATION_KEY_FILE).read_bytes() == rotation_key
        assert (api_settings.keys_dir / STAGED_KEY_FILE).exists()
        service.rekey_templates(actor=world.admin)
        _assert_same(before, _results(world, portrait_jpegs[:5]))
    assert not (api_settings.keys_dir / STAGED_KEY_FILE).exists()

"""The key store lives apart from the data, refuses exposed keys, and adopts the old layout.

A copy of the data directory must hold no key: the store defaults to ``<data_dir>-keys`` beside
it and is refused inside it; a key file the group or others can read is refused at load. Keys
are made for a new deployment only: once the ledger holds data, a key missing, damaged or of
another deployment is refused, and nothing is made or deleted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from optinface.consent import witness_binding
from optinface.consent.db import Database
from optinface.consent.errors import KeyFileExposed, KeyStoreUnusable, KeyUnavailable
from optinface.consent.keys import public_key_of
from optinface.consent.keystore import FileKeyStore, open_key_store
from optinface.consent.schemas import SearchOutcome
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditCheckpoint, KeyCheck
from optinface.engine.pipeline import FacePipeline
from optinface.engine.protection import TemplateProtector
from tests.support.consent import FakeClock, World, make_world
from tests.support.files import file_bytes

KEY_FILES = ("epoch-1", "signing", "hmac", "checkpoint", "index", "rotation")
LEDGER_KEY_FILES = ("epoch-1", "signing", "hmac", "checkpoint", "rotation")
"""The keys the ledger's data need: every one but the index key, which protects only a cache."""


def test_no_key_lives_in_the_data_directory(world: World, settings: ConsentSettings) -> None:
    keys = settings.keys_dir
    assert keys == settings.data_dir.absolute().with_name("var-keys")
    names = {path.name for path in keys.iterdir()}
    assert {"signing.key", "hmac.key", "rotation.key", "epoch-1.key"} <= names
    in_data = [p for p in settings.data_dir.rglob("*") if p.suffix == ".key" or p.name == "keys"]
    assert in_data == []


@pytest.mark.parametrize("inside", [".", "keys", "nested/keys"])
def test_a_key_directory_inside_the_data_directory_is_refused(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock, inside: str
) -> None:
    unsafe = settings.model_copy(update={"key_dir": settings.data_dir / inside})
    with pytest.raises(KeyStoreUnusable) as refused:
        OptinFace.open(unsafe, pipeline=pipeline, clock=clock)
    assert refused.value.code == "key_store_unusable"
    assert not (settings.data_dir / inside / "signing.key").exists()


def test_a_key_directory_inside_the_witness_folder_is_refused(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
) -> None:
    """Reviewers copy the witness folder (``rsync``, ``cp -rn``): the keys would go with it."""
    unsafe = settings.model_copy(update={"key_dir": settings.witness_dir / "keys"})
    with pytest.raises(KeyStoreUnusable) as refused:
        OptinFace.open(unsafe, pipeline=pipeline, clock=clock)
    assert "lies inside the witness folder" in refused.value.message
    assert not (settings.witness_dir / "keys" / "signing.key").exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_key_file_readable_by_others_is_refused_at_load(
    settings: ConsentSettings, mode: int, open_service: Callable[[], OptinFace],
) -> None:
    open_service().close()
    (settings.keys_dir / "hmac.key").chmod(mode)
    with pytest.raises(KeyFileExposed) as refused:
        open_service()
    assert refused.value.code == "key_file_exposed"


def test_a_key_folder_open_to_others_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with pytest.raises(KeyFileExposed):
        FileKeyStore(folder, create=True)


def test_a_replaced_or_destroyed_secret_is_overwritten_not_only_unlinked(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys", create=True)
    store.put_secret("rotation", b"A" * 64)
    path = tmp_path / "keys" / "rotation.key"
    # Another hard link sees the old inode's blocks: after the replacement they must be zeros.
    os.link(path, tmp_path / "old-inode")
    store.put_secret("rotation", b"B" * 64)
    assert (tmp_path / "old-inode").read_bytes() == bytes(64)
    assert store.read_secret("rotation") == b"B" * 64
    os.link(path, tmp_path / "newer-inode")
    store.destroy_secret("rotation")
    assert store.read_secret("rotation") is None
    assert (tmp_path / "newer-inode").read_bytes() == bytes(64)


def test_a_replacement_that_fails_to_write_leaves_the_key_in_use_as_it_was(
    tmp_path: Path
) -> None:
    """The write of the new value fails before its rename (here the temporary file's name is
    taken by a folder, as a full disk or an I/O error would fail it): the old file is still the
    key in use, so it must not be shredded (zeros would make a signing key anyone holds)."""
    store = FileKeyStore(tmp_path / "keys", create=True)
    store.put_secret("signing", b"A" * 32)
    (tmp_path / "keys" / f".signing.key.{os.getpid()}.tmp").mkdir()
    with pytest.raises(KeyStoreUnusable):
        store.put_secret("signing", b"B" * 32)
    assert store.read_secret("signing") == b"A" * 32


def test_an_index_file_key_is_private_and_overwritten_when_destroyed(tmp_path: Path) -> None:
    """What an erasure destroys to make every index file saved before it unreadable."""
    store = FileKeyStore(tmp_path / "keys", create=True)
    key_id = store.new_index_file_key()
    wrapped = store.wrap_index_file(key_id, b"K" * 32, associated=b"index-file")
    [path] = (tmp_path / "keys").glob("index-file-*.key")
    assert path.stat().st_mode & 0o077 == 0
    assert store.index_file_keys() == [key_id] and store.epochs() == []
    assert store.unwrap_index_file(key_id, wrapped, associated=b"index-file") == b"K" * 32
    os.link(path, tmp_path / "old-inode")
    store.destroy_index_file_key(key_id)
    assert store.index_file_keys() == [] and not path.exists()
    assert (tmp_path / "old-inode").read_bytes() == bytes(32)
    with pytest.raises(KeyUnavailable):
        store.unwrap_index_file(key_id, wrapped, associated=b"index-file")


def test_keys_of_the_old_layout_move_out_of_the_data_directory(
    settings: ConsentSettings, tmp_path: Path
) -> None:
    legacy = settings.data_dir / "keys"
    legacy.mkdir(parents=True, mode=0o700)
    for name, value in (("master", b"M" * 32), ("hmac", b"H" * 32)):
        (legacy / f"{name}.key").write_bytes(value)
        (legacy / f"{name}.key").chmod(0o600)
    os.link(legacy / "master.key", tmp_path / "old-master")
    store = open_key_store(settings, create=True)
    assert not legacy.exists()
    assert store.epochs() == [1]
    assert store.read_secret("hmac") == b"H" * 32
    assert (settings.keys_dir / "epoch-1.key").read_bytes() == b"M" * 32
    assert (tmp_path / "old-master").read_bytes() == bytes(32)


@pytest.fixture
def in_use(open_service: Callable[[], OptinFace], clock: FakeClock,
           portrait_jpegs: list[bytes]) -> None:
    """A deployment with data, closed: a subject enrolled, receipts signed, checkpoints."""
    service = open_service()
    try:
        make_world(service, clock).enrolled(portrait_jpegs[0])
    finally:
        service.close()


def _on_disk(settings: ConsentSettings) -> dict[str, bytes]:
    """What a refused start must leave as it was: the key store, the index, the witness."""
    return file_bytes(settings.keys_dir, settings.index_path.parent, settings.witness_dir)


@pytest.mark.parametrize("name", LEDGER_KEY_FILES)
def test_a_key_missing_from_a_deployment_in_use_is_refused_never_made_again(
    settings: ConsentSettings, open_service: Callable[[], OptinFace], in_use: None, name: str,
) -> None:
    (settings.keys_dir / f"{name}.key").unlink()
    before = _on_disk(settings)
    with pytest.raises(KeyStoreUnusable) as refused:
        open_service()
    assert refused.value.details["missing"] == [name.removesuffix("-1")]
    assert f"lacks the {name.removesuffix('-1')} key " in refused.value.message
    assert _on_disk(settings) == before


@pytest.mark.parametrize("unmounted", [True, False], ids=["unmounted", "empty"])
def test_an_empty_or_unmounted_key_store_of_a_deployment_in_use_is_refused_as_such(
    settings: ConsentSettings, open_service: Callable[[], OptinFace], in_use: None,
    unmounted: bool,
) -> None:
    for path in settings.keys_dir.iterdir():
        path.unlink()
    if unmounted:
        settings.keys_dir.rmdir()
    before = _on_disk(settings)
    with pytest.raises(KeyStoreUnusable) as refused:
        open_service()
    if unmounted:
        assert f"key directory {settings.keys_dir} does not exist" in refused.value.message
    else:
        assert refused.value.details["missing"] == [
            "checkpoint", "epoch", "hmac", "rotation", "signing"]
    assert _on_disk(settings) == before
    assert settings.keys_dir.exists() is not unmounted


def test_a_missing_index_key_is_made_again_and_the_index_rebuilt_from_the_ledger(
    world: World, settings: ConsentSettings, open_service: Callable[[], OptinFace],
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """The index key protects only the saved index, a cache of the ledger: a deployment from
    before the key existed (or that lost it) starts, with a new key and the index rebuilt."""
    pseudonym, consent_id = world.subject()
    template = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    world.service.close()
    (settings.keys_dir / "index.key").unlink()
    with closing(open_service()) as reopened:
        report = reopened.last_reconcile
        assert report is not None and report.re_added == 1 and report.index_discarded
        assert reopened.index.labels() == {template.id}
        world.service = reopened
        assert world.identify(flipped_jpegs[0]).outcome is SearchOutcome.CANDIDATES
    assert (settings.keys_dir / "index.key").stat().st_size == 32


def test_a_deployment_from_before_the_checkpoint_key_starts_and_gets_one(
    world: World, settings: ConsentSettings, open_service: Callable[[], OptinFace],
    portrait_jpegs: list[bytes],
) -> None:
    """What a deployment from before signed checkpoints holds (no checkpoint key, no checkpoint
    signed as a note, no witness folder) needs no checkpoint key: it starts and gets one. Once
    a checkpoint is signed, or a witness pins the key, a missing one is refused."""
    world.enrolled(portrait_jpegs[0])
    world.service.close()
    (settings.keys_dir / "checkpoint.key").unlink()
    (settings.keys_dir / f"{witness_binding.RECORD_NAME}.key").unlink()  # nor a witness record
    shutil.rmtree(settings.witness_dir)
    with closing(Database(settings.url)) as db, db.transaction() as session:
        session.execute(update(AuditCheckpoint).values(note=None))
    with closing(open_service()) as upgraded:
        assert upgraded.verify_audit().ok
    assert (settings.keys_dir / "checkpoint.key").stat().st_size == 32
    (settings.keys_dir / "checkpoint.key").unlink()  # now pinned by the witness, and signed
    with pytest.raises(KeyStoreUnusable) as refused:
        open_service()
    assert refused.value.details["missing"] == ["checkpoint"]


@pytest.mark.parametrize("store", ["an-old-copy", "a-newer-stray-beside-a-lost-key",
                                   "an-epoch-no-rotation-makes"])
def test_a_store_lacking_the_ledgers_epoch_is_refused_before_it_costs_a_subject_key(
    world: World, settings: ConsentSettings, open_service: Callable[[], OptinFace],
    portrait_jpegs: list[bytes], tmp_path: Path, store: str,
) -> None:
    """Started on it, the start would read no subject key under the ledger's epoch and drop
    them all. A newer key beside it (a rotation that did not commit, a stray file) does not
    make it a restored copy's store: the log is not behind its witness."""
    world.enrolled(portrait_jpegs[0])
    keys = settings.keys_dir
    if store == "an-old-copy":
        shutil.copytree(keys, tmp_path / "old-keys")
        world.service.rotate_epoch(actor=world.admin)
        world.service.close()
        shutil.rmtree(keys)
        shutil.copytree(tmp_path / "old-keys", keys)
        missing = "epoch 2"
    else:
        world.service.close()
        stray = 2 if store == "a-newer-stray-beside-a-lost-key" else 2**31 - 1
        shutil.copyfile(keys / "epoch-1.key", keys / f"epoch-{stray}.key")
        (keys / f"epoch-{stray}.key").chmod(0o600)
        if stray == 2:
            (keys / "epoch-1.key").unlink()
        missing = f"epoch {1 if stray == 2 else stray}"
    before = _on_disk(settings) | file_bytes(settings.data_dir)
    with pytest.raises(KeyStoreUnusable) as refused:
        open_service()
    assert refused.value.details == {"key": missing}
    assert _on_disk(settings) | file_bytes(settings.data_dir) == before


@pytest.mark.parametrize("name", ["hmac", "rotation"])
def test_a_ledger_from_before_key_checks_keeps_those_of_its_next_start(
    settings: ConsentSettings, open_service: Callable[[], OptinFace], in_use: None, name: str,
) -> None:
    """A ledger migrated from before 0025 holds no check: the keys it starts with next are
    taken as its own, and another is refused from then on."""
    with closing(Database(settings.url)) as db, db.transaction() as session:
        session.execute(delete(KeyCheck))
    open_service().close()
    (settings.keys_dir / f"{name}.key").write_bytes(_another_key(name))
    with pytest.raises(KeyStoreUnusable) as refused:
        open_service()
    assert refused.value.details == {"key": name}


def test_a_new_deployment_keeps_the_keys_a_crashed_first_start_made_and_makes_the_rest(
    settings: ConsentSettings, open_service: Callable[[], OptinFace],
) -> None:
    """A first start that made a key and died before the ledger's first event left a ledger
    that is still new: the next start makes only what is missing."""
    seed = os.urandom(32)
    open_key_store(settings, create=True).put_secret("signing", seed)
    service = open_service()
    try:
        assert service.public_key == public_key_of(seed)
    finally:
        service.close()
    assert {f"{name}.key" for name in KEY_FILES} <= {
        path.name for path in settings.keys_dir.iterdir()}


@pytest.mark.parametrize(("name", "damage", "problem"), [
    pytest.param("signing", lambda path: path.write_bytes(os.urandom(5)),
                 "damaged (5 bytes, not 32)", id="short-signing-key"),
    pytest.param("epoch-1", lambda path: path.write_bytes(b""), "damaged (0 bytes, not 32)",
                 id="empty-epoch-key"),
    pytest.param("rotation", lambda path: path.write_bytes(path.read_bytes()[:1000]),
                 "damaged (not a rotation matrix)", id="truncated-rotation"),
    pytest.param("rotation", lambda path: path.write_bytes(path.read_bytes()[:128] + os.urandom(
        path.stat().st_size - 128)), "damaged (not a rotation matrix)", id="garbage-rotation"),
    pytest.param("hmac", lambda path: (path.unlink(), path.mkdir(mode=0o700)), "is not a file",
                 id="folder-for-a-key"),
])
def test_a_damaged_key_is_refused_at_start_in_one_line(
    settings: ConsentSettings, open_service: Callable[[], OptinFace], in_use: None, name: str,
    damage: Callable[[Path], object], problem: str,
) -> None:
    damage(settings.keys_dir / f"{name}.key")
    before = _on_disk(settings)
    with pytest.raises(KeyStoreUnusable) as refused:
        open_service()
    assert problem in refused.value.message and "\n" not in refused.value.message
    assert _on_disk(settings) == before


def _another_key(name: str) -> bytes:
    """A key of ``name``'s kind that another deployment would hold."""
    return TemplateProtector.generate().to_bytes() if name == "rotation" else os.urandom(32)


@pytest.mark.parametrize(("name", "key"), [
    ("epoch-1", "epoch 1"), ("signing", "signing"), ("checkpoint", "checkpoint"),
    ("hmac", "hmac"), ("rotation", "rotation")])
def test_another_deployments_key_is_refused_where_the_ledger_can_tell(
    settings: ConsentSettings, open_service: Callable[[], OptinFace], in_use: None, name: str,
    key: str,
) -> None:
    """A subject key per epoch, a consent receipt and the newest checkpoint are opened with
    the keys found; the witness folder would blame itself for another checkpoint key. The HMAC
    and rotation keys open nothing kept: their check values must be those the ledger kept."""
    (settings.keys_dir / f"{name}.key").write_bytes(_another_key(name))
    before = _on_disk(settings)
    with pytest.raises(KeyStoreUnusable) as refused:
        open_service()
    assert refused.value.details == {"key": key}
    assert _on_disk(settings) == before


def test_a_refused_start_leaves_an_epoch_key_unknown_to_the_ledger_where_it_was(
    settings: ConsentSettings, open_service: Callable[[], OptinFace], in_use: None,
) -> None:
    """A start shreds an epoch key the ledger knows nothing of (:mod:`consent.epochs`), but
    only once every check passed: pointed at another deployment's key store, it destroys none
    of that store's keys."""
    stray = settings.keys_dir / "epoch-7.key"
    stray.write_bytes(os.urandom(32))
    stray.chmod(0o600)
    (settings.keys_dir / "hmac.key").write_bytes(_another_key("hmac"))
    before = _on_disk(settings)
    with pytest.raises(KeyStoreUnusable) as refused:
        open_service()
    assert refused.value.details == {"key": "hmac"}
    assert _on_disk(settings) == before

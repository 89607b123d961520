"""The key store lives apart from the data, refuses exposed keys, and adopts the old layout.

A copy of the data directory must hold no key: the store defaults to ``<data_dir>-keys`` beside
it and is refused inside it; a key file the group or others can read is refused at load.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from optinface.consent.errors import KeyFileExposed, KeyStoreUnusable
from optinface.consent.keystore import FileKeyStore, open_key_store
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import FakeClock, World


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
        FileKeyStore(folder)


def test_a_replaced_or_destroyed_secret_is_overwritten_not_only_unlinked(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
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


def test_keys_of_the_old_layout_move_out_of_the_data_directory(
    settings: ConsentSettings, tmp_path: Path
) -> None:
    legacy = settings.data_dir / "keys"
    legacy.mkdir(parents=True, mode=0o700)
    for name, value in (("master", b"M" * 32), ("hmac", b"H" * 32)):
        (legacy / f"{name}.key").write_bytes(value)
        (legacy / f"{name}.key").chmod(0o600)
    os.link(legacy / "master.key", tmp_path / "old-master")
    store = open_key_store(settings)
    assert not legacy.exists()
    assert store.epochs() == [1]
    assert store.read_secret("hmac") == b"H" * 32
    assert (settings.keys_dir / "epoch-1.key").read_bytes() == b"M" * 32
    assert (tmp_path / "old-master").read_bytes() == bytes(32)

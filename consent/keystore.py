"""The key store: where the server's secrets live, apart from the data they protect.

A copy of the data directory (a backup, a snapshot, a stolen disk) must not carry the keys that
decrypt it, so the store is a separate folder (``OPTINFACE_KEY_DIR``, refused inside the data
directory) or a PKCS#11 token (:mod:`consent.pkcs11_store`). It holds:

- *epoch keys*, numbered, which wrap every subject's data key. Only the newest wraps; an
  older one is destroyed once every live subject key is re-wrapped under a newer one
  (:mod:`consent.epochs`), which is what makes an erased subject's row in an old copy of the
  ledger undecryptable;
- *index-file keys*, one per saved index file (random ids, so workers sharing the store never
  pick the same), each wrapping that file's data key. An erasure destroys every one of them
  once it commits (:func:`consent.keys.destroy_index_file_keys`), so no index file saved before
  it opens any more, wherever it was copied; a running worker saves its index again under a
  new one;
- *named secrets*: the signing seed, the HMAC key, the template-protection rotation and the
  index key.

The file backend keeps each secret in its own 0600 file and refuses to load one that the group
or others may read, or that is not a file. A replaced or destroyed key file is overwritten before
it is unlinked.

Keys are created only for a new deployment (``create``): once the ledger holds data, a key that
is missing is refused, never replaced, since a new key would open nothing the old one protected
(:meth:`consent.keys.KeyRing.open`).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from optinface.consent.crypto import KEY_BYTES, NONCE_BYTES, new_key, open_sealed, seal
from optinface.consent.errors import KeyFileExposed, KeyStoreUnusable, KeyUnavailable
from optinface.consent.settings import ConsentSettings, KeyStoreKind
from optinface.engine.files import (
    PRIVATE_DIR_MODE,
    lies_within,
    open_if_exists,
    shred,
    shred_path,
    write_private_atomic,
)

_EPOCH_FILE = re.compile(r"^epoch-(\d+)\.key$")
_INDEX_FILE_KEY = re.compile(r"^index-file-([0-9a-f]{16})\.key$")
_SECRET_NAME = re.compile(r"^[a-z][a-z0-9-]*(\.next)?$")


class KeyStore(Protocol):
    """What the consent core asks of a key store; key bytes of epochs never have to leave it."""

    def read_secret(self, name: str) -> bytes | None:
        """The named secret, or None when there is none."""

    def put_secret(self, name: str, value: bytes) -> None:
        """Store ``value`` under ``name``, destroying the value it replaces."""

    def destroy_secret(self, name: str) -> None:
        """Destroy the named secret (a no-op when absent)."""

    def epochs(self) -> list[int]:
        """The epoch keys that exist, oldest first."""

    def new_epoch(self) -> int:
        """Create the next epoch key, durably, and return its number."""

    def wrap(self, epoch: int, key: bytes, *, associated: bytes) -> bytes:
        """``key`` encrypted under epoch ``epoch`` (inside the token for PKCS#11)."""

    def unwrap(self, epoch: int, blob: bytes, *, associated: bytes) -> bytes:
        """Raises :class:`KeyUnavailable` when the epoch is destroyed, ValueError when forged."""

    def import_epoch(self, epoch: int, key: bytes) -> None:
        """Install ``key`` as epoch ``epoch`` (adopting an older layout's master key)."""

    def destroy_epoch(self, epoch: int) -> None:
        """Destroy epoch ``epoch``'s key for good."""

    def index_file_keys(self) -> list[int]:
        """The ids of the index-file keys that exist."""

    def new_index_file_key(self) -> int:
        """Create a key for one saved index file, durably (in the token for PKCS#11); its id."""

    def wrap_index_file(self, key_id: int, key: bytes, *, associated: bytes) -> bytes:
        """``key`` encrypted under index-file key ``key_id``."""

    def unwrap_index_file(self, key_id: int, blob: bytes, *, associated: bytes) -> bytes:
        """Raises :class:`KeyUnavailable` once ``key_id`` is destroyed, ValueError when forged."""

    def destroy_index_file_key(self, key_id: int) -> None:
        """Destroy index-file key ``key_id`` for good (a no-op when already gone)."""

    def close(self) -> None:
        """Release the store (log out of the token)."""


def read_key(store: KeyStore, name: str) -> bytes | None:
    """The named 256-bit secret, or None when there is none.

    Raises:
        KeyStoreUnusable: the store holds something else under ``name`` (a truncated file).
    """
    return _checked(store.read_secret(name), f"the {name} key")


def load_or_create_secret(store: KeyStore, name: str) -> bytes:
    """The named 256-bit secret, created on first use."""
    secret = read_key(store, name)
    if secret is None:
        secret = new_key()
        store.put_secret(name, secret)
    return secret


def _checked(key: bytes | None, what: str) -> bytes | None:
    """``key`` unless it is not 256 bits: a damaged key is refused where it is read, not when
    a cipher or a signature first chokes on it."""
    if key is not None and len(key) != KEY_BYTES:
        raise KeyStoreUnusable(f"{what} in the key store is damaged ({len(key)} bytes, not "
                               f"{KEY_BYTES}): restore it from the key store's backup")
    return key


def _refuse_where_copied(settings: ConsentSettings) -> None:
    """A key store inside the data directory would travel with every copy of the data; inside
    the witness folder, which reviewers copy, with every copy of the witness.

    Raises:
        KeyStoreUnusable: the key directory is one of them or lies under one.
    """
    for name, folder, copied in (("data directory", settings.data_dir, "the data"),
                                 ("witness folder", settings.witness_dir, "the witness")):
        if lies_within(settings.keys_dir, folder):
            raise KeyStoreUnusable(
                f"the key directory {settings.keys_dir} lies inside the {name} {folder}: a"
                f" copy of {copied} would carry its keys; set OPTINFACE_KEY_DIR elsewhere",
                details={"key_dir": str(settings.keys_dir)})


class FileKeyStore:
    """One 0600 file per secret in a 0700 folder outside the data directory."""

    def __init__(self, folder: Path, *, create: bool) -> None:
        """``create``: make the folder if it is missing (a new deployment only).

        Raises:
            KeyStoreUnusable: the folder cannot be made, is not a folder, or is missing while
                ``create`` is false (not mounted, or another path).
            KeyFileExposed: the folder is open to the group or others.
        """
        self.folder = folder
        if not create and not folder.exists():
            raise KeyStoreUnusable(f"key directory {folder} does not exist, while the ledger "
                                   "holds data its keys protect: mount or restore it there, or "
                                   "set OPTINFACE_KEY_DIR to where it is",
                                   details={"key_dir": str(folder)})
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        except OSError as error:
            raise KeyStoreUnusable(f"key directory {folder}: {error.strerror}") from error
        if folder.stat().st_mode & 0o077:
            raise KeyFileExposed(f"key directory {folder} is open to the group or others "
                                 "(chmod 700 it)", details={"path": str(folder)})

    def _path(self, name: str) -> Path:
        if not _SECRET_NAME.fullmatch(name):
            raise ValueError(f"not a key name: {name!r}")
        return self.folder / f"{name}.key"

    def _epoch_path(self, epoch: int) -> Path:
        return self.folder / f"epoch-{epoch}.key"

    def read_secret(self, name: str) -> bytes | None:
        return _read_private(self._path(name))

    def put_secret(self, name: str, value: bytes) -> None:
        """Replace the file atomically (a crash leaves the old value or the new one), then
        overwrite the old content, held open across the rename, so it does not linger on disk.
        A write that fails leaves the old file as it was: shredding it then would zero the key
        in use (an all-zero Ed25519 seed, which anyone can sign with)."""
        path = self._path(name)
        with _written(path):
            replaced = open_if_exists(path)  # kept open to overwrite the old content once renamed
            try:
                write_private_atomic(path, value)
            except BaseException:
                if replaced is not None:
                    os.close(replaced)
                raise
            if replaced is not None:
                shred(replaced)

    def destroy_secret(self, name: str) -> None:
        _destroy(self._path(name))

    def epochs(self) -> list[int]:
        found = (_EPOCH_FILE.fullmatch(path.name) for path in self.folder.iterdir())
        return sorted(int(match.group(1)) for match in found if match)

    def new_epoch(self) -> int:
        epoch = max(self.epochs(), default=0) + 1
        self.import_epoch(epoch, new_key())
        return epoch

    def import_epoch(self, epoch: int, key: bytes) -> None:
        _write(self._epoch_path(epoch), key)

    def _epoch_key(self, epoch: int) -> bytes:
        return _wrapping_key(self._epoch_path(epoch), f"epoch key {epoch}", {"epoch": epoch})

    def wrap(self, epoch: int, key: bytes, *, associated: bytes) -> bytes:
        return _wrap(self._epoch_key(epoch), key, associated=associated)

    def unwrap(self, epoch: int, blob: bytes, *, associated: bytes) -> bytes:
        return _unwrap(self._epoch_key(epoch), blob, associated=associated)

    def destroy_epoch(self, epoch: int) -> None:
        _destroy(self._epoch_path(epoch))

    def _index_file_path(self, key_id: int) -> Path:
        return self.folder / f"index-file-{key_id:016x}.key"

    def index_file_keys(self) -> list[int]:
        found = (_INDEX_FILE_KEY.fullmatch(path.name) for path in self.folder.iterdir())
        return sorted(int(match.group(1), 16) for match in found if match)

    def new_index_file_key(self) -> int:
        key_id = new_key_id()
        _write(self._index_file_path(key_id), new_key())
        return key_id

    def _index_file_key(self, key_id: int) -> bytes:
        return _wrapping_key(self._index_file_path(key_id), f"index-file key {key_id:016x}",
                             {"index_file_key": f"{key_id:016x}"})

    def wrap_index_file(self, key_id: int, key: bytes, *, associated: bytes) -> bytes:
        return _wrap(self._index_file_key(key_id), key, associated=associated)

    def unwrap_index_file(self, key_id: int, blob: bytes, *, associated: bytes) -> bytes:
        return _unwrap(self._index_file_key(key_id), blob, associated=associated)

    def destroy_index_file_key(self, key_id: int) -> None:
        _destroy(self._index_file_path(key_id))

    def close(self) -> None:
        """Nothing to release: files are read when used."""


def new_key_id() -> int:
    """A random 63-bit id for an index-file key: workers sharing a store make them without
    asking one another (a sequence would need the ledger's lock, which a save may not take)."""
    return secrets.randbits(63) or 1


@contextmanager
def _written(path: Path) -> Iterator[None]:
    """Writing or destroying the key file ``path``: an operating system's refusal (a read-only
    mount, a full disk, a folder in the way of the temporary file) is the key store's, one
    line with its code rather than a traceback. ``keys rotate-epoch`` and ``protect rekey``
    write the store before their ledger transaction commits, so a refusal leaves the ledger
    as it was.

    Raises:
        KeyStoreUnusable: the file cannot be written or removed.
    """
    try:
        yield
    except OSError as error:
        raise KeyStoreUnusable(f"key file {path} cannot be written: {error.strerror}",
                               details={"path": str(path)}) from error


def _write(path: Path, key: bytes) -> None:
    with _written(path):
        write_private_atomic(path, key)


def _destroy(path: Path) -> None:
    with _written(path):
        shred_path(path)


def _wrapping_key(path: Path, what: str, details: dict[str, object]) -> bytes:
    key = _checked(_read_private(path), what)
    if key is None:
        raise KeyUnavailable(f"{what} is destroyed", details=details)
    return key


def _wrap(wrapping: bytes, key: bytes, *, associated: bytes) -> bytes:
    nonce, wrapped = seal(wrapping, key, associated=associated)
    return nonce + wrapped


def _unwrap(wrapping: bytes, blob: bytes, *, associated: bytes) -> bytes:
    return open_sealed(wrapping, blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated=associated)


def _read_private(path: Path) -> bytes | None:
    """The file's bytes, refused when its mode lets the group or others read it.

    Raises:
        KeyFileExposed: the file is group- or world-accessible (someone else may have a copy).
        KeyStoreUnusable: it cannot be read (a folder in its place, no permission).
    """
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise KeyStoreUnusable(f"key file {path}: {error.strerror}",
                               details={"path": str(path)}) from error
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):  # a folder opens read-only too
        os.close(descriptor)
        raise KeyStoreUnusable(f"key file {path} is not a file", details={"path": str(path)})
    with os.fdopen(descriptor, "rb") as stream:
        if os.fstat(stream.fileno()).st_mode & 0o077:
            raise KeyFileExposed(f"key file {path.name} is readable by the group or others "
                                 "(chmod 600 it, and consider the key compromised)",
                                 details={"path": str(path)})
        return stream.read()


def open_key_store(settings: ConsentSettings, *, create: bool) -> KeyStore:
    """The configured backend, after refusing a key folder inside the data directory; an older
    layout's keys moved into it.

    ``create``: a new deployment, whose key folder may be made (:class:`FileKeyStore`).

    Raises:
        KeyStoreUnusable: the folder lies inside the data directory, or the token is unusable.
        KeyFileExposed: the key folder is open to the group or others.
    """
    legacy = settings.data_dir / LEGACY_FOLDER
    store = _configured(settings, create=create or legacy.is_dir())
    if settings.key_store is KeyStoreKind.FILE:
        adopt_legacy_keys(legacy, store)
    return store


def open_key_store_to_read(settings: ConsentSettings) -> KeyStore | None:
    """The configured backend for a tool that only reads a key from it (``optinface audit
    verify``), or None where the key folder does not exist (an auditor holding a copy of the
    data and the witness, not the keys). Nothing is made, and an older layout's keys are left
    where they are. Raises as :func:`open_key_store` does."""
    if settings.key_store is KeyStoreKind.FILE and not settings.keys_dir.exists():
        return None
    return _configured(settings, create=False)


def _configured(settings: ConsentSettings, *, create: bool) -> KeyStore:
    if settings.key_store is KeyStoreKind.PKCS11:
        from optinface.consent.pkcs11_store import Pkcs11KeyStore  # only where configured

        return Pkcs11KeyStore.from_settings(settings)
    _refuse_where_copied(settings)
    return FileKeyStore(settings.keys_dir, create=create)


LEGACY_FOLDER = "keys"
"""Where keys lived before the key store: ``<data_dir>/keys``, inside every copy of the data."""


def adopt_legacy_keys(legacy: Path, store: KeyStore) -> None:
    """Move keys of an older layout into the store, then shred them out of the data directory.

    The old master key becomes epoch 1, the epoch that migration 0005 gives existing rows.
    """
    if not legacy.is_dir():
        return
    for path in sorted(legacy.glob("*.key")):
        value = _read_private(path)
        assert value is not None
        name = path.stem
        if name == "master":
            if not store.epochs():
                store.import_epoch(1, value)
        elif store.read_secret(name) is None:
            store.put_secret(name, value)
        shred_path(path)
    for leftover in legacy.iterdir():
        shred_path(leftover)
    legacy.rmdir()

"""The PKCS#11 key store: epoch keys that never leave the token (an HSM, or SoftHSM2 in tests).

Epoch keys are AES-256 token objects generated inside the token, sensitive and not extractable:
wrapping and unwrapping a subject's data key is an AES-GCM operation the token performs, so
neither a copy of the data directory nor a copy of the server's memory yields an epoch key.
Destroying an epoch is ``C_DestroyObject``. Index-file keys (one per saved index file, which an
erasure destroys) are AES keys made the same way, under their own labels. The other secrets
(signing seed, HMAC key, rotation, index key) are private data objects on the token: the
server needs their bytes in memory.

One session per store, used under a lock: PKCS#11 sessions are not safe to share across
threads, and the server calls in from its request and sweeper threads.
"""

from __future__ import annotations

import os
import threading
from typing import Any, NamedTuple

import pkcs11
from pkcs11 import Attribute, GCMParams, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import (
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    GeneralError,
    NoSuchKey,
    NoSuchToken,
    ObjectHandleInvalid,
    PKCS11Error,
)

from optinface.consent.crypto import KEY_BYTES, NONCE_BYTES, TAG_BYTES
from optinface.consent.errors import KeyStoreUnusable, KeyUnavailable
from optinface.consent.keystore import new_key_id
from optinface.consent.settings import ConsentSettings

_PREFIX = "optinface-"
_EPOCH_PREFIX = f"{_PREFIX}epoch-"
_INDEX_FILE_PREFIX = f"{_PREFIX}index-file-"
_FAILED_CHECK = (EncryptedDataInvalid, EncryptedDataLenRange, GeneralError)
"""The token's answers to a ciphertext that fails its GCM check: SoftHSM2 reports a failed
tag as ``CKR_GENERAL_ERROR``, so a fault the token reports that way reads as one too, which
is why a rotation checks the epoch key itself, and tries each key that failed once more,
before deleting what it does not open (:func:`consent.epochs.rotate_epoch`)."""


_GENERATION = "optinface generation "
"""A named secret's ``CKA_APPLICATION``: its generation, one above the object it replaces (an
object written before generations has none: 0)."""


def _generation(obj: Any) -> int:
    """The generation a data object states (0 for none, or one this module did not write)."""
    stated = str(obj[Attribute.APPLICATION] or "")
    number = stated.removeprefix(_GENERATION)
    return int(number) if stated.startswith(_GENERATION) and number.isdigit() else 0


class _KeyRef(NamedTuple):
    """A token key's label, and how a refusal names it."""

    label: str
    what: str
    details: dict[str, object]

    @classmethod
    def epoch(cls, epoch: int) -> _KeyRef:
        return cls(f"{_EPOCH_PREFIX}{epoch}", f"epoch key {epoch}", {"epoch": epoch})

    @classmethod
    def index_file(cls, key_id: int) -> _KeyRef:
        return cls(f"{_INDEX_FILE_PREFIX}{key_id:016x}", f"index-file key {key_id:016x}",
                   {"index_file_key": f"{key_id:016x}"})


class Pkcs11KeyStore:
    """Epoch keys and secrets as objects of one token, found by label."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: ConsentSettings) -> Pkcs11KeyStore:
        """Log in to the configured token.

        Raises:
            KeyStoreUnusable: no module, no such token, or the PIN is refused.
        """
        if settings.pkcs11_module is None or settings.pkcs11_pin is None:
            raise KeyStoreUnusable("the pkcs11 key store needs OPTINFACE_PKCS11_MODULE and "
                                   "OPTINFACE_PKCS11_PIN")
        try:
            token = pkcs11.lib(str(settings.pkcs11_module)).get_token(
                token_label=settings.pkcs11_token_label)
            session = token.open(rw=True, user_pin=settings.pkcs11_pin.get_secret_value())
        except (NoSuchToken, PKCS11Error, RuntimeError, OSError) as error:
            # The PIN and the error text never reach the message: only what was asked for.
            raise KeyStoreUnusable(
                f"PKCS#11 token {settings.pkcs11_token_label!r} unusable "
                f"({type(error).__name__})",
                details={"token": settings.pkcs11_token_label}) from error
        return cls(session)

    # Named secrets: private data objects --------------------------------------------------------
    def _versions(self, name: str) -> list[tuple[int, Any]]:
        """Every object the token holds under ``name``, with its generation, oldest first."""
        found = self._session.get_objects({Attribute.CLASS: ObjectClass.DATA,
                                           Attribute.LABEL: _PREFIX + name})
        return sorted(((_generation(obj), obj) for obj in found), key=lambda pair: pair[0])

    def _data(self, name: str) -> Any | None:
        """The object in force under ``name``: the newest generation. Two of the newest (the
        leftover of a write by a version before generations) are refused, never one picked
        in token order: it could be a retired receipt key.

        Raises:
            KeyStoreUnusable: two objects of the newest generation.
        """
        versions = self._versions(name)
        if len(versions) > 1 and versions[-1][0] == versions[-2][0]:
            raise KeyStoreUnusable(
                f"the token holds several {name!r} objects and none is newest: destroy the"
                " ones not in force (the receipt key in force is not in the retired record)",
                details={"secret": name})
        return versions[-1][1] if versions else None

    def read_secret(self, name: str) -> bytes | None:
        with self._lock:
            found = self._data(name)
            return None if found is None else bytes(found[Attribute.VALUE])

    def put_secret(self, name: str, value: bytes) -> None:
        """Store ``value`` as a private, unmodifiable token object named ``name``, one
        generation above every object under that name, then destroy those.

        The new object is created before the old ones are destroyed, so a failure in between
        never leaves ``name`` without a value, and the newest generation is the one read: an
        old object left (a receipt key's retired private half) is never read, and the next
        write destroys it.
        """
        with self._lock:
            old = self._versions(name)
            generation = old[-1][0] + 1 if old else 1
            self._session.create_object({
                Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True,
                Attribute.PRIVATE: True, Attribute.MODIFIABLE: False,
                Attribute.LABEL: _PREFIX + name, Attribute.VALUE: value,
                Attribute.APPLICATION: f"{_GENERATION}{generation}"})
            for _, obj in old:
                obj.destroy()

    def destroy_secret(self, name: str) -> None:
        with self._lock:
            for _, obj in self._versions(name):
                obj.destroy()

    # Epoch keys and index-file keys: AES keys generated in the token, never extractable -------
    def _aes_keys(self, prefix: str, *, base: int) -> dict[int, Any]:
        keys = self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                          Attribute.KEY_TYPE: KeyType.AES})
        return {int(key.label[len(prefix):], base): key for key in keys
                if key.label.startswith(prefix)}

    def _generate(self, label: str) -> None:
        """An AES key generated inside the token, sensitive and not extractable: its bytes
        never exist outside the token."""
        self._session.generate_key(
            KeyType.AES, KEY_BYTES * 8, label=label, store=True,
            template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                      Attribute.PRIVATE: True, Attribute.ENCRYPT: True,
                      Attribute.DECRYPT: True})

    def _aes_key(self, ref: _KeyRef) -> Any:
        try:
            return self._session.get_key(object_class=ObjectClass.SECRET_KEY,
                                         key_type=KeyType.AES, label=ref.label)
        except NoSuchKey as error:
            raise KeyUnavailable(f"{ref.what} is destroyed", details=ref.details) from error

    def _wrap(self, ref: _KeyRef, key: bytes, *, associated: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        with self._lock:
            sealed = self._aes_key(ref).encrypt(
                key, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, associated))
        return nonce + bytes(sealed)

    def _unwrap(self, ref: _KeyRef, blob: bytes, *, associated: bytes) -> bytes:
        """The data key in ``blob``, decrypted by the token. As with the file store, a destroyed
        key raises :class:`KeyUnavailable` and a forged or rebound blob ``ValueError``; any
        other fault of the token (device, session, login) :class:`KeyStoreUnusable`, never
        ``ValueError``: a caller deletes what fails its check (an epoch rotation), never what a
        hiccup of the token left unread. A blob too short to hold a nonce and a tag is
        ``ValueError`` before the token sees it (a token rejects its IV or length as a bad
        argument, which would read as a fault of the token)."""
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise ValueError("wrapped key too short to hold a nonce and a tag")
        with self._lock:
            try:
                return bytes(self._aes_key(ref).decrypt(
                    blob[NONCE_BYTES:], mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(blob[:NONCE_BYTES], associated)))
            except _FAILED_CHECK as error:
                raise ValueError("wrapped key failed authentication") from error
            except ObjectHandleInvalid as error:
                raise KeyUnavailable(f"{ref.what} is destroyed", details=ref.details) from error
            except PKCS11Error as error:
                raise KeyStoreUnusable(f"the token failed to unwrap under {ref.what} "
                                       f"({type(error).__name__})",
                                       details=ref.details) from error

    def _destroy(self, prefix: str, number: int, *, base: int) -> None:
        with self._lock:
            found = self._aes_keys(prefix, base=base).get(number)
            if found is not None:
                try:
                    found.destroy()
                except pkcs11.exceptions.ObjectHandleInvalid:
                    pass  # another worker destroyed it first (the same rotation or erasure)

    def epochs(self) -> list[int]:
        with self._lock:
            return sorted(self._aes_keys(_EPOCH_PREFIX, base=10))

    def new_epoch(self) -> int:
        with self._lock:
            epoch = max(self._aes_keys(_EPOCH_PREFIX, base=10), default=0) + 1
            self._generate(f"{_EPOCH_PREFIX}{epoch}")
            return epoch

    def import_epoch(self, epoch: int, key: bytes) -> None:
        raise KeyStoreUnusable("an older layout's master key cannot be imported into a token: "
                               "start on the file key store, then move")

    def wrap(self, epoch: int, key: bytes, *, associated: bytes) -> bytes:
        return self._wrap(_KeyRef.epoch(epoch), key, associated=associated)

    def unwrap(self, epoch: int, blob: bytes, *, associated: bytes) -> bytes:
        return self._unwrap(_KeyRef.epoch(epoch), blob, associated=associated)

    def destroy_epoch(self, epoch: int) -> None:
        self._destroy(_EPOCH_PREFIX, epoch, base=10)

    def index_file_keys(self) -> list[int]:
        with self._lock:
            return sorted(self._aes_keys(_INDEX_FILE_PREFIX, base=16))

    def new_index_file_key(self) -> int:
        key_id = new_key_id()
        with self._lock:
            self._generate(f"{_INDEX_FILE_PREFIX}{key_id:016x}")
        return key_id

    def wrap_index_file(self, key_id: int, key: bytes, *, associated: bytes) -> bytes:
        return self._wrap(_KeyRef.index_file(key_id), key, associated=associated)

    def unwrap_index_file(self, key_id: int, blob: bytes, *, associated: bytes) -> bytes:
        return self._unwrap(_KeyRef.index_file(key_id), blob, associated=associated)

    def destroy_index_file_key(self, key_id: int) -> None:
        self._destroy(_INDEX_FILE_PREFIX, key_id, base=16)

    def close(self) -> None:
        with self._lock:
            self._session.close()

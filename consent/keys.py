"""The server's secrets, held by the key store (:mod:`consent.keystore`), never in the data.

- *epoch keys* wrap every subject's data key. Destroying a subject's wrapped key makes their
  templates unreadable in the live database at once; a copy made before (a backup, a snapshot,
  the WAL) still holds the wrapped key, and becomes unreadable only when the epoch key that
  wrapped it is destroyed, at the next epoch rotation (:mod:`consent.epochs`, every
  ``OPTINFACE_KEY_EPOCH_HOURS``). Until then a copy plus the key store can decrypt it.
- ``signing``: Ed25519, signs consent receipts and erasure receipts.
- ``checkpoint``: Ed25519, signs the audit log's checkpoints (C2SP notes) and nothing else, so a
  receipt signature can never pass for a checkpoint nor the reverse (:mod:`consent.notes`); in
  the key store, so a copy of the data cannot sign one.
- ``rotation``: the template-protection rotation (:mod:`engine.protection`).
- ``index``: encrypts the saved index file (:mod:`engine.index_file`).
- ``hmac``: keys the tombstone hashes and the API-key hashes, so neither can be brute-forced
  from a copy of the database alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from optinface.consent.keystore import KeyStore, load_or_create_secret
from optinface.engine.protection import TemplateProtector

SIGNING_KEY_NAME = "signing"
HMAC_KEY_NAME = "hmac"
ROTATION_KEY_NAME = "rotation"
CHECKPOINT_KEY_NAME = "checkpoint"
INDEX_KEY_NAME = "index"


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The key store, the epoch that wraps new subject keys, and the secrets loaded once."""

    store: KeyStore
    epoch: int
    signing: Ed25519PrivateKey
    hmac_key: bytes
    checkpoint: Ed25519PrivateKey
    index_key: bytes

    @classmethod
    def open(cls, store: KeyStore) -> KeyRing:
        """The newest epoch wraps; the first run creates epoch 1 and the secrets."""
        epochs = store.epochs()
        return cls(
            store=store,
            epoch=epochs[-1] if epochs else store.new_epoch(),
            signing=Ed25519PrivateKey.from_private_bytes(
                load_or_create_secret(store, SIGNING_KEY_NAME)),
            hmac_key=load_or_create_secret(store, HMAC_KEY_NAME),
            checkpoint=Ed25519PrivateKey.from_private_bytes(
                load_or_create_secret(store, CHECKPOINT_KEY_NAME)),
            index_key=load_or_create_secret(store, INDEX_KEY_NAME),
        )

    @property
    def public_key(self) -> str:
        """The Ed25519 public key, base64 of the 32 raw bytes: all a verifier needs."""
        return _public_key(self.signing)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.signing.sign(message)).decode("ascii")

    def keyed_hash(self, value: str, *, domain: str) -> str:
        """HMAC-SHA256 of ``value``; ``domain`` separates uses (tombstones vs API keys)."""
        return hmac.new(
            self.hmac_key, f"{domain}:{value}".encode(), hashlib.sha256
        ).hexdigest()

    def wrap(self, data_key: bytes, *, subject_id: int) -> tuple[int, bytes]:
        """``data_key`` wrapped under the current epoch: (epoch, wrapped bytes)."""
        return self.epoch, self.store.wrap(self.epoch, data_key,
                                           associated=_key_binding(subject_id))

    def unwrap(self, blob: bytes, *, subject_id: int, epoch: int) -> bytes:
        """Raises :class:`KeyUnavailable` once ``epoch`` is destroyed."""
        return self.store.unwrap(epoch, blob, associated=_key_binding(subject_id))


def public_key_of(seed: bytes) -> str:
    """The published form of the signing key whose seed is ``seed``."""
    return _public_key(Ed25519PrivateKey.from_private_bytes(seed))


def _public_key(signing: Ed25519PrivateKey) -> str:
    raw = signing.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode("ascii")


def load_protector(store: KeyStore, *, name: str = ROTATION_KEY_NAME) -> TemplateProtector:
    """The template-protection rotation held by the store, created on first run."""
    raw = store.read_secret(name)
    if raw is not None:
        return TemplateProtector.from_bytes(raw)
    protector = TemplateProtector.generate()
    store.put_secret(name, protector.to_bytes())
    return protector


def _key_binding(subject_id: int) -> bytes:
    return f"subject-key:{subject_id}".encode()


def template_binding(*, template_id: int, subject_id: int, model_id: str) -> bytes:
    """Associated data of a template ciphertext: moving it to another row breaks decryption."""
    return f"template:{template_id}:{subject_id}:{model_id}".encode()

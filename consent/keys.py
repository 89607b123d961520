"""The server's secrets, created on first run as 0600 files under ``<data_dir>/keys``.

- ``master.key``: wraps every subject's data key. Destroying a subject's wrapped key makes any
  backup of that subject's templates unreadable (crypto-shredding).
- ``signing.key``: Ed25519, signs consent receipts and erasure receipts.
- ``checkpoint.key``: Ed25519, signs the audit log's checkpoints and nothing else, kept in the key
  folder outside the data directory (``OPTINFACE_KEY_DIR``): a receipt signature can never pass
  for a checkpoint, and a copy of the data cannot sign one (:mod:`consent.notes`).
- ``hmac.key``: keys the tombstone hashes and the API-key hashes, so neither can be
  brute-forced from a copy of the database alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from optinface.consent.crypto import new_key, open_sealed, seal
from optinface.engine.files import write_private_atomic


def _load_or_create_secret(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes()
    secret = new_key()
    write_private_atomic(path, secret)
    return secret


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The server secrets, loaded once."""

    master: bytes
    signing: Ed25519PrivateKey
    hmac_key: bytes
    checkpoint: Ed25519PrivateKey

    @classmethod
    def load_or_create(
        cls, *, master_path: Path, signing_path: Path, hmac_path: Path, checkpoint_path: Path
    ) -> KeyRing:
        signing_seed = _load_or_create_secret(signing_path)
        return cls(
            master=_load_or_create_secret(master_path),
            signing=Ed25519PrivateKey.from_private_bytes(signing_seed),
            hmac_key=_load_or_create_secret(hmac_path),
            checkpoint=Ed25519PrivateKey.from_private_bytes(
                _load_or_create_secret(checkpoint_path)),
        )

    @property
    def public_key(self) -> str:
        """The Ed25519 public key, base64 of the 32 raw bytes: all a verifier needs."""
        raw = self.signing.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode("ascii")

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.signing.sign(message)).decode("ascii")

    def keyed_hash(self, value: str, *, domain: str) -> str:
        """HMAC-SHA256 of ``value``; ``domain`` separates uses (tombstones vs API keys)."""
        return hmac.new(
            self.hmac_key, f"{domain}:{value}".encode(), hashlib.sha256
        ).hexdigest()

    def wrap(self, data_key: bytes, *, subject_id: int) -> bytes:
        nonce, wrapped = seal(self.master, data_key, associated=_key_binding(subject_id))
        return nonce + wrapped

    def unwrap(self, blob: bytes, *, subject_id: int) -> bytes:
        return open_sealed(self.master, blob[:12], blob[12:], associated=_key_binding(subject_id))


def _key_binding(subject_id: int) -> bytes:
    return f"subject-key:{subject_id}".encode()


def template_binding(*, template_id: int, subject_id: int, model_id: str) -> bytes:
    """Associated data of a template ciphertext: moving it to another row breaks decryption."""
    return f"template:{template_id}:{subject_id}:{model_id}".encode()

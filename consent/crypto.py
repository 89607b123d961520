"""AES-256-GCM for template ciphertexts and wrapped keys, and canonical JSON for signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
"""AES-GCM's authentication tag: a wrapped key is at least nonce and tag long."""


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, *, associated: bytes,
         nonce: bytes | None = None) -> tuple[bytes, bytes]:
    """Encrypt; ``associated`` binds the ciphertext to its row so rows cannot be swapped.
    ``nonce``: a new random one unless given, which only a key used for the first time may be
    (a nonce must never serve twice under one key)."""
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    return nonce, AESGCM(key).encrypt(nonce, plaintext, associated)


def open_sealed(key: bytes, nonce: bytes, ciphertext: bytes, *, associated: bytes) -> bytes:
    """Decrypt, or raise ``ValueError`` when the key, the nonce or the binding is wrong."""
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated)
    except InvalidTag as error:
        raise ValueError("ciphertext failed authentication") from error


def tokens_match(expected: str, given: str) -> bool:
    """Compare in constant time as UTF-8 bytes: ``compare_digest`` raises TypeError on a str
    with any non-ASCII character, and a form field or a cookie may hold one (a 500)."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"),
                               given.encode("utf-8", "surrogatepass"))


def canonical_json(payload: Any) -> bytes:
    """The one byte form that is hashed and signed: sorted keys, compact, UTF-8."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def with_sha256(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` naming its own version: the SHA-256 of its canonical JSON, in ``sha256``."""
    return {**body, "sha256": hashlib.sha256(canonical_json(body)).hexdigest()}


def sha256_problem(stated: object, *, not_one: str, mismatch: str) -> str | None:
    """Why ``stated`` (a copy in a receipt, so anything) is not the text its ``sha256`` names:
    ``not_one`` when it is no object at all, ``mismatch`` when its text was changed; or None."""
    if not isinstance(stated, dict):
        return not_one
    body = {key: value for key, value in stated.items() if key != "sha256"}
    return None if with_sha256(body) == stated else mismatch

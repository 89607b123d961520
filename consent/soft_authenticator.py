"""A SOFTWARE PASSKEY AUTHENTICATOR, for tests, the demo and the notebook of ``docs/library.md``
only.

It is not a mock: it produces the same WebAuthn registration and assertion responses a phone or
a security key produces (an EC P-256 key, ``none`` attestation, authenticator data with the user
present and verified flags, an ECDSA signature over authenticator data and the client data
hash), and the server checks them with the real ``webauthn`` library exactly as it checks a
browser's. What makes it unfit for real people is where the private key lives: in this
process's memory, so whoever runs the process could sign in the person's name. In production the
person's own device holds the key (the portal's JavaScript calls ``navigator.credentials``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_USER_PRESENT = 0x01
FLAG_USER_VERIFIED = 0x04
FLAG_ATTESTED_DATA = 0x40
AAGUID = b"\x00" * 16  # "none" attestation: no make or model disclosed
COSE_EC2, COSE_ES256, COSE_P256 = 2, -7, 1


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class _Key:
    private: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    """One person's software authenticator: it may hold passkeys for several relying parties.

    ``origin`` is where the "browser" runs (``clientDataJSON.origin``); ``verifies_user``
    False is a security key that only tests presence (no PIN, no biometric), which the service
    must refuse.
    """

    origin: str
    _keys: dict[bytes, _Key] = field(default_factory=dict)
    verifies_user: bool = True

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        """The answer to ``navigator.credentials.create({publicKey: options})`` (JSON form)."""
        rp_id = options["rp"]["id"]
        credential_id = os.urandom(32)
        key = _Key(ec.generate_private_key(ec.SECP256R1()), rp_id,
                   from_b64url(options["user"]["id"]))
        self._keys[credential_id] = key
        numbers = key.private.public_key().public_numbers()
        cose = cbor2.dumps({1: COSE_EC2, 3: COSE_ES256, -1: COSE_P256,
                            -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        auth_data = (self._auth_data(key, FLAG_ATTESTED_DATA) + AAGUID
                     + struct.pack(">H", len(credential_id)) + credential_id + cose)
        client_data = self._client_data("webauthn.create", options["challenge"])
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(credential_id), "rawId": b64url(credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data),
                         "attestationObject": b64url(attestation),
                         "transports": ["internal"]},
            "clientExtensionResults": {}, "authenticatorAttachment": "platform",
        }

    def get(self, options: dict[str, Any]) -> dict[str, Any]:
        """The answer to ``navigator.credentials.get({publicKey: options})`` (JSON form).

        With an empty ``allowCredentials`` it uses its (only) passkey for the relying party,
        as a discoverable credential would.
        """
        allowed = [from_b64url(c["id"]) for c in options.get("allowCredentials") or []]
        candidates = [cid for cid, key in self._keys.items()
                      if key.rp_id == options["rpId"] and (not allowed or cid in allowed)]
        if not candidates:
            raise LookupError("this authenticator holds no passkey for that request")
        credential_id = candidates[-1]
        key = self._keys[credential_id]
        auth_data = self._auth_data(key, 0)
        client_data = self._client_data("webauthn.get", options["challenge"])
        signature = key.private.sign(auth_data + hashlib.sha256(client_data).digest(),
                                     ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(credential_id), "rawId": b64url(credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data),
                         "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature), "userHandle": b64url(key.user_handle)},
            "clientExtensionResults": {}, "authenticatorAttachment": "platform",
        }

    def export(self) -> list[dict[str, Any]]:
        """Its passkeys in the form of DevTools' ``WebAuthn.addCredential``, so that a browser
        test can sign in as the same person (the private key leaves only for the test)."""
        return [{"credentialId": base64.b64encode(cid).decode(), "isResidentCredential": True,
                 "rpId": key.rp_id, "signCount": key.sign_count,
                 "userHandle": base64.b64encode(key.user_handle).decode(),
                 "privateKey": base64.b64encode(key.private.private_bytes(
                     serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                     serialization.NoEncryption())).decode()}
                for cid, key in self._keys.items()]

    def _auth_data(self, key: _Key, extra_flags: int) -> bytes:
        key.sign_count += 1
        flags = FLAG_USER_PRESENT | extra_flags | (FLAG_USER_VERIFIED if self.verifies_user else 0)
        return (hashlib.sha256(key.rp_id.encode()).digest() + bytes([flags])
                + struct.pack(">I", key.sign_count))

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin,
                           "crossOrigin": False}).encode()

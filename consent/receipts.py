"""Signed receipts: Kantara-style consent receipts and erasure receipts.

A receipt is a JSON object; its signature is Ed25519 over the canonical JSON (sorted keys,
compact separators, UTF-8). :func:`verify_receipt` needs nothing but the public key, so a
subject, a regulator or a court can check a receipt without access to optinface.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from optinface.consent.crypto import canonical_json

CONSENT_RECEIPT_VERSION = "KI-CR-v1.1.0"


def verify_receipt(receipt: dict[str, Any], signature: str, public_key: str) -> bool:
    """True when ``signature`` (base64) is the key's signature of this exact receipt."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), canonical_json(receipt))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def consent_receipt(
    *,
    receipt_id: str,
    timestamp: datetime,
    jurisdiction: str,
    method: str,
    controller: str,
    contact: str,
    pseudonym: str,
    purposes: list[dict[str, Any]],
    policy_url: str,
    notice: dict[str, str],
    public_key: str,
    expires_at: datetime,
    subject_signature: dict[str, Any],
) -> dict[str, Any]:
    """A Kantara Consent Receipt (v1.1 field names) for one consent to some purposes.

    ``subjectSignature`` is the person's own WebAuthn assertion over the statement they signed
    (:func:`consent.passkeys.verify_evidence` checks it offline): the controller's Ed25519
    signature alone would only prove what the operator says.
    """
    return {
        "subjectSignature": subject_signature,
        "version": CONSENT_RECEIPT_VERSION,
        "jurisdiction": jurisdiction,
        "consentTimestamp": int(timestamp.timestamp()),
        "consentTimestampISO": timestamp.isoformat(),
        "expiresISO": expires_at.isoformat(),
        "collectionMethod": method,
        "consentReceiptID": receipt_id,
        "publicKey": public_key,
        "language": notice["language"],
        "piiPrincipalId": pseudonym,
        "piiControllers": [{"piiController": controller, "contact": contact}],
        "policyUrl": policy_url,
        "notice": notice,
        "services": [{"service": "optinface face matching", "purposes": purposes}],
        "sensitive": True,
        "spiCat": ["biometric"],
    }

"""Signed receipts: Kantara-style consent receipts and erasure receipts.

A receipt is a JSON object; its signature is Ed25519 over the canonical JSON (sorted keys,
compact separators, UTF-8). :func:`verify_receipt` needs nothing but the public key, so a
subject, a regulator or a court can check a receipt without access to optinface.

A receipt of the person's own act (consent, withdrawal, probe consent) also carries their
WebAuthn assertion (``subjectSignature``): :func:`subject_signature_problem` checks it against
the credential public key it carries and checks that the statement signed is this receipt's
(pseudonym, notice hash, purposes, expiry), so the controller's signature alone, which the
operator can always make, never stands for the person's.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from optinface.consent.crypto import canonical_json
from optinface.consent.passkeys import verify_evidence

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


def _statement_matches(receipt: dict[str, Any], statement: dict[str, Any]) -> bool:
    """The person signed what this receipt says, not something else."""
    act = statement.get("act")
    if act == "consent":
        purposes = sorted(p["purposeId"] for service in receipt.get("services", [])
                          for p in service.get("purposes", []))
        return (statement.get("subject") == receipt.get("piiPrincipalId")
                and statement.get("notice", {}).get("sha256")
                == receipt.get("notice", {}).get("sha256")
                and statement.get("purposes") == purposes
                and statement.get("expiresAt") == receipt.get("expiresISO"))
    if act == "withdraw":
        return (statement.get("subject") == receipt.get("piiPrincipalId")
                and statement.get("consentId") == receipt.get("withdrawnConsentID"))
    if act == "probe":
        return (statement.get("probeSha256") == receipt.get("probeSha256")
                and statement.get("purposeId") == receipt.get("purposeId")
                and statement.get("researcherKeyId") == receipt.get("researcherKeyId"))
    return False


def subject_signature_problem(receipt: dict[str, Any]) -> str | None:
    """Why the person's own signature in ``receipt`` does not hold, or None when it does.

    Receipts with no ``subjectSignature`` (an erasure receipt, or a consent recorded before
    passkeys) answer None: there is no person's signature to check.
    """
    evidence = receipt.get("subjectSignature")
    if evidence is None:
        return None
    if not isinstance(evidence, dict) or not verify_evidence(evidence):
        return "the person's passkey signature does not verify"
    if not _statement_matches(receipt, evidence.get("statement") or {}):
        return "the person signed a different statement than this receipt states"
    return None

"""Signed receipts: Kantara-style consent receipts and erasure receipts.

A receipt is a JSON object; its signature is Ed25519 over the canonical JSON (sorted keys,
compact separators, UTF-8). :func:`verify_receipt` needs nothing but the public key, so a
subject, a regulator or a court can check a receipt without access to optinface.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from optinface.consent.accountability import accountability
from optinface.consent.crypto import canonical_json
from optinface.consent.schemas import Accountability, PublishedKey
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import Consent, Notice, Purpose, Subject

CONSENT_RECEIPT_VERSION = "KI-CR-v1.1.0"


def verify_receipt(receipt: dict[str, Any], signature: str, public_key: str) -> bool:
    """True when ``signature`` (base64) is the key's signature of this exact receipt."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), canonical_json(receipt))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def published_key(public_key: str) -> PublishedKey:
    """How the signing key is published: its id is a fingerprint, so a reader can compare."""
    fingerprint = hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]
    return PublishedKey(
        key_id=f"ed25519:{fingerprint}",
        public_key=public_key,
        signs=["consent receipts", "withdrawal receipts", "erasure receipts"],
    )


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
    accountability: Accountability,
    notice: dict[str, str],
    public_key: str,
    expires_at: datetime,
) -> dict[str, Any]:
    """A Kantara Consent Receipt (v1.1 field names) for one consent to some purposes."""
    return {
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
        # Who answers, the non-biometric alternative and how to exercise each right (P-39.1
        # ss. 3.1, 8; GDPR art. 13): the same record as /privacy and the access export.
        "accountability": accountability.model_dump(mode="json"),
        "notice": notice,
        "services": [{"service": "optinface face matching", "purposes": purposes}],
        "sensitive": True,
        "spiCat": ["biometric"],
    }


def receipt_for_consent(
    consent: Consent,
    *,
    subject: Subject,
    purposes: list[Purpose],
    notice: Notice,
    settings: ConsentSettings,
    public_key: str,
) -> dict[str, Any]:
    """The receipt of a consent just recorded: who, what for, under which notice, until when."""
    return consent_receipt(
        receipt_id=consent.id,
        timestamp=consent.obtained_at,
        jurisdiction=subject.jurisdiction,
        method=consent.method,
        controller=settings.controller_name,
        contact=settings.controller_contact,
        pseudonym=subject.pseudonym,
        purposes=[
            {"purposeId": p.id, "purpose": p.name, "description": p.description,
             "legalBasis": p.legal_basis, "operations": p.operations,
             "retentionDays": p.retention_days, "study": p.study,
             "purposeCategory": ["biometric identification"], "consentType": "EXPLICIT",
             "piiCategory": ["face template"], "primaryPurpose": True,
             "termination": consent.expires_at.isoformat(), "thirdPartyDisclosure": False}
            for p in purposes
        ],
        policy_url=settings.policy_url,
        accountability=accountability(settings),
        notice={"id": notice.id, "version": notice.version, "language": consent.language,
                "sha256": notice.sha256},
        public_key=public_key,
        expires_at=consent.expires_at,
    )

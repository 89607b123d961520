"""Signed receipts: Kantara-style consent receipts and erasure receipts.

A receipt is a JSON object; its signature is Ed25519 over the canonical JSON (sorted keys,
compact separators, UTF-8). :func:`verify_receipt` needs nothing but the public key, so a
subject, a regulator or a court can check a receipt without access to optinface.

A receipt of the person's own act (consent, withdrawal, probe consent) also carries their
WebAuthn assertion (``subjectSignature``): :func:`subject_signature_problem` checks it against
the credential public key it carries and checks that the statement signed is this receipt's
(pseudonym, notice hash, retention policy, purposes, recipients, expiry), so the controller's
signature alone, which the operator can always make, never stands for the person's; and that the
retention policy's text is the one its SHA-256 names.

A consent receipt names the configured recipients (GDPR art. 13(1)(e)): whole in ``recipients``
(name, purpose, legal basis, as the register and ``/privacy`` state them) and, in each purpose,
Kantara v1.1's ``thirdPartyDisclosure`` and ``thirdPartyName``. Both fields are of the version
the receipt states (KI-CR-v1.1.0), so the version is unchanged: a receipt made before recipients
were stated has neither ``recipients`` in it nor in the statement its person signed, reads as
disclosing to no one, and verifies as it always did.

A consent receipt also repeats, whole, the consent form's wording its person signed
(``wording``: the uses offered, the recipients, the safeguards and the retention rules in the
language they read, its ``language``, the texts shown in English for want of a translation, and
its SHA-256; :mod:`consent.consent_form`). The Kantara fields keep the operator's English, as
the register declares it. A receipt from before the wording was signed has it neither in the
receipt nor in the statement, and verifies as it always did.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from optinface.consent import operator_texts, row_seals
from optinface.consent.accountability import accountability
from optinface.consent.consent_form import wording_problem
from optinface.consent.crypto import canonical_json
from optinface.consent.passkeys import verify_evidence
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.retention_policy import version_problem
from optinface.consent.schemas import Accountability, PublishedKey
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import Consent, Notice, Purpose, Subject

CONSENT_RECEIPT_VERSION = "KI-CR-v1.1.0"


def parse_public_key(public_key: str) -> Ed25519PublicKey:
    """The Ed25519 key a published base64 text names.

    Raises:
        ValueError: Not base64, or not 32 bytes.
    """
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
    except binascii.Error as error:
        raise ValueError("not base64") from error


def verify_receipt(receipt: dict[str, Any], signature: str,
                   public_key: str | ReceiptKeys) -> bool:
    """True when ``signature`` (base64) is the key's signature of this exact receipt.

    ``public_key``: the one key to check with (a verifier's published key), or the
    deployment's receipt keys, of which the one the receipt names (:meth:`ReceiptKeys.signer_of`).
    """
    if isinstance(public_key, ReceiptKeys):
        public_key = public_key.signer_of(receipt)
    try:
        key = parse_public_key(public_key)
        key.verify(base64.b64decode(signature, validate=True), canonical_json(receipt))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


SIGNS = ("consent receipts", "withdrawal receipts", "erasure receipts",
         "receipts of the templates destroyed when a consent ends",
         "the register and its record of processing")
"""What the receipt key signs, as the register and ``/.well-known/optinface-keys.json`` say
(English source strings: the register's French reader gets them in French)."""


def published_key(public_key: str, *, retired_at: datetime | None = None) -> PublishedKey:
    """How the signing key is published: its id is a fingerprint, so a reader can compare;
    ``retired_at``: a key a rotation replaced (:mod:`consent.receipt_keys`)."""
    fingerprint = hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]
    return PublishedKey(
        key_id=f"ed25519:{fingerprint}",
        public_key=public_key,
        signs=list(SIGNS),
        retired_at=retired_at,
    )


def stated_recipients(settings: ConsentSettings) -> list[dict[str, str]]:
    """The configured recipients as a consent states them: what the person signs and their
    receipt names (see the module docstring)."""
    return [recipient.model_dump() for recipient in settings.recipients]


def third_party(recipients: list[dict[str, str]]) -> dict[str, Any]:
    """Each purpose's Kantara disclosure fields for ``recipients``: ``thirdPartyName`` (one
    text in v1.1, the names joined) is owed whenever ``thirdPartyDisclosure`` is true."""
    if not recipients:
        return {"thirdPartyDisclosure": False}
    return {"thirdPartyDisclosure": True,
            "thirdPartyName": "; ".join(recipient["name"] for recipient in recipients)}


def pii_controllers(controller: str, contact: str) -> list[dict[str, str]]:
    """Who answers for the processing, as every receipt names them (Kantara's field)."""
    return [{"piiController": controller, "contact": contact}]


def consent_receipt(
    *,
    receipt_id: str,
    timestamp: datetime,
    jurisdiction: str,
    method: str,
    pseudonym: str,
    purposes: list[dict[str, Any]],
    accountability: Accountability,
    notice: dict[str, str],
    retention_policy: dict[str, Any],
    recipients: list[dict[str, str]],
    public_key: str,
    expires_at: datetime,
    subject_signature: dict[str, Any],
    wording: dict[str, Any] | None = None,
    capacity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Kantara Consent Receipt (v1.1 field names) for one consent to some purposes.

    ``subjectSignature`` is the person's own WebAuthn assertion over the statement they signed
    (:func:`consent.passkeys.verify_evidence` checks it offline): the controller's Ed25519
    signature alone would only prove what the operator says. ``wording``: the consent form's,
    as they signed it (none in a statement from before it was signed). ``capacity``: who gave
    it and the declared age that let them (none on receipts signed before it was stated). The
    controller, its contact and the policy are the ``accountability`` record's, as everywhere.
    """
    return {
        # What the person read, in their language, as their passkey signed it.
        **({"wording": wording} if wording is not None else {}),
        **({"capacity": capacity} if capacity is not None else {}),
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
        "piiControllers": pii_controllers(accountability.controller_name,
                                          accountability.controller_contact),
        "policyUrl": accountability.policy_url,
        # Who answers, the non-biometric alternative and how to exercise each right (P-39.1
        # ss. 3.1, 8; GDPR art. 13): the same record as /privacy and the access export.
        "accountability": accountability.model_dump(mode="json"),
        "notice": notice,
        # The retention policy the person signed, whole, with its SHA-256 (its version).
        "retentionPolicy": retention_policy,
        # Who receives the data (GDPR art. 13(1)(e)), as the person signed it.
        "recipients": recipients,
        "services": [{"service": "optinface face matching",
                      "purposes": [{**p, **third_party(recipients)} for p in purposes]}],
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
    retention_policy: dict[str, Any],
    recipients: list[dict[str, str]],
    public_key: str,
    subject_signature: dict[str, Any],
) -> dict[str, Any]:
    """The receipt of a consent just recorded: who, what for, under which notice, disclosed to
    whom, until when, and the person's own passkey signature of it, with the wording it signed
    (taken from the statement the signature covers)."""
    return consent_receipt(
        receipt_id=consent.id,
        timestamp=consent.obtained_at,
        jurisdiction=subject.jurisdiction,
        method=consent.method,
        pseudonym=subject.pseudonym,
        purposes=[
            {"purposeId": p.id, "purpose": p.name, "description": p.description,
             "legalBasis": p.legal_basis, "operations": p.operations,
             "retentionDays": p.retention_days, "study": p.study,
             "purposeCategory": ["biometric identification"], "consentType": "EXPLICIT",
             "piiCategory": ["face template"], "primaryPurpose": True,
             "termination": consent.ends_at.isoformat()}
            for p in purposes
        ],
        accountability=accountability(settings),
        notice={"id": notice.id, "version": notice.version, "language": consent.language,
                "sha256": notice.sha256},
        retention_policy=retention_policy,
        recipients=recipients,
        public_key=public_key,
        expires_at=consent.expires_at,
        subject_signature=subject_signature,
        wording=(subject_signature.get("statement") or {}).get("wording"),
        capacity=capacity_stated(consent, subject),
    )


def capacity_stated(consent: Consent, subject: Subject) -> dict[str, Any]:
    """Who gave the consent (the person or the holder of parental authority) and the declared
    age and jurisdiction that decided it, as the service's seal vouched for them when it was
    given (:func:`consent.row_seals.require_sealed_age`): so a reader of the receipt alone sees
    whose consent it is, and a later edit of the subject's row does not change what it says."""
    return {"givenBy": consent.given_by, **row_seals.declared_age(subject)}


def _discloses_as_signed(receipt: dict[str, Any], purposes: list[dict[str, Any]],
                         signed: Any) -> bool:
    """The receipt names the recipients the person signed, and each purpose's Kantara fields
    say the same; absent from both (a receipt from before recipients were stated): no one, as
    its ``thirdPartyDisclosure`` says."""
    try:
        told = third_party(signed)
    except (KeyError, TypeError):  # a statement made elsewhere, not of our shape
        return False
    return receipt.get("recipients", []) == signed and all(
        {k: p[k] for k in ("thirdPartyDisclosure", "thirdPartyName") if k in p} == told
        for p in purposes)


KANTARA_WORDED = (("purpose", "name"), ("description", "description"),
                  ("legalBasis", "legalBasis"), ("retentionDays", "retentionDays"))
"""Each Kantara purpose field a consent receipt states (in the operator's English) beside the
field of the signed wording's use that says the same to the reader."""


def _stated_as_worded(stated: list[dict[str, Any]], wording: Any) -> bool:
    """Each purpose the receipt states is a use the signed wording offered, with its days and,
    where its reader read the operator's English (an English form, or a text listed in
    ``englishOnly`` for want of a translation), its name, description and legal basis, word for
    word: so the receipt never states a use other than the one signed. A translated text is the
    reader's, which only the service's translations relate to the English (checked when the
    consent is recorded: :func:`consent.consent_form.require_purposes_as_signed`)."""
    if wording is None:  # a receipt from before the wording was signed: nothing to compare
        return True
    try:
        read = {use["purposeId"]: use for use in wording["purposes"]}
        english = operator_texts.read_in_english(str(wording["language"]))
        untranslated = set(wording.get("englishOnly", []))
        for purpose in stated:
            use = read[purpose["purposeId"]]
            for field, worded in KANTARA_WORDED:
                checkable = (english or field == "retentionDays"
                             or {purpose[field], use[worded]} & untranslated)
                if checkable and purpose[field] != use[worded]:
                    return False
    except (KeyError, TypeError, AttributeError):  # a wording not of our shape, or a use not in it
        return False
    return True


def _statement_matches(receipt: dict[str, Any], statement: dict[str, Any]) -> bool:
    """The person signed what this receipt says, not something else."""
    act = statement.get("act")
    if act == "consent":
        stated = [p for service in receipt.get("services", [])
                  for p in service.get("purposes", [])]
        return (statement.get("subject") == receipt.get("piiPrincipalId")
                and statement.get("notice", {}).get("sha256")
                == receipt.get("notice", {}).get("sha256")
                and statement.get("retentionPolicy") == receipt.get("retentionPolicy")
                and statement.get("purposes") == sorted(p["purposeId"] for p in stated)
                and _discloses_as_signed(receipt, stated, statement.get("recipients", []))
                and statement.get("wording") == receipt.get("wording")
                and _stated_as_worded(stated, receipt.get("wording"))
                and statement.get("expiresAt") == receipt.get("expiresISO"))
    if act == "withdraw":
        # A signature naming one purpose stands only for a receipt stating that purpose
        # withdrawn. A consent withdrawal receipt made before it named the purpose (its last)
        # has no ``withdrawnPurposeID`` and verifies as it always did.
        return (statement.get("subject") == receipt.get("piiPrincipalId")
                and statement.get("consentId") == receipt.get("withdrawnConsentID")
                and ("withdrawnPurposeID" not in receipt
                     or statement.get("purposeId") == receipt["withdrawnPurposeID"]))
    if act == "probe":
        return (statement.get("probeSha256") == receipt.get("probeSha256")
                and statement.get("purposeId") == receipt.get("purposeId")
                and statement.get("researcherKeyId") == receipt.get("researcherKeyId")
                and statement.get("subject") == receipt.get("subject"))
    return False


def subject_signature_problem(receipt: dict[str, Any]) -> str | None:
    """Why the person's own signature in ``receipt`` does not hold, or None when it does.

    Receipts with no ``subjectSignature`` (an erasure receipt, or a consent recorded before
    passkeys) answer None: there is no person's signature to check.
    """
    evidence = receipt.get("subjectSignature")
    if evidence is None:  # a policy no person signed cannot be presented as agreed to
        return ("the receipt states a retention policy no signature of the person covers"
                if "retentionPolicy" in receipt else None)
    if not isinstance(evidence, dict) or not verify_evidence(evidence):
        return "the person's passkey signature does not verify"
    if not _statement_matches(receipt, evidence.get("statement") or {}):
        return "the person signed a different statement than this receipt states"
    if "wording" in receipt and (problem := wording_problem(receipt["wording"])):
        return problem
    if "retentionPolicy" in receipt:
        return version_problem(receipt["retentionPolicy"])
    return None

"""What a file handed to ``optinface receipt verify`` holds: its receipts, and what nothing signs.

A signature covers its receipt and nothing else, so the verdict must say which parts of the
file it vouches for (red team 7, #8): a genuine receipt with a forged sibling beside it, or an
access export whose templates and events were edited around its receipts, would otherwise pass
as a whole. :func:`contents` walks the whole document and finds

- every **signed receipt**: an object holding a ``receipt`` beside a ``signature`` (consent,
  withdrawal, consent-end, erasure receipts, the access export's) or a ``receipt_signature``
  (the tombstones of ``erasures.json``), whatever it is nested in, siblings included; each
  one is checked;
- every **unsigned receipt**: an object that reads as a receipt (the receipts' version, or one
  of their identifiers) with no signature beside it: the file offers it as proof, and nothing
  vouches for it, so the verdict is INVALID;
- every other part, **unchecked**: named by its path (a list's items as ``[*]``), the biggest
  parts holding no receipt, so the reader sees what the verdict does not cover.

:func:`stated` says in one line what a receipt states: its type, whose, what for, when;
:func:`not_whose`, whether it is the receipt of the pseudonym ``--pseudonym`` names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from optinface.consent.end_receipts import RECEIPT_TYPE as END_RECEIPT_TYPE
from optinface.consent.erasure_receipts import COMMITMENT, names
from optinface.consent.receipts import CONSENT_RECEIPT_VERSION

SIGNATURES = ("signature", "receipt_signature")
WRAPPER = ("receipt", *SIGNATURES, "public_key", "pseudonym_salt")
"""The parts of a signed receipt's object that the check uses: the receipt and its signature,
the key the file names (compared with the one checked with, never used) and the salt that opens
an erasure receipt's commitment to the pseudonym (``--pseudonym``)."""
RECEIPT_IDS = ("consentReceiptID", "receiptID", "probeConsentID", "withdrawnConsentID")
"""Fields only a receipt holds: an object holding one is a receipt, signed or not."""
_EVERY_ITEM = "[*]"
_ANY_INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Signed:
    """One signed receipt of the file: where it is, and its object (``receipt`` and signature)."""

    path: str
    holder: dict[str, Any]

    @property
    def receipt(self) -> Any:
        return self.holder["receipt"]

    @property
    def signature(self) -> Any:
        return next(self.holder[name] for name in SIGNATURES if name in self.holder)


@dataclass
class Contents:
    signed: list[Signed] = field(default_factory=list)
    unsigned: list[str] = field(default_factory=list)
    """The paths of objects that read as receipts and carry no signature."""
    unchecked: list[str] = field(default_factory=list)
    """The paths of the parts no signature covers, a list's items as ``[*]``, each once."""


def contents(document: Any) -> Contents:
    """The receipts of ``document`` and the parts no signature covers (module docstring)."""
    found = Contents()
    unchecked = _walk(document, "", found) or []
    found.unchecked = list(dict.fromkeys(_ANY_INDEX.sub(_EVERY_ITEM, path) for path in unchecked))
    return found


def _walk(node: Any, path: str, found: Contents) -> list[str] | None:
    """Record the receipts ``node`` holds; the paths of its parts holding none, in order, or
    None when it holds none itself (its parent then names it whole, not part by part)."""
    if isinstance(node, dict):
        if "receipt" in node and any(name in node for name in SIGNATURES):
            found.signed.append(Signed(path or "the file", node))
            return _children([(key, value) for key, value in node.items() if key not in WRAPPER],
                             path, found) or []
        if any(name in node for name in RECEIPT_IDS) or node.get("version") == (
                CONSENT_RECEIPT_VERSION):
            found.unsigned.append(path or "the file")
            return []
        return _children(list(node.items()), path, found)
    if isinstance(node, list):
        return _children([(f"[{n}]", item) for n, item in enumerate(node)], path, found)
    return None


def _children(children: list[tuple[str, Any]], path: str, found: Contents) -> list[str] | None:
    """:func:`_walk` of each child: None when no child holds a receipt."""
    parts: list[str] = []
    holds = False
    for key, value in children:
        child = f"{path}{key}" if key.startswith("[") else f"{path}.{key}" if path else key
        inside = _walk(value, child, found)
        holds = holds or inside is not None
        parts.extend([child] if inside is None else inside)
    return parts if holds else None


def stated(receipt: dict[str, Any]) -> str:
    """What ``receipt`` states, in one line: its type, whose it is, what for and when."""
    if receipt.get("type") == "erasure":
        return _erasure(receipt)
    if receipt.get("type") == END_RECEIPT_TYPE:
        destroyed = receipt.get("destroyed")
        templates = destroyed.get("templates") if isinstance(destroyed, dict) else None
        return (f"consent {receipt.get('endedConsentID')} of {receipt.get('piiPrincipalId')}"
                f" ended at {receipt.get('endedAt')} (reason: {receipt.get('reason')}):"
                f" {templates} template(s) destroyed {receipt.get('destroyedAt')}, earlier copies"
                f" undecryptable from {receipt.get('copiesUndecryptableAt')}")
    if receipt.get("receiptType") == "purpose withdrawal":
        kept = ", ".join(_purpose(p.get("name"), p.get("id"))
                         for p in _dicts(receipt.get("purposesKept")))
        return (f"purpose withdrawal {receipt.get('receiptID')} by"
                f" {receipt.get('piiPrincipalId')}: stops"
                f" {_purpose(receipt.get('withdrawnPurpose'), receipt.get('withdrawnPurposeID'))}"
                f" of consent {receipt.get('withdrawnConsentID')} at {receipt.get('withdrawnAt')};"
                + (" the consent ended with it" if receipt.get("consentWithdrawn")
                   else f" kept: {kept or 'nothing'}"))
    if "probeConsentID" in receipt:
        whose = (f"by {receipt['subject']}, the subject compared with" if "subject" in receipt
                 else "by the person in the photo (no subject)")
        return (f"probe consent {receipt['probeConsentID']} {whose}: purpose"
                f" {receipt.get('purposeId')}, photo SHA-256 {receipt.get('probeSha256')},"
                f" researcher key {receipt.get('researcherKeyId')}; signed"
                f" {receipt.get('consentTimestampISO')}, expires {receipt.get('expiresISO')}")
    if "withdrawnConsentID" in receipt:
        return (f"consent withdrawal by {receipt.get('piiPrincipalId')}: ends consent"
                f" {receipt['withdrawnConsentID']} at {receipt.get('withdrawnAt')}")
    if "consentReceiptID" in receipt:
        return _consent(receipt)
    return "a signed object of no receipt form this command knows: only its signature checked"


def _consent(receipt: dict[str, Any]) -> str:
    purposes = [p for service in _dicts(receipt.get("services"))
                for p in _dicts(service.get("purposes"))]
    ends = sorted({str(p["termination"]) for p in purposes if "termination" in p})
    capacity = receipt.get("capacity")
    given_by = capacity.get("givenBy") if isinstance(capacity, dict) else None
    return (f"consent {receipt['consentReceiptID']} by {receipt.get('piiPrincipalId')}"
            + (f" (given by: {given_by})" if given_by else "")
            + f" to {', '.join(_purpose(p.get('purpose'), p.get('purposeId')) for p in purposes)}"
            f"; given {receipt.get('consentTimestampISO')}, expires {receipt.get('expiresISO')}"
            + (f", ends {', '.join(ends)}" if ends and ends != [receipt.get("expiresISO")]
               else "")
            + f"; jurisdiction {receipt.get('jurisdiction')}")


def _erasure(receipt: dict[str, Any]) -> str:
    notify = receipt.get("recipientsToNotify") or []
    return (f"erasure {receipt.get('receiptID')} of the record whose keyed hash is"
            f" {receipt.get('subjectHash')} (reason: {receipt.get('reason')}): asked"
            f" {receipt.get('requestedAt')}, unsearchable {receipt.get('unsearchableAt')},"
            f" destroyed {receipt.get('destroyedAt')}, earlier copies undecryptable from"
            f" {receipt.get('copiesUndecryptableAt')}; recipients to notify:"
            f" {', '.join(map(str, notify)) if isinstance(notify, list) and notify else 'none'}"
            + ("; signed by the person's passkey, named by a keyed hash (not checkable here)"
               if "personSignature" in receipt else "")
            + ("; it names the person by keyed hashes only, and commits to a pseudonym"
               " (--pseudonym checks whose)" if COMMITMENT in receipt
               else "; it names the person by keyed hashes only: whose it is cannot be checked"
                    " here"))


def _purpose(name: object, purpose_id: object) -> str:
    return f"{name} ({purpose_id})"


def _dicts(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def not_whose(signed: Signed, pseudonym: str) -> str | None:
    """Why the receipt cannot be shown to be ``pseudonym``'s, or None when it names them: by
    its pseudonym, or for an erasure receipt by its commitment opened with the salt beside it
    (:func:`consent.erasure_receipts.names`)."""
    receipt = signed.receipt
    if receipt.get("type") == "erasure":
        opened = names(receipt, signed.holder.get("pseudonym_salt"), pseudonym)
        if opened is None:
            return ("it names the person by keyed hashes only and no salt is beside it"
                    if COMMITMENT in receipt else "it names the person by keyed hashes only"
                    " (signed before erasure receipts committed to the pseudonym)")
        return None if opened else "its commitment does not open to this pseudonym"
    named = receipt.get("subject" if "probeConsentID" in receipt else "piiPrincipalId")
    if named is None:
        return "it names no subject"
    return None if named == pseudonym else f"it names {named}"

"""An erasure receipt is served only as this deployment signed it, and can say whose it is.

The tombstone keeps the signed erasure receipt, and the service hands it out again: to the
person with their one-time code (:mod:`consent.after_erasure`), and to a request that lost the
race to another erasure of its subject (:func:`consent.erasure.erase_requested`). The row is
the database's word: whoever writes it can put there a receipt re-signed with another key (the
row names its own ``publicKey``), another tombstone's, or one rewritten to drop a recipient to
notify (red team 7, #5). So before serving, :func:`refusal` checks the receipt against the live
receipt key and the tombstone's subject hash (:func:`problem`, which ``/review/erasures`` asks
too); one that fails is not served: the refusal is chained (``erasure_receipt_altered``), logged
as an error once per tombstone and process, and raised once that transaction commits. What is
served names the live key (:func:`served`), never the key the row names.

The receipt names the person by keyed hashes only (the tombstone's, the passkey's), which only
the key store opens, so by itself it could be anyone's (red team 7, #8(d)). A receipt signed
since also commits to the pseudonym: ``pseudonymCommitment`` is ``SHA-256(salt || pseudonym)``,
the salt an HMAC of the tombstone hash under the key store's key (:func:`commitment`). The salt
is in neither the receipt nor the database: it is handed out beside the receipt
(``pseudonym_salt``), so the person, or whoever they give both to, shows with their pseudonym
that the receipt is theirs (``optinface receipt verify --pseudonym``, :func:`names`), while a
reader of the database, or of a pseudonym in an old backup, learns nothing new: without the key
store the commitment leads to no one, and with it the tombstone hash already did. Receipts
signed before carry no commitment and verify as they always did.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.audit_seals import salted_hash
from optinface.consent.errors import ErasureReceiptAltered
from optinface.consent.keys import KeyRing
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.receipts import verify_receipt
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import SignedErasureReceipt
from optinface.consent.tables import Tombstone

logger = logging.getLogger(__name__)

COMMITMENT = "pseudonymCommitment"
"""The erasure receipt's field that commits to the pseudonym (absent from older receipts)."""
_SALT_DOMAIN = "erasure-receipt-salt"
NOT_SIGNED = "signature_invalid"
OTHER_TOMBSTONE = "subject_hash_differs"


def _salt(keys: KeyRing, subject_hash: str) -> str:
    """The commitment's salt: derived, never stored, so the database alone opens nothing."""
    return keys.keyed_hash(subject_hash, domain=_SALT_DOMAIN)


def commitment(keys: KeyRing, *, pseudonym: str, subject_hash: str) -> dict[str, str]:
    """The receipt's field that commits to ``pseudonym`` (see the module docstring)."""
    return {COMMITMENT: salted_hash(_salt(keys, subject_hash), pseudonym)}


def names(receipt: dict[str, Any], salt: object, pseudonym: str) -> bool | None:
    """Whether ``receipt`` commits to ``pseudonym`` with ``salt``; None when it cannot tell: a
    receipt signed before the commitment, or no salt given beside it."""
    committed = receipt.get(COMMITMENT)
    if not isinstance(committed, str) or not isinstance(salt, str):
        return None
    try:
        return hmac.compare_digest(salted_hash(salt, pseudonym), committed)
    except ValueError:  # a salt that is not hex opens nothing
        return False


def problem(tombstone_receipt: dict[str, Any], signature: str, *, subject_hash: str,
            public_key: ReceiptKeys) -> str | None:
    """Why a tombstone's receipt is not this deployment's proof of this erasure, or None."""
    if not verify_receipt(tombstone_receipt, signature, public_key):
        return NOT_SIGNED
    if tombstone_receipt.get("subjectHash") != subject_hash:
        return OTHER_TOMBSTONE
    return None


def served(runtime: Runtime, tombstone: Tombstone, *, keys: ReceiptKeys) -> SignedErasureReceipt:
    """The tombstone's receipt as the service hands it out: the key among ``keys`` (as the
    caller read them for its act, once: on a shared ledger a key-store read) that checks it,
    and the salt that opens its commitment (none for a receipt signed before it)."""
    assert tombstone.receipt is not None and tombstone.receipt_signature is not None
    return SignedErasureReceipt.served(
        tombstone.receipt, tombstone.receipt_signature, keys=keys,
        pseudonym_salt=(_salt(runtime.keys, tombstone.subject_hash)
                        if COMMITMENT in tombstone.receipt else None))


def refusal(runtime: Runtime, session: Session, tombstone: Tombstone, *, asked: str,
            keys: ReceiptKeys, actor: Actor | None = None) -> ErasureReceiptAltered | None:
    """None when the tombstone's receipt may be served; else the refusal, chained in
    ``session`` (``asked``: how it was asked for) and logged, for the caller to raise once that
    transaction commits (raised inside it, the chained event would be rolled back with it).
    ``keys``: what the receipt is checked against, as for :func:`served`."""
    assert tombstone.receipt is not None and tombstone.receipt_signature is not None
    found = problem(tombstone.receipt, tombstone.receipt_signature,
                    subject_hash=tombstone.subject_hash,
                    public_key=keys)
    if found is None:
        return None
    runtime.audit(session, Entry(
        action=AuditAction.ERASURE_RECEIPT_ALTERED, actor=actor,
        subjects=[tombstone.subject_hash], details={"problem": found, "asked": asked}))
    runtime.error_once(logger, ("erasure receipt altered", tombstone.id),
                       "the erasure receipt of tombstone %s is not served (%s): it is not this"
                       " deployment's signed receipt of that erasure", tombstone.subject_hash,
                       found)
    return ErasureReceiptAltered(
        "the erasure receipt kept for this record is not the one this deployment signed (it"
        " was changed in the database): it is not served; the refusal is in the audit log",
        details={"problem": found})

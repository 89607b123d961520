"""What an erased person can still get: their receipt once more, and the truth at sign-in.

Erasure ends the person's session and deletes their passkeys with their subject, so two things
are kept with the tombstone, both non-biometric and neither re-identifying:

- **One-time receipt codes.** The erasure page shows a code that fetches the signed erasure
  receipt again, for a day and at most twice (the download offered on the page, and once more).
  The ledger keeps only the code's keyed hash (HMAC under the key store's key), its expiry and
  the fetches left, bound to the tombstone, so a code works after a restart and on every worker.
- **Keyed hashes of the erased subject's passkey credential ids.** A person who signs in later
  with the passkey they used before is told that the record was erased and when, instead of a
  refusal that reads like a typo. The public key went with the subject, so the assertion cannot
  be verified: whoever presents that credential id learns the erasure date and nothing else (no
  pseudonym, no face, no consent). Without the key store's HMAC key, the hashes link to nothing.

Both are proof of the erasure the controller must be able to give (GDPR art. 5(2), 17;
P-39.1 s. 28), kept as long as the tombstone: five years (:mod:`consent.proof_retention`).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from optinface.consent import erasure_receipts
from optinface.consent.errors import ReceiptCodeInvalid
from optinface.consent.keys import KeyRing
from optinface.consent.ledger import tombstone_hash
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import SignedErasureReceipt
from optinface.consent.tables import (
    ErasedCredential,
    ErasureReceiptCode,
    PasskeyCredential,
    Tombstone,
)

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
CODE_LENGTH = 12  # 60 bits: a guess among 2**60, with the failed-authentication limit in front
CODE_LIFETIME = timedelta(days=1)
CODE_FETCHES = 2  # the download offered on the page, and once more
_CODE_DOMAIN = "erasure-receipt-code"
_CREDENTIAL_DOMAIN = "erased-credential"


def credential_hashes(session: Session, keys: KeyRing, *, subject_id: int) -> list[str]:
    """Keyed hashes of the subject's passkey credential ids: read in the erasure's transaction
    before the credentials go with the subject."""
    ids = session.scalars(select(PasskeyCredential.id)
                          .where(PasskeyCredential.subject_id == subject_id))
    return [keys.keyed_hash(i, domain=_CREDENTIAL_DOMAIN) for i in ids]


def remember_credentials(session: Session, tombstone: Tombstone, hashes: list[str]) -> None:
    """Keep those hashes with the tombstone, but those it keeps already (an erasure that
    finishes an earlier one of the same subject, whose passkeys were kept meanwhile)."""
    kept = set(session.scalars(select(ErasedCredential.credential_hash).where(
        ErasedCredential.credential_hash.in_(hashes)))) if hashes else set()
    session.add_all(ErasedCredential(credential_hash=h, tombstone=tombstone)
                    for h in hashes if h not in kept)


def erased_by_credential(session: Session, keys: KeyRing,
                         credential_id: str) -> Tombstone | None:
    """The tombstone of the subject this passkey credential belonged to, if it was erased."""
    digest = keys.keyed_hash(credential_id, domain=_CREDENTIAL_DOMAIN)
    return session.scalar(select(Tombstone).join(ErasedCredential)
                          .where(ErasedCredential.credential_hash == digest))


def normalise(code: str) -> str:
    """The code as issued, however it was typed (case, spaces, dashes)."""
    return "".join(c for c in code.upper() if c in CODE_ALPHABET)


def issue_code(runtime: Runtime, *, subject_hash: str) -> str:
    """A new one-time code for the tombstone's receipt, in groups of four to copy by hand."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        session.execute(delete(ErasureReceiptCode).where(ErasureReceiptCode.expires_at <= now))
        tombstone = session.scalar(select(Tombstone)
                                   .where(Tombstone.subject_hash == subject_hash))
        if tombstone is None:
            raise ReceiptCodeInvalid("no erasure receipt to keep for this record")
        session.add(ErasureReceiptCode(
            code_hash=runtime.keys.keyed_hash(code, domain=_CODE_DOMAIN),
            tombstone_id=tombstone.id,
            expires_at=now + CODE_LIFETIME, fetches_left=CODE_FETCHES))
    return "-".join(code[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def fetch(runtime: Runtime, code: str) -> SignedErasureReceipt:
    """The signed erasure receipt for ``code``, spending one of its fetches, once checked: the
    row's receipt is the database's word (:mod:`consent.erasure_receipts`).

    One conditional UPDATE spends the fetch, so two workers never both spend the last one; a
    fetch that finds the receipt altered is spent and chained with the refusal.

    Raises:
        ReceiptCodeInvalid: the code is unknown, expired or used up.
        ErasureReceiptAltered: the kept receipt is not this deployment's signed receipt of
            this erasure.
    """
    digest = runtime.keys.keyed_hash(normalise(code), domain=_CODE_DOMAIN)
    with runtime.db.transaction() as session:
        spent = session.execute(
            update(ErasureReceiptCode)
            .where(ErasureReceiptCode.code_hash == digest,
                   ErasureReceiptCode.fetches_left > 0,
                   ErasureReceiptCode.expires_at > runtime.clock.now())
            .values(fetches_left=ErasureReceiptCode.fetches_left - 1)
            .returning(ErasureReceiptCode.tombstone_id))
        tombstone_id = spent.scalar()
        tombstone = session.get(Tombstone, tombstone_id) if tombstone_id is not None else None
        if tombstone is None or tombstone.receipt is None or tombstone.receipt_signature is None:
            raise ReceiptCodeInvalid("this code is wrong, expired or already used")
        keys = runtime.keys.receipt_keys  # once, for the check and the receipt served
        refused = erasure_receipts.refusal(runtime, session, tombstone, asked="receipt_code",
                                           keys=keys)
        signed = erasure_receipts.served(runtime, tombstone, keys=keys)
    if refused is not None:
        raise refused
    return signed


def log_names(runtime: Runtime, session: Session, pseudonyms: list[str]) -> list[str]:
    """How the log names the people a caller named: each pseudonym, or its tombstone hash once
    erased. An erasure removes the pseudonym from the log (:mod:`consent.audit_seals`); a later
    act on it (a refused request, a reviewer's filter) must not write it back."""
    if not pseudonyms:
        return []  # most refusals and log reads name no one: no query
    hashes = {p: tombstone_hash(runtime.keys, p) for p in pseudonyms}
    erased = set(session.scalars(select(Tombstone.subject_hash).where(
        Tombstone.subject_hash.in_(list(hashes.values())))))
    return [hashes[p] if hashes[p] in erased else p for p in pseudonyms]

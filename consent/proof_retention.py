"""Proof kept for the processing and five years more, then deleted by the sweep.

What stays after the processing on purpose holds no biometric data but still concerns a person:
an erasure's tombstone with its signed receipt, the keyed hashes that tell a later sign-in
"erased on DATE", the receipt's one-time codes, the erased subject's consent rows (their subject
replaced by the tombstone hash, kept to show that the processing before had a legal basis),
their disclosures (:mod:`consent.disclosures`, likewise under the tombstone hash), and
a probe consent once its one search is made (:mod:`consent.probe_consent`). The compliance
matrix's retention schedule (X-RET: consent, withdrawal and erasure receipts, the processing
and five years; GDPR arts. 5(1)(e), 5(2)) ends that too.

Five years after an erasure, :func:`forget_old_proof` deletes all of it, and a consent that
ended (with its withdrawal receipts and the approvals of the photos enrolled under it) five
years after it ended, while its subject stays for their other consents; the probe consents go
after the same :data:`consent.retention_policy.RECEIPT_YEARS`, and a request or complaint five
years after it was answered. The erasure journal keeps its line (a keyed hash, outside the data
directory): a restored copy that still holds the subject is erased again at start-up, with a
new tombstone. After the deletion, the pseudonym is simply unknown (``not_found``) and
a sign-in with the erased passkey is refused like any unknown one.

An erasure is dated by its receipt, signed by the service's key (``requestedAt``), never by
the tombstone's ``erased_at`` alone: that column is the database's, and set back by a writer it
deleted the proof years early (red team 4, finding 7). A tombstone whose column says its five
years are over but whose signed receipt does not (another date, an edited or missing receipt)
is kept, with its consents and disclosures, and logged as an error once per process.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import Session

from optinface.consent.authority import Mismatch, own_receipt, stated_time
from optinface.consent.db import rows_deleted
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.retention_policy import receipts_expired
from optinface.consent.subject_acts import CAPTURE
from optinface.consent.tables import (
    Ceremony,
    Consent,
    ConsentStatus,
    Disclosure,
    PurposeWithdrawal,
    RightsRequest,
    Tombstone,
)

if TYPE_CHECKING:
    from optinface.consent.runtime import Runtime

logger = logging.getLogger(__name__)


def forget_old_proof(runtime: Runtime, session: Session, *, now: datetime) -> int:
    """Delete the proof whose five years are over (see the module docstring); how many
    tombstones, consents, withdrawal receipts, photo approvals, disclosures and answered requests
    went. Run
    by the sweep."""
    cutoff = receipts_expired(now)
    erased_long_ago = _erased_before(runtime, session, cutoff)
    ended_long_ago = select(Consent.id).where(
        or_(Consent.subject_ref.in_(erased_long_ago) & Consent.subject_id.is_(None),
            (Consent.status != ConsentStatus.ACTIVE)
            & or_(Consent.ends_at < cutoff, Consent.withdrawn_at < cutoff)))
    return rows_deleted(
        session,
        delete(PurposeWithdrawal).where(PurposeWithdrawal.consent_id.in_(ended_long_ago)),
        # The person's approval of a photo enrolled under the consent (a capture session).
        delete(Ceremony).where(Ceremony.kind == CAPTURE,
                               Ceremony.statement["consentId"].as_string().in_(ended_long_ago)),
        delete(Consent).where(Consent.id.in_(ended_long_ago)),  # their purposes by cascade
        # The erased subject's disclosures (consent.disclosures), before their tombstone goes.
        delete(Disclosure).where(Disclosure.subject_ref.in_(erased_long_ago)),
        delete(Tombstone).where(Tombstone.subject_hash.in_(erased_long_ago)),  # and by cascade,
        # the erased credentials' hashes and the receipt's codes
        # A request or complaint, with its answer: proof that it was answered, and when.
        delete(RightsRequest).where(RightsRequest.answered_at < cutoff))


def _erased_before(runtime: Runtime, session: Session, cutoff: datetime) -> Select[str]:
    """The subject hashes of the tombstones whose signed receipt dates the erasure before
    ``cutoff``, as a subquery: those the column dates so are read, each kept unless its receipt
    agrees (rare, so those few are the query's only bound values, however long the backlog)."""
    erased_then = Tombstone.erased_at < cutoff
    found = session.execute(select(Tombstone.id, Tombstone.subject_hash, Tombstone.receipt,
                                   Tombstone.receipt_signature).where(erased_then))
    kept = []
    for tombstone_id, subject_hash, receipt, signature in found:
        if not _signed_before(receipt, signature, subject_hash, cutoff,
                              runtime.keys.receipt_keys):
            kept.append(subject_hash)
            runtime.error_once(logger, ("tombstone misdated", tombstone_id),
                               "tombstone %s: its erased_at is more than the proof's years ago,"
                               " its signed receipt does not say so: kept", tombstone_id)
    return select(Tombstone.subject_hash).where(erased_then, Tombstone.subject_hash.not_in(kept))


def _signed_before(receipt: dict[str, Any] | None, signature: str | None, subject_hash: str,
                   cutoff: datetime, public_key: ReceiptKeys) -> bool:
    """Whether ``receipt`` is the service's signed erasure receipt of the tombstone of
    ``subject_hash`` (one copied from another tombstone is not) for a request before
    ``cutoff``."""
    own = own_receipt(receipt, signature, names_it="subjectHash", own=subject_hash,
                      public_key=public_key)
    if isinstance(own, Mismatch):
        return False
    requested = stated_time(own.get("requestedAt"))
    return requested is not None and requested < cutoff

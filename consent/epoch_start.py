"""When an epoch began, as the keyed-sealed log says, not as its ``key_epochs`` row says.

The next rotation, and every erasure receipt's ``copiesUndecryptableAt``, count
``OPTINFACE_KEY_EPOCH_HOURS`` from the current epoch's start. Its row is not sealed: whoever
writes the database can date it in 2999 (red team 4, #2), and the epoch would then never rotate,
so copies made before an erasure would open with the key store for good. The log holds what the
database writer cannot make: the ``key_epoch_rotated`` event that made the epoch, chained and
carrying its keyed seal (:mod:`consent.log_seals`), whose ``at`` its chain hash covers.

So an epoch starts no later than that event, and, for an epoch no sealed rotation made (the
ledger's first, a restored copy's new one, one rotated before the log's seals), no later than
the log's first sealed event: the database's row counts only where it is earlier, which can
only bring the rotation forward. A row dated after the rotation that made it (or, where none
did, after now and the workers' clock tolerance) is a finding: logged as an error once per
process and chained once per epoch as ``key_epoch_misdated`` (:func:`_flag_misdated`), and the
rotation keeps to the sealed schedule.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import log_clock
from optinface.consent.audit import AuditAction, Entry, log_time, parse_log_time
from optinface.consent.log_seals import vouched
from optinface.consent.tables import AuditEvent, KeyEpoch

if TYPE_CHECKING:  # the runtime holds the HMAC key and chains the finding
    from optinface.consent.runtime import Runtime

logger = logging.getLogger(__name__)

FIRST_LOOKED = 100
"""How many of the log's first events carrying a keyed seal are tried for the ledger's first
sealed time (one the writer forged is skipped; beyond these, the clock's now is taken)."""


def _sound(runtime: Runtime, event: AuditEvent) -> bool:
    """Whether ``event`` is as the service chained it (so its ``at`` is what was sealed), with
    its keyed seal, whatever the seals' adoption point: an epoch's start rests on a seal."""
    return vouched(runtime.keys.hmac_key, event, adopted=0)


def _rotated_at(runtime: Runtime, session: Session, epoch: int) -> datetime | None:
    """The time of the newest sealed ``key_epoch_rotated`` event that made ``epoch``, kept on
    the runtime once found: a committed, sealed event never changes (one edited in the database
    fails its hash), so the log is not scanned again at each erasure a destroy order makes."""
    known = runtime.sealed_rotations.get(epoch)
    if known is not None:
        return known
    for event in session.scalars(select(AuditEvent)
                                 .where(AuditEvent.action == str(AuditAction.KEY_EPOCH_ROTATED))
                                 .order_by(AuditEvent.seq.desc())):
        if (event.details.get("epoch") == epoch and _sound(runtime, event)
                and (at := parse_log_time(event.at)) is not None):
            runtime.sealed_rotations[epoch] = at
            return at
    return None


def _first_sealed_at(runtime: Runtime, session: Session) -> datetime | None:
    """The time of the log's first sound sealed event: no epoch this ledger uses began before
    its first start, which chains before any rotation."""
    for event in session.scalars(select(AuditEvent).where(AuditEvent.keyed_seal.is_not(None))
                                 .order_by(AuditEvent.seq).limit(FIRST_LOOKED)):
        if _sound(runtime, event) and (at := parse_log_time(event.at)) is not None:
            return at
    return None


def started(runtime: Runtime, session: Session, row: KeyEpoch) -> datetime:
    """When ``row``'s epoch began, for counting its end: its row's date only where it is no
    later than what the sealed log allows; a later one flagged (:func:`_flag_misdated`). With
    no sealed rotation, only a row dated past now and the workers' clock tolerance is: another
    worker whose clock is a second ahead of this one's dates its rows so legitimately."""
    now = runtime.clock.now()
    rotated = _rotated_at(runtime, session, row.id)
    if row.created_at > (now + log_clock.TOLERANCE if rotated is None else rotated):
        _flag_misdated(runtime, session, row, rotated)
    floor = rotated if rotated is not None else _first_sealed_at(runtime, session)
    return min(row.created_at, now if floor is None else floor)


def _chained(session: Session, epoch: int) -> bool:
    """Whether a ``key_epoch_misdated`` event already names ``epoch`` (said once per epoch)."""
    return any(isinstance(details, dict) and details.get("epoch") == epoch
               for details in session.scalars(select(AuditEvent.details).where(
                   AuditEvent.action == str(AuditAction.KEY_EPOCH_MISDATED))))


def _flag_misdated(runtime: Runtime, session: Session, row: KeyEpoch,
                   rotated: datetime | None) -> None:
    """Log (once per process) and chain (once per epoch) an epoch row dated after the sealed
    rotation that made it, or after now and the clocks' tolerance: written by SQL, since the
    service dates it at the rotation. The dates are chained, never anything else the writer
    typed."""
    runtime.error_once(
        logger, ("key_epoch_misdated", row.id),
        "key epoch %d: its row says it was created at %s, after %s (edited in the database): the"
        " epoch rotates on the sealed log's schedule", row.id, row.created_at.isoformat(),
        "now" if rotated is None else f"its sealed rotation at {rotated.isoformat()}")
    if not _chained(session, row.id):
        runtime.audit(session, Entry(
            action=AuditAction.KEY_EPOCH_MISDATED, actor=None,
            details={"epoch": row.id, "row_created_at": log_time(row.created_at),
                     "rotated_at": None if rotated is None else log_time(rotated)}))

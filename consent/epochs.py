"""Epoch crypto-shredding: why an erasure reaches copies of the data made before it.

Erasing a subject deletes their wrapped data key from the live database, but a backup, a disk
snapshot or an old WAL frame made before still holds it. Each wrapped key names the epoch key
that wrapped it, and the key store (outside the data directory) holds epoch keys. Every
``OPTINFACE_KEY_EPOCH_HOURS`` (and on ``optinface keys rotate-epoch``) :func:`rotate_epoch`
creates a new epoch key, re-wraps every live subject key under it in one transaction,
checkpoints the WAL and destroys every older epoch key. From then on every copy made before the
erasure holds the erased subject's key wrapped under a key that no longer exists anywhere.

Crash safety: the new epoch key is durable before the transaction, the old ones are destroyed
only after it commits. A crash in between leaves two epoch keys; rows name the one that wraps
them, and the next rotation destroys both older ones. Nothing here is SQLite-specific.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.tables import KeyEpoch, SubjectKey

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EpochReport:
    """What a rotation did: epoch numbers and counts, never key bytes."""

    new_epoch: int
    destroyed_epochs: list[int]
    subject_keys_rewrapped: int
    rotated_at: datetime


def record_current(runtime: Runtime, session: Session) -> KeyEpoch:
    """The current epoch's history row, created when missing (first run, restored copy)."""
    row = session.get(KeyEpoch, runtime.keys.epoch)
    if row is None:
        row = KeyEpoch(id=runtime.keys.epoch, created_at=runtime.clock.now())
        session.add(row)
        session.flush()
    return row


def next_boundary(runtime: Runtime, session: Session) -> datetime:
    """When the current epoch key is due to be destroyed: copies made now are readable until.

    The newest epoch the ledger records counts, not only this process's: another worker on a
    shared ledger may have rotated since this one loaded its keys.
    """
    current = record_current(runtime, session)
    newest = session.scalars(select(KeyEpoch).order_by(KeyEpoch.id.desc()).limit(1)).first()
    started = (newest or current).created_at
    return started + timedelta(hours=runtime.settings.key_epoch_hours)


def rotate_epoch(runtime: Runtime, *, actor: Actor | None) -> EpochReport:
    """New epoch key, every live subject key re-wrapped under it, every older epoch destroyed.

    The caller checks the actor's permission (the scheduler runs it as the system).
    """
    store = runtime.keys.store
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        # Created inside the ledger's lock: workers sharing a key store never both take the
        # same next epoch number (consent.db serialises their transactions).
        new = store.new_epoch()
        old_ring = runtime.keys
        runtime.keys = dataclasses.replace(old_ring, epoch=new)  # new subject keys wrap under it
        rewrapped = 0
        for row in session.scalars(select(SubjectKey).where(SubjectKey.epoch != new)):
            data_key = old_ring.unwrap(row.wrapped, subject_id=row.subject_id, epoch=row.epoch)
            row.epoch, row.wrapped = runtime.keys.wrap(data_key, subject_id=row.subject_id)
            rewrapped += 1
        session.add(KeyEpoch(id=new, created_at=now))
        older = [epoch for epoch in store.epochs() if epoch < new]
        runtime.audit(session, Entry(action=AuditAction.KEY_EPOCH_ROTATED, actor=actor,
                                     details={"epoch": new, "subject_keys": rewrapped,
                                              "destroyed_epochs": older}))
    runtime.db.checkpoint()  # the old wrappings must not linger in the WAL
    for epoch in older:
        store.destroy_epoch(epoch)
    with runtime.db.transaction() as session:
        for epoch_row in session.scalars(select(KeyEpoch).where(KeyEpoch.id.in_(older))):
            epoch_row.destroyed_at = now
    logger.info("key epoch %d: %d subject keys re-wrapped, epochs %s destroyed",
                new, rewrapped, older)
    return EpochReport(new_epoch=new, destroyed_epochs=older, subject_keys_rewrapped=rewrapped,
                       rotated_at=now)


def seconds_to_boundary(runtime: Runtime) -> float:
    """Seconds until the current epoch is due for rotation (0 or less: due now)."""
    with runtime.db.transaction() as session:
        boundary = next_boundary(runtime, session)
    return (boundary - runtime.clock.now()).total_seconds()


def history(session: Session) -> list[KeyEpoch]:
    """Every epoch this database knows, oldest first, with its creation and destruction time."""
    return list(session.scalars(select(KeyEpoch).order_by(KeyEpoch.id)))

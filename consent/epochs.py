"""Epoch crypto-shredding: why an erasure reaches copies of the data made before it.

Erasing a subject deletes their wrapped data key from the live database, but a backup, a disk
snapshot or an old WAL frame made before still holds it. Each wrapped key names the epoch key
that wrapped it, and the key store (outside the data directory) holds epoch keys. Every
``OPTINFACE_KEY_EPOCH_HOURS`` (and on ``optinface keys rotate-epoch``) :func:`rotate_epoch`
creates a new epoch key, re-wraps every live subject key under it in one transaction,
checkpoints the WAL and destroys every older epoch key. From then on every copy made before the
erasure holds the erased subject's key wrapped under a key that no longer exists anywhere.
The saved index files need no rotation: each one's data key is wrapped under a key-store key
of its own, which the erasure itself destroys once it commits (:mod:`engine.index_file`,
:func:`consent.keys.destroy_index_file_keys`).

Crash safety: the new epoch key is durable before the transaction, the old ones are destroyed
only after it commits, and their destruction is recorded after that. Every start finishes what a
rotation killed on the way left (:func:`finish_interrupted_rotation`), the ledger deciding:

- killed before its transaction committed, it left a new epoch key that wraps nothing the ledger
  keeps: never wrapped under, the ledger's epoch goes on wrapping, and the next rotation
  destroys it (not the start: another ledger sharing the store may be rotating to it);
- killed after, it left old epoch keys that no subject key uses any more, or destroyed them
  without recording it: destroyed, and recorded, at once rather than at the next rotation, so
  an erasure receipt's ``copiesUndecryptableAt`` is not overrun by up to an epoch.

An epoch key newer than any the ledger records that did not come from a rotation (copied in
from elsewhere) is left the same way, never adopted: a start destroys only what its own ledger
shows dead. A store lacking the ledger's epoch is refused before any of this, but for a restored
copy (:func:`consent.key_check.refuse_a_store_behind`). One key store serves one ledger: two
ledgers on one store would destroy each other's epochs at their rotations. Nothing here is
SQLite-specific.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from optinface.consent import epoch_promise, epoch_start
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import new_key
from optinface.consent.errors import KeyStoreUnusable
from optinface.consent.keys import KeyRing
from optinface.consent.ledger import tombstone_hash
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.tables import KeyEpoch, Subject, SubjectKey, Tombstone

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


def _boundary(runtime: Runtime, session: Session, *,
              read: tuple[int, datetime] | None = None) -> tuple[int, datetime]:
    """The ledger's newest epoch and when it is due to be destroyed (:func:`next_boundary`).

    ``read``: an epoch and the promise already read for it from the key store, used when that
    epoch is the one due (the store is not asked twice, nor a damaged record logged twice).
    """
    current = record_current(runtime, session)
    newest = session.scalars(select(KeyEpoch).order_by(KeyEpoch.id.desc()).limit(1)).first()
    epoch = newest or current
    due = (epoch_start.started(runtime, session, epoch)
           + timedelta(hours=runtime.settings.key_epoch_hours))
    promised = (read[1] if read is not None and read[0] == epoch.id
                else epoch_promise.promised(runtime.keys.store, epoch.id))
    if promised is not None and promised < due:
        if promised != epoch_promise.DAMAGED:
            epoch_promise.flag_raised(runtime, session, epoch=epoch.id, promised_at=promised,
                                      setting_ends_at=due)
        due = promised
    return epoch.id, max(due, runtime.clock.now())


def next_boundary(runtime: Runtime, session: Session) -> datetime:
    """When the current epoch key is due to be destroyed: copies made now are readable until.

    The newest epoch the ledger records counts, not only this process's: another worker on a
    shared ledger may have rotated since this one loaded its keys. Its start is the sealed
    log's (:func:`consent.epoch_start.started`), never a later date its row was given by SQL;
    an earlier one makes the epoch due at once, and the bound is then now, never a past time
    a receipt would state as already reached. Never later than what an erasure receipt
    promised for the epoch (:func:`promise_boundary`), whatever ``OPTINFACE_KEY_EPOCH_HOURS``
    says since (:mod:`consent.epoch_promise`).
    """
    return _boundary(runtime, session)[1]


def promise_boundary(runtime: Runtime, session: Session) -> datetime:
    """:func:`next_boundary`, as an erasure receipt states it (``copiesUndecryptableAt``):
    kept in the key store as the epoch's promise, so no later setting moves the rotation
    past it."""
    epoch, boundary = _boundary(runtime, session)
    epoch_promise.keep(runtime.keys.store, epoch, boundary)
    return boundary


def start_epoch(runtime: Runtime, session: Session) -> None:
    """At start: the current epoch's row (its clock starts on first use), and, where its
    receipts promised an end, the setting checked against it (:func:`next_boundary` flags a
    raise), so the register says so before the first sweep."""
    record_current(runtime, session)  # first: on a new ledger, the epoch ledger_epoch finds
    epoch = ledger_epoch(session)
    if epoch is None:
        return
    promised = epoch_promise.promised(runtime.keys.store, epoch)
    if promised is not None:
        _boundary(runtime, session, read=(epoch, promised))


def rotate_epoch(runtime: Runtime, *, actor: Actor | None) -> EpochReport:
    """New epoch key, every live subject key re-wrapped under it, every older epoch destroyed.

    The caller checks the actor's permission (the scheduler runs it as the system).
    """
    store = runtime.keys.store
    now = runtime.clock.now()
    old_ring = runtime.keys
    try:
        with runtime.db.transaction() as session:
            keys = _subject_keys(session)
            erased = _keys_of_the_erased(runtime, session, keys)
            # Every key opened (or the rotation refused) before the new epoch key is made: a
            # refused rotation, which the sweeper tries again, leaves no key behind it.
            opened, unreadable = _opened(old_ring, keys, erased)
            # Created inside the ledger's lock: workers sharing a key store never both take the
            # same next epoch number (consent.db serialises their transactions).
            new = store.new_epoch()
            # New subject keys wrap under it from now on (the ring is restored on a rollback).
            runtime.keys = dataclasses.replace(old_ring, epoch=new)
            rewrapped = _rewrap(runtime, opened)
            lost = _unreadable_deleted(runtime, session, unreadable)
            session.add(KeyEpoch(id=new, created_at=now))
            older = [epoch for epoch in store.epochs() if epoch < new]
            runtime.audit(session, Entry(action=AuditAction.KEY_EPOCH_ROTATED, actor=actor,
                                         details={"epoch": new, "subject_keys": rewrapped,
                                                  "destroyed_epochs": older,
                                                  **_deleted(session, erased), **lost}))
    except BaseException:
        # Rolled back: the new key wraps nothing the ledger keeps (the next start does not wrap
        # under it either), so wrapping under it would lose the subject keys wrapped meanwhile.
        runtime.keys = old_ring
        raise
    runtime.db.checkpoint()  # the old wrappings must not linger in the WAL
    for epoch in older:
        store.destroy_epoch(epoch)
    epoch_promise.forget(store, older)
    with runtime.db.transaction() as session:
        for epoch_row in session.scalars(select(KeyEpoch).where(KeyEpoch.id.in_(older))):
            epoch_row.destroyed_at = now
    logger.info("key epoch %d: %d subject keys re-wrapped, epochs %s destroyed",
                new, rewrapped, older)
    return EpochReport(new_epoch=new, destroyed_epochs=older, subject_keys_rewrapped=rewrapped,
                       rotated_at=now)


_KeyRows = Sequence[tuple[SubjectKey, str | None]]
"""Every subject key with its subject's pseudonym (None: the subject's row is gone)."""


def _subject_keys(session: Session) -> _KeyRows:
    """The subject keys a rotation looks at, read once for :func:`_keys_of_the_erased` and
    :func:`_opened`."""
    return [(row, pseudonym) for row, pseudonym in session.execute(
        select(SubjectKey, Subject.pseudonym)
        .outerjoin(Subject, Subject.id == SubjectKey.subject_id))]


def _keys_of_the_erased(runtime: Runtime, session: Session, keys: _KeyRows) -> set[int]:
    """The subject ids of the ``keys`` a rotation must not re-wrap: those of a subject with a
    tombstone or a line in the erasure journal, and those whose subject's row is gone.

    Their erasure deleted them, or was to: one still there was kept by something in the
    database (a trigger made by hand, red team 5 F3) or put back, or belongs to an erasure
    under way. Re-wrapped, it would outlive the epoch its erasure receipt says it dies with
    (``copiesUndecryptableAt``); left under its epoch, it dies with it, whatever keeps the row.
    Each subject's tombstone hash is one keyed hash, as many as the keys re-wrapped."""
    erased = (set(session.scalars(select(Tombstone.subject_hash)))
              | runtime.journal_ends.erased_subjects())
    return {row.subject_id for row, pseudonym in keys
            if pseudonym is None or tombstone_hash(runtime.keys, pseudonym) in erased}


def _opened(old_ring: KeyRing, keys: _KeyRows,
            erased: set[int]) -> tuple[list[tuple[SubjectKey, str, bytes]], set[int]]:
    """Open every one of ``keys`` but the ``erased`` ones (those whose subject's row is gone
    among them): each row with its pseudonym and data
    key, and the subjects whose key does not open (bound to another person: moved by SQL, or
    put back under an id given again; or forged). A key that fails is tried once more once its
    epoch is shown to work: a token reports a passing fault as it reports a failed check
    (:data:`consent.pkcs11_store._FAILED_CHECK`), and a key deleted here is gone for good.

    Raises:
        KeyStoreUnusable: an epoch whose failures may be its key's or the store's
            (:func:`_refuse_a_failing_epoch`).
    """
    opened: list[tuple[SubjectKey, str, bytes]] = []
    failed: list[tuple[SubjectKey, str]] = []
    for row, pseudonym in keys:
        if row.subject_id in erased or pseudonym is None:  # no row: in ``erased`` already
            continue
        data_key = _open(old_ring, row, pseudonym)
        if data_key is None:
            failed.append((row, pseudonym))
        else:
            opened.append((row, pseudonym, data_key))
    opened_epochs = {row.epoch for row, _, _ in opened}
    for epoch in sorted({row.epoch for row, _ in failed}):
        _refuse_a_failing_epoch(old_ring, epoch, opened_any=epoch in opened_epochs)
    unreadable: set[int] = set()
    for row, pseudonym in failed:
        data_key = _open(old_ring, row, pseudonym)
        if data_key is None:
            unreadable.add(row.subject_id)
        else:
            opened.append((row, pseudonym, data_key))
    return opened, unreadable


def _open(ring: KeyRing, row: SubjectKey, pseudonym: str) -> bytes | None:
    """``row``'s data key, or None where it fails its check."""
    try:
        return ring.unwrap(row.wrapped, subject_id=row.subject_id, pseudonym=pseudonym,
                           epoch=row.epoch)
    except ValueError:
        return None


def _rewrap(runtime: Runtime, opened: list[tuple[SubjectKey, str, bytes]]) -> int:
    """Re-wrap the ``opened`` subject keys under the ring's new epoch, in the current form
    (bound to the subject's id and pseudonym, :meth:`KeyRing.wrap`), those of the first form
    included: once the older epochs are destroyed, no key of that form opens. How many."""
    for row, pseudonym, data_key in opened:
        row.epoch, row.wrapped = runtime.keys.wrap(data_key, subject_id=row.subject_id,
                                                   pseudonym=pseudonym)
    return len(opened)


_PROBE_BINDING = b"epoch-probe"
"""What a probe key is wrapped for (:func:`_refuse_a_failing_epoch`): no subject's binding."""


def _refuse_a_failing_epoch(ring: KeyRing, epoch: int, *, opened_any: bool) -> None:
    """Refuse to delete the subject keys ``epoch`` did not open when the fault may be the
    epoch key's or the store's rather than the keys': a fresh key wrapped and unwrapped under
    it does not come back (a token fault its store reads as a failed check), or it opened none
    of its keys (another deployment's key put in its place: the start refuses such a store,
    :func:`consent.key_check.refuse_foreign_keys`). The rotation then rolls back, deleting
    nothing, and the sweeper tries it again.

    Raises:
        KeyStoreUnusable: as above, naming the epoch.
    """
    probe = new_key()
    try:
        works = ring.store.unwrap(epoch, ring.store.wrap(epoch, probe, associated=_PROBE_BINDING),
                                  associated=_PROBE_BINDING) == probe
    except ValueError:
        works = False
    if not works or not opened_any:
        raise KeyStoreUnusable(
            f"epoch key {epoch} " + ("opens none of the subject keys wrapped under it"
                                     if works else "does not open what it wraps")
            + ": the rotation stopped, no key deleted", details={"epoch": epoch})


def _unreadable_deleted(runtime: Runtime, session: Session,
                        subject_ids: set[int]) -> dict[str, int]:
    """Delete the keys that do not open for their subject instead of keeping them under an
    epoch being destroyed (they open nothing any more), and destroy their subjects' templates,
    which nothing opens again once it is, as a start does for keys of a destroyed epoch
    (:func:`consent.erasure.destroy_lost_keys`): the subject stays, and enrols again at the
    desk. The rotation event's ``unreadable_subject_keys_deleted`` detail, where there were any
    (logged as an error)."""
    if not subject_ids:
        return {}
    # Here, not at the top: consent.erasure imports this module (an erasure's receipt states
    # the epoch's boundary).
    from optinface.consent.erasure import destroy_lost_keys

    destroy_lost_keys(runtime, session, subject_ids)
    logger.error("%d subject keys do not open for their subject (bound to another person:"
                 " moved or put back by SQL, or forged): deleted with their templates, not"
                 " re-wrapped", len(subject_ids))
    return {"unreadable_subject_keys_deleted": len(subject_ids)}


def _deleted(session: Session, subject_ids: set[int]) -> dict[str, int]:
    """Delete the keys of the erased instead of re-wrapping them; the rotation event's
    ``erased_subject_keys_deleted`` detail, where there were any (each logged as an error:
    an erasure left its key behind)."""
    if not subject_ids:
        return {}
    session.execute(delete(SubjectKey).where(SubjectKey.subject_id.in_(sorted(subject_ids))))
    logger.error("%d subject keys of erased subjects were still in the ledger (kept by"
                 " something in the database, or put back): deleted, not re-wrapped, so none"
                 " outlives the epoch being destroyed", len(subject_ids))
    return {"erased_subject_keys_deleted": len(subject_ids)}


@dataclass(frozen=True, slots=True)
class Leftovers:
    """What the key store holds that the ledger says should not be there, and the epoch that
    wraps: epoch numbers only."""

    current: int
    unknown: list[int]
    """Newer than every epoch the ledger records, so wrapping none of its subject keys: made by
    a rotation that did not commit, another ledger's sharing the store, or a stray file. Never
    wrapped under, and never destroyed at start: another ledger on the same store may be
    rotating to it right now, or a restored copy may need it. The next rotation destroys it."""
    destroyed: list[int]
    """Older than ``current`` and wrapping no subject key: a committed rotation's to destroy."""
    gone: list[int]
    """Recorded as live, older than ``current``, with no key left: destroyed, not recorded."""

    @property
    def none(self) -> bool:
        return not (self.destroyed or self.gone)


def _known_epochs(session: Session) -> tuple[dict[int, datetime | None], set[int]]:
    """The epochs the ledger records (with when each was destroyed), and those that wrap a
    subject key."""
    return (dict(session.execute(select(KeyEpoch.id, KeyEpoch.destroyed_at)).all()),
            set(session.scalars(select(SubjectKey.epoch).distinct())))


def _newest(recorded: dict[int, datetime | None], wrapping: set[int]) -> int | None:
    return max(recorded.keys() | wrapping, default=None)


def ledger_epoch(session: Session) -> int | None:
    """The newest epoch the ledger knows, recorded or naming a subject key: the one that wraps
    (None: a new ledger, which records none yet)."""
    return _newest(*_known_epochs(session))


def _leftovers(session: Session, held: list[int]) -> Leftovers | None:
    """What an interrupted rotation left, given the epoch keys the store ``held``; None for a
    ledger that records no epoch yet (a new one: the store's newest is its first epoch).

    The ledger's newest epoch (recorded, or naming a subject key) wraps while the store holds
    it. When the store does not, the ledger is a copy restored from before a rotation (any
    other case is refused first: :func:`consent.key_check.refuse_a_store_behind`): the store's
    newest wraps, the copy's subject keys are lost (:mod:`consent.reconcile`), and nothing is
    destroyed.
    """
    recorded, wrapping = _known_epochs(session)
    newest = _newest(recorded, wrapping)
    if newest is None:
        return None
    restored = newest not in held
    current = held[-1] if restored else newest
    return Leftovers(
        current=current,
        unknown=[epoch for epoch in held if epoch > current],
        # A restored copy (its epoch not held) destroys nothing: what it does not use, the
        # ledger it replaced, or another ledger on the store, may.
        destroyed=[] if restored else [epoch for epoch in held
                                       if epoch < current and epoch not in wrapping],
        gone=sorted(epoch for epoch, destroyed_at in recorded.items()
                    if epoch < current and destroyed_at is None and epoch not in held))


def finish_interrupted_rotation(runtime: Runtime) -> None:
    """At start, before anything wraps: finish what a killed rotation left in the key store
    (:func:`_leftovers`), and wrap under the ledger's epoch, not the store's newest key.

    Destroyed keys are recorded and audited in one transaction, taken before the first key is
    destroyed: workers sharing a key store never destroy one another's next epoch mid-rotation
    (its key is made inside the ledger's lock). A crash after destroying leaves keys gone and
    unrecorded, which the next start records.
    """
    store = runtime.keys.store
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        found = _leftovers(session, store.epochs())
        if found is None:
            return
        runtime.keys = dataclasses.replace(runtime.keys, epoch=found.current)
        if found.unknown:
            logger.warning("epoch keys %s are newer than any epoch this ledger records: not"
                           " wrapped under (a rotation that did not commit, another ledger's on"
                           " this key store, or a stray file); the next rotation destroys them",
                           found.unknown)
        if found.none:
            return
        for epoch in found.destroyed:
            store.destroy_epoch(epoch)
        ended = sorted(found.destroyed + found.gone)
        epoch_promise.forget(store, ended)
        for row in session.scalars(select(KeyEpoch).where(KeyEpoch.id.in_(ended))):
            row.destroyed_at = now
        runtime.audit(session, Entry(action=AuditAction.KEY_EPOCHS_DESTROYED, actor=None,
                                     details={"epoch": found.current, "destroyed_epochs": ended}))
    runtime.db.checkpoint()  # as after a rotation: the old wrappings must not linger in the WAL
    logger.warning("key epoch %d at start: epochs %s recorded destroyed (their keys shredded "
                   "if still held)", found.current, ended)


def seconds_to_boundary(runtime: Runtime) -> float:
    """Seconds until the current epoch is due for rotation (0 or less: due now)."""
    with runtime.db.transaction() as session:
        boundary = next_boundary(runtime, session)
    return (boundary - runtime.clock.now()).total_seconds()


def history(session: Session) -> list[KeyEpoch]:
    """Every epoch this database knows, oldest first, with its creation and destruction time."""
    return list(session.scalars(select(KeyEpoch).order_by(KeyEpoch.id)))

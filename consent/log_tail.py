"""The log's tail as this process knows it, checked before each event it appends.

The witness's checkpoints catch a log cut below what they signed, but not the events since the
last one: whoever writes the database can delete a search just logged and the service would
chain its next event in the gap, and sign the edited log into the witness at its next
checkpoint (red team 3, finding 3). The running process, though, knows a tail: the sequence
number and chain hash of the newest event it read at start or appended since (:class:`Tail`,
moved on only once the transaction commits: a rolled-back append's number is used again).
Before each append, :func:`vet` compares the table with it: newest at least that far, and the
same hash there (:func:`divergence`, the comparison the start makes against the witness's
newest checkpoint: :func:`consent.audit_verify.against_tree`). Several workers on one
PostgreSQL ledger each know their own tail, and the others' appends only lengthen the log past
it, so they are never taken for a loss.

A loss is chained as ``log_truncated`` before the event that was to be appended, so no
checkpoint signs the edited log without it (each checkpoint the service signs follows an
append in its transaction, or :func:`vet` in :meth:`consent.service.OptinFace.witness_audit`);
it names the event this process knew, its hash, and how many events the table held; an error
is logged, and ``audit verify`` fails on it (:class:`consent.audit_verify._Walk`), for good, as
on a rollback. A loss is also what a restore of an older copy behind the running service looks
like (red team 5, F2): while the service is live, the transaction that finds it is refused
(``ledger_restored``) and the loss handed to :mod:`consent.live_replay`, which chains it first
and then replays the erasure journal, as a start does, before anything else is answered; the
erasures and withdrawals an act refused so had journaled are made by that replay.

What is not covered: a process that dies unclean (its tail with it) before the next checkpoint;
a clean close signs one (:meth:`consent.service.OptinFace.close`), and the start compares the
log with the witness. That window is bounded by two settings capped at start (at most 1000
events, 600 s: :mod:`consent.settings`) and stated in the register.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import event as orm_event
from sqlalchemy import select
from sqlalchemy.orm import Session, SessionTransaction

from optinface.consent.audit import AuditAction, Entry, Link, append, link, newest
from optinface.consent.log_clock import dated
from optinface.consent.tables import AuditEvent

if TYPE_CHECKING:  # the runtime holds the tail, and chains through vet
    from optinface.consent.runtime import Runtime

logger = logging.getLogger(__name__)


class Divergence(StrEnum):
    """How a log differs from a head known outside its table: stable codes."""

    SHORTER = "shorter"  # fewer events than known: the tail was deleted
    OTHER = "other"  # as many or more, but not the known ones: rewritten


def divergence(known: int, held: int, same: Callable[[], bool]) -> Divergence | None:
    """The one comparison of a log holding ``held`` events with a head of ``known`` events
    (a witnessed checkpoint at start, this process's tail while it runs): shorter, or not the
    same first ``known`` events (``same`` asks, only when it is not shorter); None when it
    extends the head."""
    if held < known:
        return Divergence.SHORTER
    if known and not same():
        return Divergence.OTHER
    return None


_PENDING = "log_tail"
"""Where a session keeps, with its transaction, the last event it appended."""


@dataclass(frozen=True, slots=True)
class _Pending:
    """What a transaction appended so far, kept in its session until it commits."""

    transaction: SessionTransaction | None
    last: Link
    lost: bool
    """A loss was chained in it: the table is shorter now, so its last append is the tail
    whatever was known."""


class Tail:
    """The newest event this process read or appended, once committed (thread-safe: requests
    commit on several threads, in any order)."""

    def __init__(self) -> None:
        self._known: Link | None = None
        self._lock = threading.Lock()

    def known(self, session: Session) -> Link | None:
        """The tail ``session`` is to find: the last event it appended in its transaction,
        else the last this process committed."""
        pending = _pending(session)
        return self._known if pending is None else pending.last

    def forget(self) -> None:
        """Know no tail (at close, once its checkpoint is signed: whatever comes next, a
        restore or another start, is the witness's to check)."""
        with self._lock:
            self._known = None

    def remember(self, session: Session, link: Link, *, replace: bool = False) -> None:
        """Move on to ``link`` once ``session`` commits, if it is further than known; ``replace``
        (a loss just chained): whatever is known, since the table is shorter now. Until
        then, the tail of ``session``'s own later appends (:meth:`known`), which take its
        place. One listener per session moves the tail at commit, to the transaction's last
        append, never at a rollback."""
        pending = _pending(session)
        session.info[_PENDING] = _Pending(session.get_transaction(), link,
                                          replace or (pending is not None and pending.lost))
        if not orm_event.contains(session, "after_commit", self._committed):
            orm_event.listen(session, "after_commit", self._committed)

    def _committed(self, session: Session) -> None:
        pending = _pending(session)  # None: nothing remembered since this transaction began
        session.info.pop(_PENDING, None)
        if pending is None:
            return
        with self._lock:
            if pending.lost or self._known is None or pending.last.seq > self._known.seq:
                self._known = pending.last


def _pending(session: Session) -> _Pending | None:
    """What ``session``'s current transaction appended, if anything (not a transaction's of
    the session before, rolled back)."""
    pending: _Pending | None = session.info.get(_PENDING)
    return pending if pending is not None and pending.transaction is session.get_transaction() \
        else None


def vet(runtime: Runtime, session: Session) -> Link | None:
    """The log's newest event, once checked against this process's tail: a loss is chained
    as ``log_truncated`` (and logged as an error) first, and that event is returned. The one
    read of the newest event before an append: the append follows what this returns, and it
    is the tail once ``session`` commits (:meth:`Tail.remember`; an append's own moves it on).

    Raises:
        LedgerRestored: while the service is live, a loss is a restore's sign: the replay of
            the erasure journal takes it over, and chains it first (:mod:`consent.live_replay`).
    """
    found = newest(session)
    known = runtime.tail.known(session)
    held = 0 if found is None else found.seq
    loss = None if known is None else divergence(
        known.seq, held, lambda: _hash_at(session, known.seq, found) == known.hash)
    if known is None or loss is None:
        if found is not None:
            runtime.tail.remember(session, found)  # what it read: the tail from here
        return found
    runtime.live_replay.found(runtime, str(AuditAction.LOG_TRUNCATED))  # raises while live
    details = {"known": known.seq, "known_hash": known.hash, "events": held, "found": str(loss)}
    logger.error("the audit log no longer holds event %d as this process appended or read it"
                 " (%s: the table's newest is %d): events were deleted or rewritten behind the"
                 " service; chained as log_truncated, and optinface audit verify will report it",
                 known.seq, loss, held)
    event = append(session, Entry(action=AuditAction.LOG_TRUNCATED, actor=None, details=details),
                   last=found, now=dated(runtime.clock.now(), None if found is None else found.at),
                   seal_key=runtime.keys.hmac_key)
    chained = link(event)
    runtime.tail.remember(session, chained, replace=True)
    return chained


def _hash_at(session: Session, seq: int, found: Link | None) -> str | None:
    if found is not None and found.seq == seq:
        return found.hash
    return session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))

"""Prune records: an emptied access event verifies only where the retention run that emptied it
says so, in a chained, keyed-sealed event written with the emptying.

Retention keeps a pruned event's Merkle leaf in place of its content (:mod:`consent.log_retention`),
so the chain and the checkpoints still verify, but the verifier cannot tell from the event alone
*who* emptied it: a database writer doing what a prune does to a search made an hour ago hid it
from the person's export, from the enumeration alerts and from the daily quota, and the log
still verified. So each run that empties events chains one ``log_pruned`` event naming them, in
the same transaction: the runs of consecutive access events it emptied (``ranges``: every access
event from ``first`` to ``last``, events of other actions between not counting), the cut-off it
emptied before (``cutoff``), the retention in force and the newest signed checkpoint, which
covers them all (``checkpoint``).

The rule, :class:`PruneCovers`, is the one :mod:`consent.audit_verify` applies for ``GET
/v1/audit/verify``, ``optinface audit verify`` and ``optinface audit verify-export``: an event
carrying a pruned leaf must lie in a range of a record written after it, whose checkpoint covers
it, whose cut-off is later than the event's time and at least the shortest retention the settings
allow (``ACCESS_LOG_MIN_DAYS``) before the record's own time; otherwise it is a problem at the
event's sequence number, ``pruned_without_record``. A run's range holds only events that run
emptied, so an event emptied by SQL before the run breaks its range, and one emptied after it
cannot be in one (every event there was emptied already).

A record is itself an event: whoever holds the key store checks its keyed seal, so one written
with the database alone is ``keyed_seal_missing``; the chain pins it and the witness's next
checkpoint signs it. An outsider with an export and no key store cannot tell a record the service
wrote from one a database writer appended, as with any appended event (:mod:`consent.log_seals`).

Logs emptied before records existed: the first start that finds an emptied event no record
covers, and no record nor adoption in the log, chains ``log_prunes_adopted`` once
(:func:`adopt_once`): a record like the others, with the shortest retention as its cut-off,
naming the events emptied by an earlier sweep (one chained ``log_events_pruned``) and older than
that cut-off. Those younger, or emptied after the last such sweep, it leaves out and logs as an
error: the verifier reports them. What it cannot tell: an event emptied before the upgrade that
the retention would have emptied later, or whose time was edited with its content (a pruned
event's time is not under its hash); only the first adoption counts.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry, LoggedEvent, log_time, parse_log_time
from optinface.consent.log_seals import LISTED
from optinface.consent.settings import ACCESS_LOG_MIN_DAYS
from optinface.consent.tables import AuditCheckpoint, AuditEvent

if TYPE_CHECKING:  # adopt_once chains through the runtime
    from optinface.consent.runtime import Runtime

logger = logging.getLogger(__name__)

PRUNED_WITHOUT_RECORD = "pruned_without_record"
"""The stable reason code of an emptied event no prune record vouches for."""
_RECORDS = (str(AuditAction.LOG_PRUNED), str(AuditAction.LOG_PRUNES_ADOPTED))


def ranges(access: Iterable[tuple[int, bool]]) -> list[list[int]]:
    """The ``[first, last]`` of each run of ``access`` events (sequence number, emptied by this
    run), in sequence order, that are all emptied by this run."""
    found: list[list[int]] = []
    open_run = False
    for seq, emptied in access:
        if emptied and open_run:
            found[-1][1] = seq
        elif emptied:
            found.append([seq, seq])
        open_run = emptied
    return found


def record_details(emptied: Sequence[int], access: Sequence[int], *, cutoff: str,
                   checkpoint: int) -> dict[str, Any]:
    """What a record says of the events ``emptied`` now among the ``access`` events of their
    span (every access event from the first emptied to the last, in sequence order)."""
    chosen = set(emptied)
    return {"ranges": ranges((seq, seq in chosen) for seq in access), "count": len(chosen),
            "cutoff": cutoff, "checkpoint": checkpoint}


def access_between(session: Session, emptied: Sequence[int],
                   actions: Sequence[str]) -> list[int]:
    """The access events' sequence numbers from the first of ``emptied`` to the last."""
    if not emptied:
        return []
    return list(session.scalars(select(AuditEvent.seq).where(
        AuditEvent.seq.between(min(emptied), max(emptied)), AuditEvent.action.in_(actions))
        .order_by(AuditEvent.seq)))


@dataclass(frozen=True, slots=True)
class _Cover:
    first: int
    last: int
    record: int  # the record's sequence number
    checkpoint: int
    cutoff: datetime

    def covers(self, seq: int, at: datetime | None) -> bool:
        return (self.first <= seq <= self.last and seq <= self.checkpoint < self.record
                and at is not None and at < self.cutoff)


def _covers(record: LoggedEvent) -> list[_Cover]:
    """The ranges ``record`` vouches for; none where it breaks the rule a record obeys (a
    cut-off later than the shortest retention before its own time) or is not one."""
    details: Mapping[str, Any] = record.details or {}
    cutoff, written = parse_log_time(details.get("cutoff")), parse_log_time(record.at)
    checkpoint, listed = details.get("checkpoint"), details.get("ranges")
    if (cutoff is None or written is None or cutoff > written - timedelta(days=ACCESS_LOG_MIN_DAYS)
            or not isinstance(checkpoint, int) or not isinstance(listed, list)):
        return []
    return [_Cover(pair[0], pair[1], record.seq, checkpoint, cutoff) for pair in listed
            if isinstance(pair, list) and len(pair) == 2
            and all(isinstance(end, int) for end in pair)]


@dataclass(slots=True)
class PruneCovers:
    """The prune records' check of the whole log, one event after another (beside
    :class:`consent.audit_verify._Walk`): the emptied events, and what the records and the first
    adoption cover; judged at the end, since a record comes after what it names."""

    _emptied: list[tuple[int, str]] = field(default_factory=list)  # (seq, at)
    _covers: list[_Cover] = field(default_factory=list)
    _adopted: bool = False

    def add(self, event: LoggedEvent) -> None:
        if event.pruned_leaf is not None:
            self._emptied.append((event.seq, event.at))
        if event.action == AuditAction.LOG_PRUNED or (
                event.action == AuditAction.LOG_PRUNES_ADOPTED and not self._adopted):
            self._adopted |= event.action == AuditAction.LOG_PRUNES_ADOPTED
            self._covers.extend(_covers(event))

    def uncovered(self) -> list[int]:
        """The emptied events no record covers, in sequence order."""
        covers = sorted(self._covers, key=lambda cover: cover.first)
        firsts = [cover.first for cover in covers]
        found = []
        for seq, at in self._emptied:
            where = bisect_right(firsts, seq) - 1
            if where < 0 or not covers[where].covers(seq, parse_log_time(at)):
                found.append(seq)
        return found


def message(seq: int) -> str:
    """What an emptied event no record covers means, in words, for the verification's report."""
    return (f"event {seq} was pruned without a record: no retention run's log_pruned event (nor"
            " the adoption of events emptied before them) names it emptied after the retention"
            " the settings allow, so its content was removed by someone else")


def adopt_once(runtime: Runtime, *, actions: Sequence[str], log_sound: bool) -> int | None:
    """At the first start that finds an emptied event no record covers, in a log that holds no
    record nor adoption yet, chain ``log_prunes_adopted`` for the events emptied by earlier
    sweeps past the shortest retention; how many it adopted, or None when it chained nothing.

    ``actions``: the access events' actions, the only ones retention empties. ``log_sound``:
    as for the other adoptions (:func:`consent.row_seals.adopt_once`); otherwise the event is
    chained adopting none, so no later start adopts, and every verifier goes on reporting them."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        if session.scalar(select(exists().where(AuditEvent.action.in_(_RECORDS)))):
            return None
        emptied = session.execute(select(AuditEvent.seq, AuditEvent.at).where(
            AuditEvent.pruned_leaf.is_not(None)).order_by(AuditEvent.seq)).all()
        if not emptied:
            return None
        signed = session.scalar(select(func.max(AuditCheckpoint.seq))) or 0
        bound = min(_last_pruning_sweep(session, after=emptied[0].seq), signed + 1)
        cutoff = now - timedelta(days=ACCESS_LOG_MIN_DAYS)
        chosen = [row.seq for row in emptied if log_sound and row.seq < bound
                  and (at := parse_log_time(row.at)) is not None and at < cutoff]
        left = sorted({row.seq for row in emptied} - set(chosen))
        details = record_details(chosen, access_between(session, chosen, actions),
                                 cutoff=log_time(cutoff), checkpoint=signed)
        details["left"] = {"count": len(left), "events": left[:LISTED]}
        if not log_sound:
            details["reason"] = "log_not_as_witnessed"
        if left:
            logger.error("%d emptied audit events are NOT adopted as pruned by retention (events"
                         " %s): emptied after the last sweep that pruned, or younger than %d"
                         " days; optinface audit verify reports them (pruned_without_record)",
                         len(left), left[:LISTED], ACCESS_LOG_MIN_DAYS)
        runtime.audit(session, Entry(action=AuditAction.LOG_PRUNES_ADOPTED, actor=None,
                                     details=details))
        return len(chosen)


def _last_pruning_sweep(session: Session, *, after: int) -> int:
    """The sequence number of the last sweep since event ``after`` that emptied events
    (``log_events_pruned``, which every sweep has chained since retention empties); 0 if none.
    The events a sweep empties come before its own event, in its transaction."""
    sweeps = session.execute(select(AuditEvent.seq, AuditEvent.details).where(
        AuditEvent.action == str(AuditAction.SWEEP), AuditEvent.seq > after)
        .order_by(AuditEvent.seq.desc()))
    for seq, details in sweeps:
        count = details.get("log_events_pruned") if isinstance(details, dict) else None
        if isinstance(count, int) and count > 0:
            return int(seq)
    return 0

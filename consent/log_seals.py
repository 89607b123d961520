"""Log seals: each audit event carries a keyed seal that the key store alone can make.

The hash chain and the witness's checkpoints catch a log truncated or rewritten, but not one
*appended to*: whoever writes the database can add a ``consent_given``, an ``erase`` or a search
at the tail, chained with the log's own :func:`consent.audit.event_hash`, and the service's next
checkpoint signs it into the witness. So every event the service appends is sealed with
HMAC-SHA256 under the key store's HMAC key, over its chain hash, in a domain of its own
(:func:`consent.audit.keyed_seal`), as the rows that grant something are
(:mod:`consent.row_seals`). The chain hash covers the event's chained bytes and not its
pseudonyms, so a seal still holds after an erasure forgets a subject's salt and pseudonym, and
after retention empties an access event (its hash is kept).

Events from before migration 0031 carry no seal. The first start after it vouches for them once,
chaining ``log_seals_adopted`` with the last of them (``through``) and how many the witness had
signed (:func:`adopt_once`); only a start that found the log as its witness signed it adopts,
any other chains ``log_seals_not_adopted`` instead, and no start adopts after either. From then
on every event past the adoption point must carry its seal: whoever holds the key store checks
it (:class:`SealWalk`, run by :func:`consent.audit_verify.verify_log` for ``optinface audit
verify`` and the server's own check), and the service itself checks the events past the last
witnessed checkpoint at start and before each checkpoint it signs, chaining those without a
valid seal as ``log_events_unsealed`` (:func:`record_unsealed`) rather than signing them
silently. An outsider holding only an export and the witness cannot tell a sealed event from
an unsealed one: the seal needs the key (the export carries the seals, for whoever holds it:
:func:`consent.audit_verify.verify_export`). A migration below 0031 and back drops the seals;
only the operator seals them again, on a log as its witness signed it (:mod:`consent.log_reseal`).

The HMAC key is a named secret of the key store, never an epoch key: epoch rotation and
template re-keying leave it, so the log stays verifiable for as long as the key store is kept.
What it does not protect against: whoever holds the key store as well; an event appended
before the first start after the upgrade (adopted with the others: ``through`` minus
``witnessed`` says how many the witness had not signed).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import event as orm_event
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry, event_hash, last_details, seal_holds
from optinface.consent.tables import AuditEvent

if TYPE_CHECKING:  # the runtime chains the findings, and calls record_unsealed
    from optinface.consent.runtime import Runtime

logger = logging.getLogger(__name__)

LISTED = 100
"""The sequence numbers one ``log_events_unsealed`` event names (it counts them all)."""
_ADOPTIONS = (str(AuditAction.LOG_SEALS_ADOPTED), str(AuditAction.LOG_SEALS_NOT_ADOPTED))


class SealFailure(StrEnum):
    """Why an event past the adoption point is not one the service appended: stable codes."""

    MISSING = "keyed_seal_missing"
    INVALID = "keyed_seal_invalid"


@dataclass(frozen=True, slots=True)
class Unsealed:
    seq: int
    reason: SealFailure


def failure(seal_key: bytes, event: Any) -> SealFailure | None:
    """What is wrong with ``event``'s keyed seal (a row, or its seq, hash and seal), or None."""
    if event.keyed_seal is None:
        return SealFailure.MISSING
    return None if seal_holds(seal_key, event) else SealFailure.INVALID


def vouched(seal_key: bytes, event: AuditEvent, *, adopted: int) -> bool:
    """Whether ``event`` is as the service chained it: its hash is its content's, and, past
    ``adopted`` (the seals' :func:`adoption_point`; 0 where every event must be sealed), its
    keyed seal holds. What the database alone cannot make: an event planted or edited fails."""
    return event.hash == event_hash(event) and (event.seq <= adopted
                                                or failure(seal_key, event) is None)


def _through(details: Mapping[str, Any], seq: int) -> int:
    """The adoption point an adoption's event names: below its own sequence number."""
    through = details.get("through")
    return through if isinstance(through, int) and 0 <= through < seq else 0


@dataclass(slots=True)
class SealWalk:
    """The keyed seals' check of one event after another, beside the chain's walk
    (:class:`consent.audit_verify._Walk`), for whoever holds the key store.

    The adoption point is read from the first ``log_seals_adopted`` event whose own seal holds
    (one written by SQL is itself unsealed, and adopts nothing); the events up to it are from
    before the seals. Without one, every event without a valid seal is a finding.
    """

    seal_key: bytes
    checked: int = 0
    adopted: int | None = None  # the adoption point, once an adoption's event is met
    refused_at: int | None = None  # the sequence number of log_seals_not_adopted, if chained
    _failures: list[Unsealed] = field(default_factory=list)

    def add(self, event: Any) -> None:
        self.checked += 1
        found = failure(self.seal_key, event)
        if found is not None:
            self._failures.append(Unsealed(event.seq, found))
            return
        if event.action == AuditAction.LOG_SEALS_ADOPTED and self.adopted is None:
            self.adopted = _through(event.details, event.seq)
        elif event.action == AuditAction.LOG_SEALS_NOT_ADOPTED and self.refused_at is None:
            self.refused_at = event.seq

    def finish(self, *, whole: bool = True) -> list[Unsealed]:
        """The events past the adoption point without a valid keyed seal, in sequence order.

        ``whole``: every event from 1 was added. Otherwise (a filtered export) an event without
        a seal is judged only where the adoption's event (or its refusal's) was among them:
        without the adoption point it cannot be told from one from before keyed seals, and
        :meth:`unjudged` counts it.
        """
        through = self.adopted or 0
        return [found for found in self._failures
                if found.seq > through and (whole or self._judged(found))]

    def unjudged(self, *, whole: bool) -> int:
        """How many events without a seal :meth:`finish` left unjudged (none on the whole log)."""
        return 0 if whole else sum(not self._judged(found) for found in self._failures)

    def _judged(self, found: Unsealed) -> bool:
        return (found.reason is SealFailure.INVALID or self.adopted is not None
                or self.refused_at is not None)

    def message(self, found: Unsealed) -> str:
        """What ``found`` means, in words, for the verification's report."""
        seq = found.seq
        if found.reason is SealFailure.INVALID:
            return (f"event {seq} carries a keyed seal the key store did not make for it (written"
                    " or edited with the database alone, or this is another deployment's key"
                    " store)")
        if self.adopted is not None:
            return f"event {seq} carries no keyed seal (appended with the database alone)"
        if self.refused_at is not None and seq < self.refused_at:
            return (f"event {seq} carries no keyed seal: the events from before keyed seals were"
                    f" not adopted (log_seals_not_adopted, event {self.refused_at}), since that"
                    " start found the log other than its witness signed it")
        return (f"event {seq} carries no keyed seal, and the log chains no adoption of the events"
                " from before keyed seals (appended with the database alone, or the service has"
                " not started since migration 0031)")


def adopt_once(runtime: Runtime, *, log_sound: bool) -> int | None:
    """At the first start with keyed seals (after migration 0031, or a new ledger's first),
    chain ``log_seals_adopted`` naming the last event without a seal (``through``, 0 on a new
    ledger) and how many of those the witness had signed; that point, or None when the log
    holds that event, or ``log_seals_not_adopted``, already.

    ``log_sound``: this start found the log as its witness signed it (nothing lost or rewritten,
    no new witness folder taken up; :mod:`consent.transparency`), as :func:`consent.row_seals.
    adopt_once` asks. Otherwise nothing is vouched for: an error is logged and
    ``log_seals_not_adopted`` chained, for good. Any event of either action, sealed or not,
    stops a later adoption: one whose seal was stripped by SQL must not let a later start vouch
    for the events appended since."""
    with runtime.db.transaction() as session:
        if session.scalar(select(exists().where(AuditEvent.action.in_(_ADOPTIONS)))):
            return None
        through = session.scalar(select(func.max(AuditEvent.seq))
                                 .where(AuditEvent.keyed_seal.is_(None))) or 0
        if not log_sound:
            logger.error("audit log seals NOT adopted: this start found the audit log other than"
                         " its witness signed it, so the %d events from before keyed seals are"
                         " not vouched for; optinface audit verify with the key store reports"
                         " them (chained as log_seals_not_adopted)", through)
            runtime.audit(session, Entry(action=AuditAction.LOG_SEALS_NOT_ADOPTED, actor=None,
                                         details={"reason": "log_not_as_witnessed",
                                                  "through": through}))
            return None
        witnessed = min(through, runtime.log.witness.witnessed_of_the_log())
        runtime.audit(session, Entry(action=AuditAction.LOG_SEALS_ADOPTED, actor=None,
                                     details={"through": through, "witnessed": witnessed}))
        return through


def adoption_point(session: Session, seal_key: bytes) -> int:
    """The adoption point the log's first ``log_seals_adopted`` event names, if its seal holds;
    else 0 (none yet, or not adopted: every event must then be sealed)."""
    adoption = session.scalars(select(AuditEvent).where(
        AuditEvent.action == AuditAction.LOG_SEALS_ADOPTED).order_by(AuditEvent.seq)
        .limit(1)).first()
    if adoption is None or failure(seal_key, adoption) is not None:
        return 0
    return _through(adoption.details, adoption.seq)


def record_unsealed(runtime: Runtime, session: Session) -> bool:
    """Chain, once, the events past the last checkpoint witnessed of the log as it stands (not
    one of the sizes a rollback abandoned: :meth:`consent.witness.Witness.witnessed_of_the_log`;
    and past the adoption point and what this process checked already) that carry no valid
    keyed seal: appended by someone who
    writes the database without the key store. Not refused, like a rewrite (erasures and
    withdrawals are still due); the event names them by sequence number, and it is chained
    before the checkpoint that would sign them, so the witness never holds them unremarked.
    Whether there were any.

    Run at start and before each checkpoint the service signs, so every event is checked once
    before it is witnessed; what was checked is remembered once committed (a rolled-back
    transaction's sequence numbers are used again).
    """
    after = max(runtime.log.witness.witnessed_of_the_log(), runtime.seals_checked,
                adoption_point(session, runtime.keys.hmac_key))
    rows = session.execute(select(AuditEvent.seq, AuditEvent.hash, AuditEvent.keyed_seal)
                           .where(AuditEvent.seq > after).order_by(AuditEvent.seq)).all()
    if not rows:
        return False
    last = rows[-1].seq
    orm_event.listen(session, "after_commit", lambda _session: _checked(runtime, last),
                     once=True)
    found = [Unsealed(row.seq, reason) for row in rows
             if (reason := failure(runtime.keys.hmac_key, row)) is not None]
    if not found:
        return False
    details = _finding(found, after=after)
    if last_details(session, AuditAction.LOG_EVENTS_UNSEALED) == details:
        return True  # chained already (a start that died before witnessing it)
    logger.error("%d audit events past event %d carry no valid keyed seal (events %s): written"
                 " with the database alone, not by this service; chained as"
                 " log_events_unsealed, and optinface audit verify with the key store reports"
                 " them", len(found), after, details["events"])
    runtime.chain(session, Entry(action=AuditAction.LOG_EVENTS_UNSEALED, actor=None,
                                 details=details))
    return True


def _checked(runtime: Runtime, last: int) -> None:
    runtime.seals_checked = max(runtime.seals_checked, last)


def _finding(found: list[Unsealed], *, after: int) -> dict[str, Any]:
    return {"after": after, "count": len(found),
            "events": [item.seq for item in found[:LISTED]],
            "reasons": sorted({str(item.reason) for item in found})}

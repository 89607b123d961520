"""The operator's reseal of the audit log: keyed seals made again for events the witness signed.

A migration below 0031 drops every event's keyed seal (:mod:`consent.log_seals`), and upgrading
again does not adopt again: the adoption is chained once, and it is what stops a later start
from vouching for events appended by SQL. So every event from before the round trip fails
``optinface audit verify`` with the key store. Row seals have ``optinface keys reseal``
(:func:`consent.row_seals.reseal`), which seals whatever rows are there; the log's seals are
what tells an event the service appended from one a database writer appended, so they are
made again only under the automatic adoption's rule: the log must be the one its witness
signed, now and at every start since the witness was taken up. That is, no start ever chained
a finding (:data:`FINDINGS`: events lost, rewritten, a new witness folder, events appended
without the key store, an adoption refused), and the log still holds the events the witness's
newest checkpoint signed. Only events that checkpoint covers are sealed: each was checked for
its seal, or chained as unsealed, before it was first witnessed (:func:`consent.log_seals.
record_unsealed`). The act is chained as ``log_seals_resealed`` with the reason and the events
it sealed, for reviewers; a dry run checks and refuses alike and names what it would seal,
sealing and chaining nothing.

What it does not protect against: whoever holds the key store as well (they can seal what they
append, this command or not); an event appended by SQL while the ledger was below 0031 and
signed since by the older version's own checkpoints (the witness vouches for it as for the rest).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from optinface.consent import transparency
from optinface.consent.audit import AuditAction, Entry, keyed_seal
from optinface.consent.errors import LogNotAsWitnessed
from optinface.consent.identifiers import require_reason
from optinface.consent.log_seals import failure
from optinface.consent.runtime import Runtime
from optinface.consent.tables import AuditEvent

FINDINGS = (AuditAction.LOG_ROLLED_BACK, AuditAction.LOG_REWRITTEN, AuditAction.WITNESS_ADOPTED,
            AuditAction.LOG_EVENTS_UNSEALED, AuditAction.LOG_SEALS_NOT_ADOPTED,
            AuditAction.LOG_TRUNCATED)
"""What a start chains when it finds the log other than its witness signed it, or appended to
without the key store: any of them in the log, and nothing is resealed, for good."""


@dataclass(frozen=True, slots=True)
class LogResealed:
    sealed: list[int]  # the sequence numbers sealed again (a dry run's: those it would seal)
    witnessed: int  # the events the witness's newest checkpoint covers: none past it sealed

    def summary(self) -> dict[str, int | None]:
        """How many, the first and last sealed, and the witnessed size: what is chained."""
        return {"count": len(self.sealed), "first": self.sealed[0] if self.sealed else None,
                "last": self.sealed[-1] if self.sealed else None, "witnessed": self.witnessed}


def reseal(runtime: Runtime, *, reason: str, dry_run: bool = False) -> LogResealed:
    """Seal again every event the witness's newest checkpoint covers that carries no valid
    keyed seal, chained as ``log_seals_resealed`` with ``reason`` (nothing chained when none
    lacks one): the operator's own act with the key store (``optinface audit reseal``).
    ``dry_run`` makes the same checks and refusals and names the events it would seal, sealing
    and chaining nothing: for the operator to look before vouching.

    Raises:
        InvalidRequest: ``reason`` is not one line naming no subject.
        LogNotAsWitnessed: the log chains a finding of a start's, or is not (any longer) the
            one its witness signed; nothing is sealed.
    """
    require_reason(reason)
    # What it finds now is chained, and kept; a dry run chains nothing (its command's start,
    # moments ago, chained what it found then), so it refuses as the reseal would.
    with runtime.db.transaction() as session:
        lost_or_rewritten = (transparency.record_rollback(runtime, session, chain=not dry_run)
                             or transparency.record_rewrite(runtime, session,
                                                            chain=not dry_run))
    with runtime.db.transaction() as session:
        _require_as_witnessed(session, lost_or_rewritten=lost_or_rewritten)
        witnessed = runtime.log.witness.latest_size()
        key = runtime.keys.hmac_key
        rows = session.execute(select(AuditEvent.seq, AuditEvent.hash, AuditEvent.keyed_seal)
                               .where(AuditEvent.seq <= witnessed).order_by(AuditEvent.seq))
        unsealed = [row for row in rows if failure(key, row) is not None]
        done = LogResealed(sealed=[row.seq for row in unsealed], witnessed=witnessed)
        if unsealed and not dry_run:
            session.execute(update(AuditEvent), [
                {"seq": row.seq, "keyed_seal": keyed_seal(key, row.hash)} for row in unsealed])
            runtime.audit(session, Entry(action=AuditAction.LOG_SEALS_RESEALED, actor=None,
                                         details={"reason": reason, **done.summary()}))
        return done


def _require_as_witnessed(session: Session, *, lost_or_rewritten: bool) -> None:
    """Refuse unless the log is the one its witness signed, now and at every start.

    Raises:
        LogNotAsWitnessed: it is not; ``details.found`` names the finding's action and event.
    """
    found = session.execute(select(AuditEvent.seq, AuditEvent.action)
                            .where(AuditEvent.action.in_([str(a) for a in FINDINGS]))
                            .order_by(AuditEvent.seq).limit(1)).first()
    if found is None and not lost_or_rewritten:
        return
    what = ({"action": found.action, "seq": found.seq} if found is not None
            else {"action": "witness_unreadable", "seq": None})
    raise LogNotAsWitnessed(
        f"the audit log is not the one its witness signed ({what['action']}, event"
        f" {what['seq']}): its events are not vouched for, so none is sealed again; optinface"
        " audit verify with the key store names those without a valid seal",
        details={"found": what})

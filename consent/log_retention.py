"""Retention of the access log: old events lose their content, the chain stays verifiable.

The CNIL's logging recommendation (deliberation 2021-122) keeps access logs 6 to 12 months; the
AI Act (arts. 19, 26(6)) asks at least 6 months. Past ``access_log_retention_days`` (183 to 365
days, a year by default; longer or unset only under an investigation hold), the content of
access events (searches, refusals, exports, operators' reads of personal data, failed log-ins)
is removed: actor, purpose, subjects and their seals, probe hash, details.
What makes the log checkable stays: sequence, time, action, outcome, the event's chain hash and
its Merkle leaf hash (``pruned_leaf``), which the verifier uses in place of the removed bytes.
Only events already covered by a signed checkpoint are pruned, so the leaves kept are the ones
a signature committed to: rewriting one still breaks the signed root, and the next event's
``prev_hash`` still pins its chain hash. The edit check of a pruned event is what is given up.
Each run chains which events it emptied (``log_pruned``, :mod:`consent.prune_records`), so an
event emptied by anyone else, a young one above all, fails the verification.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optinface.consent import prune_records
from optinface.consent.audit import AuditAction, Entry, LoggedEvent, event_leaf, log_time
from optinface.consent.tables import AuditCheckpoint, AuditEvent

if TYPE_CHECKING:  # the record is chained through the runtime
    from optinface.consent.roles import Actor
    from optinface.consent.runtime import Runtime

ACCESS_ACTIONS = (AuditAction.VERIFY, AuditAction.IDENTIFY, AuditAction.REFUSED,
                  AuditAction.EXPORT, AuditAction.AUDIT_READ, AuditAction.LOGIN_FAILURE)
ACTIONS = tuple(str(action) for action in ACCESS_ACTIONS)  # as the table holds them


def emptied(event: LoggedEvent) -> bool:
    """Whether ``event`` (a row, or an exported event) is what :func:`prune` leaves: an access
    event without its content. One marked pruned that is anything else hides an edit behind its
    kept leaf."""
    return (event.action in ACCESS_ACTIONS and event.actor_key_id is None
            and event.purpose is None and not event.subjects and not event.subject_seals
            and event.probe_sha256 is None and not event.details)


def empty(event: AuditEvent) -> None:
    """Remove ``event``'s content, keeping the Merkle leaf it had in ``pruned_leaf``."""
    event.pruned_leaf = event_leaf(event).hex()  # before the content goes
    event.actor_key_id = None
    event.purpose = None
    event.subjects = []
    event.subject_seals = []
    event.probe_sha256 = None
    event.details = {}


def prune(runtime: Runtime, session: Session, *, now: datetime, actor: Actor | None) -> int:
    """Remove the content of access events older than the retention, and chain which in one
    ``log_pruned`` event (:mod:`consent.prune_records`), in the same transaction: the verifier
    accepts an emptied event only where such a record names it. How many were pruned."""
    retention_days = runtime.settings.access_log_retention_days
    if retention_days is None:
        return 0
    signed = session.scalar(select(func.max(AuditCheckpoint.seq))) or 0
    cutoff = log_time(now - timedelta(days=retention_days))
    rows = list(session.scalars(select(AuditEvent).where(
        AuditEvent.seq <= signed, AuditEvent.at < cutoff, AuditEvent.pruned_leaf.is_(None),
        AuditEvent.action.in_(ACTIONS)).order_by(AuditEvent.seq)))
    for event in rows:
        empty(event)
    if rows:
        seqs = [event.seq for event in rows]
        details = prune_records.record_details(
            seqs, prune_records.access_between(session, seqs, ACTIONS), cutoff=cutoff,
            checkpoint=signed)
        runtime.audit(session, Entry(action=AuditAction.LOG_PRUNED, actor=actor,
                                     details={**details, "retention_days": retention_days}))
    return len(rows)

"""Rights requests with their legal clock: answered within 30 days, due-soon and overdue flagged.

P-39.1 s. 32 gives an enterprise 30 days to answer a request of access, rectification or
deletion (silence is a refusal); GDPR art. 12(3) one month. Self-service actions (the export,
withdrawal, erasure) answer at once; a request made by letter or e-mail, or one the person
wants a human to handle, is recorded here so reviewers see each deadline. The record names the
subject by a keyed hash once the subject is erased, like consents.

A request is answered or, by a reviewer's reasoned decision, refused as manifestly unfounded or
excessive (GDPR art. 12(5); P-39.1 s. 34): nothing here refuses one by itself, however many
the person made before (no quota, G-10). A request still open in its last :data:`DUE_SOON`
is flagged ``due_soon``, so the reviewers are alerted before the deadline passes (X-ACC).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.accountability import RIGHTS_REQUEST_DAYS
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.errors import InvalidRequest
from optinface.consent.ledger import get_row, get_subject, new_id
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    RequestOutcome,
    RightsRequestAnswer,
    RightsRequestCreate,
    RightsRequestPublic,
)
from optinface.consent.tables import RightsRequest, Subject

# A week leaves time to answer, or to give reasons for an extension (GDPR art. 12(3)); the API
# states it in RightsRequestPublic.due_soon.
DUE_SOON = timedelta(days=7)


class RequestStatus(StrEnum):
    """Open until a reviewer closes it; then its outcome."""

    OPEN = "open"
    ANSWERED = RequestOutcome.ANSWERED.value
    REFUSED = RequestOutcome.REFUSED.value


def request(runtime: Runtime, *, actor: Actor, pseudonym: str,
            body: RightsRequestCreate) -> RightsRequestPublic:
    """Record a request and its audit event in one transaction."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        subject = get_subject(session, pseudonym, runtime=runtime)
        row = record_request(session, subject=subject, body=body, now=now)
        runtime.audit(session, Entry(action=AuditAction.RIGHTS_REQUESTED, actor=actor,
                                     subjects=[pseudonym],
                                     details={"request_id": row.id, "kind": row.kind,
                                              "due_at": row.due_at.isoformat()}))
        return public(row, now=now)


def answer(runtime: Runtime, *, actor: Actor, request_id: str, body: RightsRequestAnswer
           ) -> RightsRequestPublic:
    """Record a reviewer's answer, or refusal, and its audit event in one transaction; a
    request is closed once (see :func:`answer_request`). The log names the outcome and a
    refusal's ground; the reasons stay on the request, where the person reads them."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        row = answer_request(session, request_id=request_id, body=body,
                             answered_by=actor.key_id, now=now)
        decided = {"outcome": row.status} | ({"ground": row.refusal_ground}
                                              if row.refusal_ground else {})
        runtime.audit(session, Entry(action=AuditAction.RIGHTS_ANSWERED, actor=actor,
                                     subjects=[row.subject_ref],
                                     details={"request_id": request_id, **decided}))
        return public(row, now=now)


def record_request(
    session: Session, *, subject: Subject, body: RightsRequestCreate, now: datetime
) -> RightsRequest:
    """Insert an open request due :data:`RIGHTS_REQUEST_DAYS` after it was received (P-39.1
    s. 32: 30 days, after which silence counts as a refusal)."""
    row = RightsRequest(
        id=new_id("req"), subject_id=subject.id, subject_ref=subject.pseudonym,
        kind=str(body.kind), channel=body.channel, note=body.note, received_at=now,
        due_at=now + timedelta(days=RIGHTS_REQUEST_DAYS), status=str(RequestStatus.OPEN),
    )
    session.add(row)
    session.flush()
    return row


def answer_request(
    session: Session, *, request_id: str, body: RightsRequestAnswer, answered_by: str,
    now: datetime
) -> RightsRequest:
    """Close the request with its answer (or reasoned refusal) and who gave it; a second
    answer is refused, so the date the deadline was met (or missed) cannot be rewritten."""
    row = get_row(session, RightsRequest, request_id, noun="rights request", field="request_id")
    if row.status != RequestStatus.OPEN:
        raise InvalidRequest(f"rights request {request_id} is already closed ({row.status})",
                             details={"request_id": request_id, "status": row.status})
    row.status = str(RequestStatus(body.outcome))
    row.answer = body.answer
    row.refusal_ground = str(body.ground) if body.ground else None
    row.refusal_reasons = body.reasons
    row.answered_at = now
    row.answered_by = answered_by
    return row


def public(row: RightsRequest, *, now: datetime) -> RightsRequestPublic:
    """The request with its deadline; ``overdue`` also stays true for one answered late, and
    ``due_soon`` holds while it is open with :data:`DUE_SOON` or less left (or late)."""
    done = row.answered_at or now
    return RightsRequestPublic(
        id=row.id, subject=row.subject_ref, kind=row.kind, channel=row.channel, note=row.note,
        received_at=row.received_at, due_at=row.due_at, status=row.status, answer=row.answer,
        answered_at=row.answered_at, ground=row.refusal_ground, reasons=row.refusal_reasons,
        overdue=done > row.due_at,
        due_soon=row.status == RequestStatus.OPEN and row.due_at - now <= DUE_SOON,
    )


def all_requests(session: Session, *, now: datetime) -> list[RightsRequestPublic]:
    """Open requests first, earliest deadline first: what a reviewer must do next."""
    rows = session.scalars(select(RightsRequest).order_by(RightsRequest.due_at))
    found = [public(r, now=now) for r in rows]
    return sorted(found, key=lambda r: (r.status != RequestStatus.OPEN, r.due_at))


def of_subject(session: Session, subject: Subject, *, now: datetime) -> list[RightsRequestPublic]:
    rows = session.scalars(select(RightsRequest).where(RightsRequest.subject_id == subject.id)
                           .order_by(RightsRequest.received_at))
    return [public(r, now=now) for r in rows]

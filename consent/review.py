"""Human review: a search returns candidates, and only people confirm an identification.

P-39.1 s. 12.1 and GDPR art. 22 forbid resting a decision on the matcher alone; AI Act art.
14(5) asks, for 1:N identification, that at least two competent persons verify and confirm it
separately. So every candidate a verify or identify returns opens a review, ``provisional``
until holders of the ``verifier`` role decide: one confirmation for a 1:1 verify, two from
different verifier keys for a 1:N identify; one rejection rejects. A verifier's key is never
the key that ran the search (the searcher cannot confirm their own hit). Only ``confirmed``
reviews count as identifications, in the subject's export and in the register's figures.
Each decision is chained into the audit log naming the candidate, so the candidate's export
shows who confirmed what.

A review is decided only while its candidate could still be found by the search: a person who
withdrew the purpose, opted out of 1:N search, let their consent end or was erased after the
search is no longer confirmed by anyone (their consent was the only basis, GDPR art. 7(3),
P-39.1 s. 14). The first vote after that closes the review as ``lapsed`` instead, chained, and
is refused; an erasure closes its subject's open reviews at once.

While a regulator's order suspends matching, a confirmation is refused
(``suspended_by_regulator``, chained, no vote kept): confirming a candidate completes an
identification, the processing the order stops. A rejection is still taken: discarding a
candidate ends processing, it does not continue it, and leaving the review open would only keep
the person a pending candidate for the length of the order. A candidate who lapsed is closed as
lapsed under an order too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optinface.consent import declaration, log_seals, policies
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.errors import Forbidden, InvalidRequest, ReviewLapsed
from optinface.consent.ledger import get_row, new_id
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    Operation,
    ReviewDecision,
    ReviewDecisionCreate,
    ReviewPublic,
    ReviewStatus,
)
from optinface.consent.tables import AuditEvent, MatchReview, ReviewVote, Subject

CONFIRMATIONS = {Operation.VERIFY: 1, Operation.IDENTIFY: 2}  # AI Act art. 14(5) for 1:N


def open_reviews(session: Session, *, operation: Operation, purpose_id: str, searcher: Actor,
                 scores: list[tuple[str, float]], now: datetime) -> list[str]:
    """One provisional review per candidate, in the search's own transaction; their ids."""
    ids = []
    for pseudonym, score in scores:
        row = MatchReview(
            id=new_id("rev"), operation=str(operation), purpose_id=purpose_id,
            searcher_key_id=searcher.key_id, candidate=pseudonym, score=score,
            created_at=now, status=str(ReviewStatus.PROVISIONAL),
            confirmations_required=CONFIRMATIONS[operation],
        )
        session.add(row)
        ids.append(row.id)
    return ids  # written by the flush of the search's audit event, in the same transaction


def decide(runtime: Runtime, *, actor: Actor, review_id: str,
           body: ReviewDecisionCreate) -> ReviewPublic:
    """One verifier's vote on a provisional candidate, which may settle the review.

    Refused to the key that ran the search, on a review already decided, and to a verifier
    who already voted: the confirmations an identification needs must come from different
    people. One rejection rejects; the review is confirmed once it has
    :data:`CONFIRMATIONS` votes to confirm. The vote is audited naming the candidate.

    Raises:
        ReviewLapsed: the candidate can no longer be found by the search; the review is then
            closed as ``lapsed`` (committed, chained once) and no vote counts on it again.
        SuspendedByRegulator: a confirmation while a regulator's order is in force (a
            rejection is taken: see the module docstring); nothing is kept.
    """
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        row = get_row(session, MatchReview, review_id, noun="review", field="review_id")
        if row.searcher_key_id == actor.key_id:
            raise Forbidden("the key that ran the search cannot review its own candidate",
                            details={"review_id": review_id})
        if row.status == ReviewStatus.LAPSED:
            raise _lapsed(review_id)
        if row.status != ReviewStatus.PROVISIONAL:
            raise InvalidRequest(f"review {review_id} is already {row.status}",
                                 details={"review_id": review_id, "status": row.status})
        if policies.still_a_candidate(session, runtime.keys, row.candidate,
                                      purpose_id=row.purpose_id,
                                      operation=Operation(row.operation), now=now):
            if body.decision is ReviewDecision.CONFIRM:
                declaration.require_not_suspended(runtime, session)
            return _vote(runtime, session, row, actor=actor, body=body, now=now)
        _lapse(runtime, session, row, actor=actor, now=now)  # committed: it stays closed
    raise _lapsed(review_id)


def _lapsed(review_id: str) -> ReviewLapsed:
    return ReviewLapsed(
        f"review {review_id}'s candidate can no longer be found by its search (consent"
        " withdrawn or ended, opted out of search, or erased): closed as lapsed",
        details={"review_id": review_id, "status": str(ReviewStatus.LAPSED)})


def _vote(runtime: Runtime, session: Session, row: MatchReview, *, actor: Actor,
          body: ReviewDecisionCreate, now: datetime) -> ReviewPublic:
    if session.get(ReviewVote, (row.id, actor.key_id)) is not None:
        raise InvalidRequest("this verifier already decided on this candidate; a second"
                             " confirmation must come from another verifier",
                             details={"review_id": row.id})
    session.add(ReviewVote(review_id=row.id, verifier_key_id=actor.key_id,
                           decision=str(body.decision), reason=body.reason, at=now))
    session.flush()
    if body.decision is ReviewDecision.REJECT:
        row.status = str(ReviewStatus.REJECTED)
    elif _confirmations(session, row.id) >= row.confirmations_required:
        row.status = str(ReviewStatus.CONFIRMED)
    if row.status != ReviewStatus.PROVISIONAL:
        row.decided_at = now
    runtime.audit(session, Entry(
        action=AuditAction.REVIEW_DECIDED, actor=actor, outcome=row.status,
        purpose=row.purpose_id, subjects=[row.candidate],
        details={"review_id": row.id, "decision": str(body.decision),
                 "operation": row.operation, "searcher_key_id": row.searcher_key_id}))
    return public(session, row)


def _lapse(runtime: Runtime, session: Session, row: MatchReview, *, actor: Actor | None,
           now: datetime) -> None:
    """Close ``row`` as lapsed, chained; an erased candidate is named by no one (its
    ``candidate`` is then a tombstone hash, which names nobody in the log)."""
    row.status, row.decided_at = str(ReviewStatus.LAPSED), now
    erased = session.scalar(select(Subject.id).where(Subject.pseudonym == row.candidate)) is None
    runtime.audit(session, Entry(
        action=AuditAction.REVIEW_LAPSED, actor=actor, outcome=str(ReviewStatus.LAPSED),
        purpose=row.purpose_id, subjects=[] if erased else [row.candidate],
        details={"review_id": row.id, "operation": row.operation,
                 "searcher_key_id": row.searcher_key_id}))


def _confirmations(session: Session, review_id: str) -> int:
    return session.scalar(select(func.count()).select_from(ReviewVote).where(
        ReviewVote.review_id == review_id,
        ReviewVote.decision == str(ReviewDecision.CONFIRM))) or 0


def public(session: Session, row: MatchReview) -> ReviewPublic:
    """The review as the API shows it, with each verifier's vote in the order cast."""
    votes = session.scalars(select(ReviewVote).where(ReviewVote.review_id == row.id)
                            .order_by(ReviewVote.at))
    return ReviewPublic(
        id=row.id, operation=row.operation, purpose_id=row.purpose_id,
        searcher_key_id=row.searcher_key_id, candidate=row.candidate, score=row.score,
        created_at=row.created_at, status=row.status,
        confirmations_required=row.confirmations_required,
        verifiers=[f"{v.verifier_key_id}:{v.decision}" for v in votes],
        decided_at=row.decided_at,
    )


def pending(session: Session, *, limit: int = 200) -> list[ReviewPublic]:
    rows = session.scalars(select(MatchReview).where(
        MatchReview.status == str(ReviewStatus.PROVISIONAL))
        .order_by(MatchReview.created_at).limit(limit))
    return [public(session, r) for r in rows]


def of_candidate(session: Session, pseudonym: str) -> list[ReviewPublic]:
    rows = session.scalars(select(MatchReview).where(MatchReview.candidate == pseudonym)
                           .order_by(MatchReview.created_at))
    return [public(session, r) for r in rows]


@dataclass(frozen=True, slots=True)
class Identifications:
    """The register's figure of identifications and how many review rows contradict it."""

    confirmed: int  # reviews whose confirmation the audit log chained
    disagreeing: int  # reviews whose row and chained decision differ (written from outside)


def confirmed_identifications(session: Session, seal_key: bytes) -> Identifications:
    """The only figure of identifications: reviews people confirmed, as the audit log chained
    their confirmations, not as the rows say, which whoever holds the database can set.

    A ``review_decided`` event counts when it matches its hash and carries its keyed seal
    (:mod:`consent.log_seals`; before the seals' adoption point, the hash alone), which the
    database alone cannot make; a review whose row says ``confirmed`` with no such event, or
    the reverse, is counted as disagreeing, for the register's warning. Only the confirmations
    are read (one per confirmed review), never the whole log; whether the chain itself holds
    is the log's verification's to say."""
    point = log_seals.adoption_point(session, seal_key)
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.action == str(AuditAction.REVIEW_DECIDED),
        AuditEvent.outcome == str(ReviewStatus.CONFIRMED)))
    chained = {event.details["review_id"] for event in events
               if isinstance(event.details, dict)
               and isinstance(event.details.get("review_id"), str)  # None would count a review
               and log_seals.vouched(seal_key, event, adopted=point)}
    rows = set(session.scalars(select(MatchReview.id).where(
        MatchReview.status == str(ReviewStatus.CONFIRMED))))
    return Identifications(confirmed=len(chained), disagreeing=len(chained ^ rows))

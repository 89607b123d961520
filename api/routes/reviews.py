"""Human review of candidates (verifier role): no identification without people confirming it.

A verifier's key is never the searcher's; 1:N candidates need two verifiers (AI Act art. 14(5)).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from optinface.api.deps import ServiceDep, require
from optinface.api.uploads import InMemoryFormRoute
from optinface.consent.identifiers import Identifier
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import ReviewDecisionCreate, ReviewPublic

router = APIRouter(prefix="/reviews", tags=["human review"], route_class=InMemoryFormRoute)

Verifier = Annotated[Actor, require(Permission.REVIEW_CANDIDATES)]


@router.get("")
def pending_reviews(service: ServiceDep, actor: Verifier) -> list[ReviewPublic]:
    """Candidates awaiting a decision, oldest first."""
    return service.pending_reviews(actor=actor)


@router.post("/{review_id}")
def decide_review(
    review_id: Identifier,
    body: ReviewDecisionCreate,
    service: ServiceDep,
    actor: Verifier,
) -> ReviewPublic:
    """Confirm or reject a candidate; confirmed once enough distinct verifiers agree."""
    return service.decide_review(actor=actor, review_id=review_id, body=body)

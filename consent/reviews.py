"""What reviewers read: the access log filtered and paged in SQL, and the ledger's counts."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from optinface.consent.access import mentions
from optinface.consent.schemas import (
    AuditEventPublic,
    AuditFilter,
    AuditPage,
    ConsentLedger,
    ConsentPublic,
)
from optinface.consent.tables import AuditEvent


def _filtered(filters: AuditFilter) -> Select[AuditEvent]:
    query = select(AuditEvent)
    if filters.action:
        query = query.where(AuditEvent.action == str(filters.action))
    if filters.actor_key_id:
        query = query.where(AuditEvent.actor_key_id == filters.actor_key_id)
    if filters.purpose:
        query = query.where(AuditEvent.purpose == filters.purpose)
    if filters.subject:
        query = query.where(mentions(filters.subject))
    if filters.since:
        query = query.where(AuditEvent.at >= filters.since)
    if filters.until:
        query = query.where(AuditEvent.at < filters.until)
    return query


def audit_page(session: Session, filters: AuditFilter, *, offset: int, limit: int) -> AuditPage:
    """One page of the events matching ``filters``, oldest first, with the total count."""
    query = _filtered(filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEvent.seq).offset(offset).limit(limit))
    return AuditPage(events=[AuditEventPublic.model_validate(r) for r in rows],
                     total=total, offset=offset, limit=limit)


def ledger_summary(consents: list[ConsentPublic]) -> ConsentLedger:
    """Every consent, and how many are in each status, overall and per purpose."""
    by_purpose: dict[str, Counter[str]] = {}
    for consent in consents:
        for purpose in consent.purposes:
            by_purpose.setdefault(purpose, Counter())[consent.status] += 1
    return ConsentLedger(by_status=dict(Counter(c.status for c in consents)),
                         by_purpose={p: dict(c) for p, c in by_purpose.items()},
                         consents=consents)

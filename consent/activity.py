"""The reviewer's questions of the audit log and the erasure tombstones, answered in SQL.

The log grows without bound, so nothing here loads it whole: filters and paging are a query,
searches are counted with ``GROUP BY`` per UTC hour and purpose (a few rows per hour at most),
which a page folds into local days itself: SQLite knows no time zones, and an hour is the
largest unit every time zone's days are made of.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, log_time
from optinface.consent.audit_seals import mentions
from optinface.consent.schemas import (
    LEGACY_SEARCH_OUTCOMES,
    AuditEventPublic,
    AuditFilter,
    AuditPage,
    ConsentLedger,
    ConsentPublic,
    KeyName,
    SearchCount,
    current_outcome,
)
from optinface.consent.tables import ApiKey, AuditEvent, ConsentStatus, Tombstone

SEARCH_ACTIONS = (str(AuditAction.IDENTIFY), str(AuditAction.VERIFY))
_HOUR = 13  # len("2026-11-30T14"): the ISO text of ``at`` cut to the hour


def filtered(filters: AuditFilter) -> Select[AuditEvent]:
    """The audit events matching every given filter (times compared as the log writes them)."""
    query = select(AuditEvent)
    if filters.action:
        query = query.where(AuditEvent.action == str(filters.action))
    if filters.actor_key_id:
        query = query.where(AuditEvent.actor_key_id == filters.actor_key_id)
    if filters.purpose:
        query = query.where(AuditEvent.purpose == filters.purpose)
    if filters.outcome:
        # Rows written before issue 12 say match / no_match: one filter finds both spellings.
        recorded = [filters.outcome, *(old for old, now in LEGACY_SEARCH_OUTCOMES.items()
                                       if now == filters.outcome)]
        query = query.where(AuditEvent.outcome.in_(recorded))
    if filters.subject:
        query = query.where(mentions(filters.subject))
    if filters.since:
        query = query.where(AuditEvent.at >= log_time(filters.since))
    if filters.until:
        query = query.where(AuditEvent.at < log_time(filters.until))
    return query


def audit_page(session: Session, filters: AuditFilter, *, offset: int, limit: int,
               newest_first: bool, through: int | None = None) -> AuditPage:
    """One page of the events matching ``filters``, with the total count, both in SQL;
    ``through``: none past that event (an export of the whole log ends at the checkpoint it
    signed, whatever was appended while it was read)."""
    query = filtered(filters)
    if through is not None:
        query = query.where(AuditEvent.seq <= through)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = AuditEvent.seq.desc() if newest_first else AuditEvent.seq
    rows = session.scalars(query.order_by(order).offset(offset).limit(limit))
    return AuditPage(events=[AuditEventPublic.model_validate(r) for r in rows],
                     total=total, offset=offset, limit=limit)


def ledger_summary(consents: list[ConsentPublic],
                   purposes_withdrawn: list[str]) -> ConsentLedger:
    """Every consent, and how many are in each status, overall and per purpose.

    A purpose withdrawn from a consent that keeps others (``purposes_withdrawn``, one entry
    each) is no longer among that consent's purposes, yet the person consented to it and took
    it back: it counts as ``withdrawn`` under its purpose, or it would vanish from the ledger.
    """
    by_purpose: dict[str, Counter[str]] = {}
    for consent in consents:
        for purpose in consent.purposes:
            by_purpose.setdefault(purpose, Counter())[consent.status] += 1
    for purpose in purposes_withdrawn:
        by_purpose.setdefault(purpose, Counter())[str(ConsentStatus.WITHDRAWN)] += 1
    return ConsentLedger(by_status=dict(Counter(c.status for c in consents)),
                         by_purpose={p: dict(c) for p, c in by_purpose.items()},
                         consents=consents)


def searches_by_hour(
    session: Session, *, since: datetime | None, until: datetime | None
) -> list[SearchCount]:
    """Identify and verify events per UTC hour and purpose, oldest first."""
    hour = func.substr(AuditEvent.at, 1, _HOUR)
    query = select(hour, AuditEvent.purpose, func.count()).where(
        AuditEvent.action.in_(SEARCH_ACTIONS)
    )
    if since:
        query = query.where(AuditEvent.at >= log_time(since))
    if until:
        query = query.where(AuditEvent.at < log_time(until))
    rows = session.execute(query.group_by(hour, AuditEvent.purpose).order_by(hour))
    return [SearchCount(hour=h, purpose=p, searches=n) for h, p, n in rows]


def outcomes(session: Session) -> list[str]:
    """The outcomes the log holds, for a filter's choices, old spellings in today's words."""
    recorded = session.scalars(select(AuditEvent.outcome).distinct())
    return sorted({current_outcome(outcome) for outcome in recorded})


def key_names(session: Session) -> list[KeyName]:
    """Every API key's name and role (never its secret), so a log names people, not ids."""
    return [
        KeyName(key_id=k.id, name=k.name, role=k.role, revoked_at=k.revoked_at)
        for k in session.scalars(select(ApiKey).order_by(ApiKey.created_at))
    ]


def tombstones(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> list[Tombstone]:
    """Erasure tombstones in ``[since, until)``, oldest first."""
    query = select(Tombstone)
    if since is not None:
        query = query.where(Tombstone.erased_at >= since)
    if until is not None:
        query = query.where(Tombstone.erased_at < until)
    return list(session.scalars(query.order_by(Tombstone.erased_at)))


def tombstone(session: Session, subject_hash: str) -> Tombstone | None:
    return session.scalars(select(Tombstone).where(Tombstone.subject_hash == subject_hash)).first()

"""Refusals are audited too: a refused attempt is chained into the log, then raised unchanged.

The refused work's own transaction is rolled back, so the refusal is written in a transaction of
its own. Identify attempts count against the daily quota whether they succeed or not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from optinface.consent import after_erasure
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.errors import ConsentError, QuotaExceeded
from optinface.consent.identifiers import require_identifiers
from optinface.consent.quota import require_identify_quota
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.engine.errors import EngineError

T = TypeVar("T")


def check_quota(
    runtime: Runtime, session: Session, actor: Actor | None, daily_quota: int | None,
    *, purpose: str | None = None,
) -> None:
    """In the transaction that appends the attempt's audit event (see :mod:`consent.quota`):
    the key's quota, and the purpose's over all keys."""
    if daily_quota is not None and actor is not None:
        require_identify_quota(session, key_id=actor.key_id, limit=daily_quota,
                               now=runtime.clock.now(), purpose=purpose)


def audited(
    runtime: Runtime,
    work: Callable[[], T],
    *,
    actor: Actor | None,
    action: AuditAction,
    purpose: str | None = None,
    subjects: list[str] | None = None,
    probe_sha256: str | None = None,
    daily_quota: int | None = None,
) -> T:
    """Run ``work``; a refusal is chained into the audit log, then raised unchanged.

    With ``daily_quota`` (identify), the refused attempt counts against the quota too: if
    concurrent attempts spent the quota meanwhile, it is recorded and raised as
    ``rate_limited`` instead, so the attempts counted never exceed the quota. Identifiers
    that cannot be ones are refused first, unrecorded: the log never holds what a caller made
    up at any length.
    """
    require_identifiers(purpose=purpose, subjects=subjects)
    try:
        return work()
    except (ConsentError, EngineError) as refusal:
        raised: ConsentError | EngineError = refusal
        with runtime.db.transaction() as session:
            if not isinstance(refusal, QuotaExceeded):
                try:
                    check_quota(runtime, session, actor, daily_quota, purpose=purpose)
                except QuotaExceeded as spent:
                    raised = spent
            runtime.audit(
                session,
                Entry(
                    action=AuditAction.REFUSED,
                    actor=actor,
                    outcome=raised.code,
                    purpose=purpose,
                    subjects=after_erasure.log_names(runtime, session, subjects or []),
                    probe_sha256=probe_sha256,
                    details={"attempted": str(action)},
                ),
            )
        if raised is refusal:
            raise
        raise raised from refusal

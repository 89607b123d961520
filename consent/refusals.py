"""Refusals are audited too: a refused attempt is chained into the log, then raised unchanged.

The refused work's own transaction is rolled back, so the refusal is written in a transaction of
its own. Identify attempts count against the daily quota whether they succeed or not.

A matching attempt that fails unexpectedly (a bug, a database or an engine crash) is chained
the same way, as a refusal whose outcome is :data:`consent.errors.UNEXPECTED_FAILURE`: by then it
may have spent a probe consent and computed a face's embedding, so the log must show it like any
other search. Only the failure's type is recorded, never its message, which may quote what the
request sent. Other work is not: it may fail after its own transaction committed, and the log
would then call refused what was done.

A refusal for a row its signed receipt does not back (problem ``receipt_mismatch``) is also
said as such: an ``authority_mismatch`` event and an error line (:func:`consent.authority.report`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from optinface.consent import after_erasure, authority
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.errors import UNEXPECTED_FAILURE, ConsentError, QuotaExceeded
from optinface.consent.identifiers import require_identifiers
from optinface.consent.quota import MATCHING, require_identify_quota
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.engine.errors import EngineError

T = TypeVar("T")
logger = logging.getLogger(__name__)


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
    """Run ``work``; a refusal, or a matching attempt's unexpected failure, is chained into the
    audit log, then raised unchanged.

    With ``daily_quota`` (identify), the refused attempt counts against the quota too: if
    concurrent attempts spent the quota meanwhile, it is recorded and raised as
    ``rate_limited`` instead, so the attempts counted never exceed the quota. Identifiers
    that cannot be ones are refused first, unrecorded: the log never holds what a caller made
    up at any length.
    """
    require_identifiers(purpose=purpose, subjects=subjects)
    attempt = Entry(action=AuditAction.REFUSED, actor=actor, purpose=purpose,
                    probe_sha256=probe_sha256, details={"attempted": str(action)})
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
            if isinstance(refusal, ConsentError) and (row := authority.named_by(refusal)):
                authority.report(runtime, session, actor=actor, row_id=row[0], problem=row[1],
                                 use=str(action), purpose=purpose, outcome=refusal.code)
            _record(runtime, session, attempt, outcome=raised.code, subjects=subjects)
        if raised is refusal:
            raise
        raise raised from refusal
    except Exception as failure:
        if str(action) in MATCHING:
            _record_failure(runtime, attempt, failure, subjects=subjects)
        raise


@contextmanager
def chained(runtime: Runtime, refused: type[ConsentError] | tuple[type[ConsentError], ...], *,
            actor: Actor | None, action: AuditAction) -> Iterator[None]:
    """Chain a ``refused`` raised in the block as :func:`audited` chains every refusal, then
    raise it unchanged: for work that chains none of its other refusals (a failed sign-in,
    which anyone can cause, would let anyone grow the log) but must chain this one. The event
    names the subject of the refusal's ``details["subject"]``, if any."""
    try:
        yield
    except refused as refusal:
        subject = refusal.details.get("subject")
        with runtime.db.transaction() as session:
            _record(runtime, session, Entry(action=AuditAction.REFUSED, actor=actor,
                                            details={"attempted": str(action)}),
                    outcome=refusal.code, subjects=[subject] if subject else [])
        raise


def _record(runtime: Runtime, session: Session, attempt: Entry, *, outcome: str,
            subjects: list[str] | None, **details: Any) -> None:
    named = after_erasure.log_names(runtime, session, subjects or [])
    runtime.audit(session, replace(attempt, outcome=outcome, subjects=named,
                                   details=attempt.details | details))


def _record_failure(runtime: Runtime, attempt: Entry, failure: Exception, *,
                    subjects: list[str] | None) -> None:
    """Chain an unexpected failure; if the log cannot be written either (the database is what
    failed), say so in the operator's log and let the original failure propagate."""
    try:
        with runtime.db.transaction() as session:
            _record(runtime, session, attempt, outcome=UNEXPECTED_FAILURE, subjects=subjects,
                    failure=type(failure).__name__)
    except Exception as unrecorded:  # the failure being raised matters more
        logger.error("a failed %s attempt could not be audited: %s", attempt.details["attempted"],
                     type(unrecorded).__name__)

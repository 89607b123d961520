"""The daily matching quota, counted from the audit log so that a restart cannot reset it.

Mass searching is the harm this system exists to prevent, so each key, and each purpose over
all keys, may make at most ``limit`` matching attempts per UTC day. An attempt is one audited
identify or verify: a search, or a refusal of one by a gate or the engine (``refused`` with
``attempted: identify|verify``); refusals by the quota itself (outcome ``rate_limited``) do not
count, so a spent key stays spent, no more, nor do unexpected failures (``internal_error``),
which are the server's, not the caller's. A matching event or refusal of the day emptied of
its key and purpose counts against every key and purpose (``_EMPTIED_TODAY``): retention never
empties one so young, so whoever did so must not win the key its attempts back.

The check runs inside the write transaction that appends the attempt's audit event. Write
transactions are serialised (``BEGIN IMMEDIATE``, the same guarantee that keeps the hash chain
from forking), so the count a caller sees cannot change before its own event is appended: the
limit holds exactly under concurrent requests and across restarts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.orm import Mapped, Session

from optinface.consent.audit import AuditAction
from optinface.consent.errors import UNEXPECTED_FAILURE, QuotaExceeded
from optinface.consent.tables import AuditEvent

MATCHING = (str(AuditAction.IDENTIFY), str(AuditAction.VERIFY))


_EMPTIED_TODAY = select(func.count()).where(
    AuditEvent.actor_key_id.is_(None),
    AuditEvent.action.in_((*MATCHING, str(AuditAction.REFUSED))),
    AuditEvent.at >= bindparam("start"), AuditEvent.at < bindparam("end"),
    AuditEvent.pruned_leaf.is_not(None)).scalar_subquery()
"""The day's matching events and refusals emptied as retention empties (their key, purpose and
what they refused removed), counted against every key and purpose: retention empties nothing
younger than half a year (:mod:`consent.prune_records`), so one of today's was emptied with the
database alone, and must not give its key its attempts back. Read from the key index's rows
without a key, the day's range."""


def _attempts(owner: Mapped[str | None], name: str) -> ColumnElement[int]:
    """The attempts of one owner (a key, or a purpose whichever keys made them) on one day, as
    a scalar subquery. ``at`` is the event's UTC ISO text (the clock is UTC by contract), so a
    day is the range of strings from ``start`` to ``end``. Verify attempts count like identify
    attempts: a 1:1 comparison run against every subject in turn is a search too.

    Two counts, so that searches, nearly all of the rows, are counted from the index on
    (owner, action, at) alone; only refusals read their row for what they refused. The day's
    emptied events (``_EMPTIED_TODAY``) are added by the statements below, once each."""
    day = (owner == bindparam(name), AuditEvent.at >= bindparam("start"),
           AuditEvent.at < bindparam("end"))
    searches = select(func.count()).where(*day, AuditEvent.action.in_(MATCHING))
    refusals = select(func.count()).where(
        *day, AuditEvent.action == str(AuditAction.REFUSED),
        AuditEvent.details["attempted"].as_string().in_(MATCHING),
        AuditEvent.outcome.not_in((QuotaExceeded.code, UNEXPECTED_FAILURE)))
    return searches.scalar_subquery() + refusals.scalar_subquery()


_BY_KEY = _attempts(AuditEvent.actor_key_id, "key")
_BY_PURPOSE = _attempts(AuditEvent.purpose, "purpose")
_KEY_COUNT = select(_BY_KEY + _EMPTIED_TODAY)
_PURPOSE_COUNT = select(_BY_PURPOSE + _EMPTIED_TODAY)
_BOTH_COUNTS = select(_BY_KEY, _BY_PURPOSE, _EMPTIED_TODAY)
"""Built once with bound parameters: building a statement per call cost more than running it,
twice per search. A search's check reads both counts and the emptied events, counted once, in
one statement."""


def _day(day: date) -> dict[str, str]:
    return {"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()}


def _bound(key_id: str | None, purpose: str | None,
           day: date) -> tuple[Select[int], dict[str, str]]:
    """The statement counting for ``key_id`` (else ``purpose``) and its parameters."""
    if key_id is not None:
        return _KEY_COUNT, {"key": key_id, **_day(day)}
    if purpose is not None:
        return _PURPOSE_COUNT, {"purpose": purpose, **_day(day)}
    raise ValueError("count the attempts of a key or of a purpose")


def identify_attempts_query(*, key_id: str | None = None, purpose: str | None = None,
                            day: date) -> Select[int]:
    """The count of :func:`identify_attempts` with its values bound (to read or explain it)."""
    statement, parameters = _bound(key_id, purpose, day)
    return statement.params(parameters)


def identify_attempts(session: Session, *, key_id: str | None = None,
                      purpose: str | None = None, day: date) -> int:
    """How many matching attempts ``key_id`` (or all keys for ``purpose``) made on ``day``."""
    return session.scalar(*_bound(key_id, purpose, day)) or 0


def require_identify_quota(session: Session, *, key_id: str, limit: int, now: datetime,
                           purpose: str | None = None) -> None:
    """Raise :class:`QuotaExceeded` when ``key_id``, or the purpose over all keys, has no
    matching attempt left today: minting more keys does not multiply the searches.

    Call it in the write transaction that will append the attempt's audit event.
    """
    now = now.astimezone(UTC)
    if purpose is None:
        by_key, by_purpose = identify_attempts(session, key_id=key_id, day=now.date()), 0
    else:
        own, purposes, emptied = session.execute(
            _BOTH_COUNTS, {"key": key_id, "purpose": purpose, **_day(now.date())}).one()
        by_key, by_purpose = own + emptied, purposes + emptied
    if by_key < limit and by_purpose < limit:
        return
    spent_by = "key" if by_key >= limit else "purpose"
    midnight = datetime.combine(now.date() + timedelta(days=1), time.min, UTC)
    wait = (midnight - now).total_seconds()
    raise QuotaExceeded(
        f"daily quota of {limit} searches reached for this {spent_by}",
        details={"quota": limit, "spent_by": spent_by, "retry_after_seconds": round(wait)},
        retry_after_seconds=wait,
    )

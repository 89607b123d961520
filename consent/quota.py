"""The daily matching quota, counted from the audit log so that a restart cannot reset it.

Mass searching is the harm this system exists to prevent, so each key, and each purpose over
all keys, may make at most ``limit`` matching attempts per UTC day. An attempt is one audited
identify or verify: a search or a refusal of one by a gate or the engine (``refused`` with
``attempted: identify|verify``); refusals by the quota itself (outcome ``rate_limited``) do not
count, so a spent key stays spent, no more.

The check runs inside the write transaction that appends the attempt's audit event. Write
transactions are serialised (``BEGIN IMMEDIATE``, the same guarantee that keeps the hash chain
from forking), so the count a caller sees cannot change before its own event is appended: the
limit holds exactly under concurrent requests and across restarts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction
from optinface.consent.errors import QuotaExceeded
from optinface.consent.tables import AuditEvent

MATCHING = (str(AuditAction.IDENTIFY), str(AuditAction.VERIFY))


def _attempts_statement(*, by_purpose: bool) -> Select[int]:
    """The count behind :func:`identify_attempts`, for one key (served by the index on
    (actor_key_id, action, at)) or for one purpose, whichever keys made them. ``at`` is the
    event's UTC ISO text (the clock is UTC by contract), so a day is the range of strings from
    ``start`` to ``end``. Verify attempts count like identify attempts: a 1:1 comparison run
    against every subject in turn is a search too.

    Built once with bound parameters (see :data:`_BY_KEY`): building it per call cost more than
    running it, twice per search."""
    owner = AuditEvent.purpose if by_purpose else AuditEvent.actor_key_id
    return select(func.count()).select_from(AuditEvent).where(
        owner == bindparam("owner"),
        AuditEvent.action.in_([*MATCHING, str(AuditAction.REFUSED)]),
        AuditEvent.at >= bindparam("start"),
        AuditEvent.at < bindparam("end"),
        or_(
            AuditEvent.action.in_(MATCHING),
            and_(
                AuditEvent.details["attempted"].as_string().in_(MATCHING),
                AuditEvent.outcome != QuotaExceeded.code,
            ),
        ),
    )


_BY_KEY = _attempts_statement(by_purpose=False)
_BY_PURPOSE = _attempts_statement(by_purpose=True)


def _bound(key_id: str | None, purpose: str | None,
           day: date) -> tuple[Select[int], dict[str, str]]:
    """The statement counting for ``key_id`` (else ``purpose``) and its parameters."""
    statement, owner = (_BY_KEY, key_id) if key_id is not None else (_BY_PURPOSE, purpose)
    if owner is None:
        raise ValueError("count the attempts of a key or of a purpose")
    return statement, {"owner": owner, "start": day.isoformat(),
                       "end": (day + timedelta(days=1)).isoformat()}


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
    spent_by = None
    if identify_attempts(session, key_id=key_id, day=now.date()) >= limit:
        spent_by = "key"
    elif purpose is not None and identify_attempts(session, purpose=purpose,
                                                   day=now.date()) >= limit:
        spent_by = "purpose"
    if spent_by is None:
        return
    midnight = datetime.combine(now.date() + timedelta(days=1), time.min, UTC)
    wait = (midnight - now).total_seconds()
    raise QuotaExceeded(
        f"daily quota of {limit} searches reached for this {spent_by}",
        details={"quota": limit, "spent_by": spent_by, "retry_after_seconds": round(wait)},
        retry_after_seconds=wait,
    )

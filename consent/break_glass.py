"""Break-glass: the one sanctioned way for the operator to get an admin key without one.

When every admin key is lost or revoked, or its holder cannot be reached while an erasure or an
incident cannot wait, the alternative is an edit of the database that nothing records. This
path is the opposite: whoever holds the data directory and the key store may open it, with no
key, but it is loud, short-lived and attributable:

- loud: the opening is chained in the audit log with its reason, and a checkpoint covering it
  is signed in the same transaction and written to the witness folder once it commits, so
  truncating the log to hide it fails ``audit verify`` against the witness; reviewers see every
  opening of the last :data:`REVIEW_DAYS` days on their dashboard and at
  ``GET /v1/audit/break-glass``, with how many acts were done under its key;
- short-lived: the key it issues expires after at most :data:`MAX_HOURS` hours;
- attributable: every act done with the key names it as its actor, like any other key.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optinface.consent.activity import filtered
from optinface.consent.apikeys import create_api_key, key_public
from optinface.consent.audit import AuditAction, Entry, log_time
from optinface.consent.errors import InvalidRequest
from optinface.consent.identifiers import require_name
from optinface.consent.roles import Role
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ApiKeyCreated, AuditFilter, BreakGlassPublic
from optinface.consent.tables import ApiKey, AuditEvent

MIN_HOURS = 1
MAX_HOURS = 24
"""A day at most: long enough to mint a proper admin key or finish the urgent act, short
enough that a forgotten break-glass key is not a standing backdoor."""
DEFAULT_HOURS = 4
REVIEW_DAYS = 90
"""How far back reviewers are shown openings: a quarter, the usual period of an access review."""
KEY_NAME = "break-glass"


def require_hours(hours: int) -> None:
    """Refuse (``invalid_request``) a lifetime outside :data:`MIN_HOURS`-:data:`MAX_HOURS`."""
    if not MIN_HOURS <= hours <= MAX_HOURS:
        raise InvalidRequest(f"hours must be {MIN_HOURS} to {MAX_HOURS}",
                             details={"field": "hours"})


def open_audited(runtime: Runtime, *, reason: str, hours: int) -> ApiKeyCreated:
    """A new admin key that expires in ``hours``, its opening chained with ``reason`` (no actor:
    no key opened it) and covered by a checkpoint that is witnessed once it commits.

    Raises:
        InvalidRequest: ``reason`` is not one line of printable text, or ``hours`` is out of
            range; nothing is created.
    """
    require_name(reason, field="reason")
    require_hours(hours)
    now = runtime.clock.now()
    expires_at = now + timedelta(hours=hours)
    with runtime.db.transaction() as session:
        row, secret = create_api_key(session, role=Role.ADMIN, name=KEY_NAME, keys=runtime.keys,
                                     now=now, expires_at=expires_at)
        runtime.audit(session, Entry(
            action=AuditAction.BREAK_GLASS_OPENED, actor=None,
            details={"key_id": row.id, "reason": reason, "expires_at": log_time(expires_at)}))
        runtime.log.checkpoint(session, now=now)
        return ApiKeyCreated(**key_public(row).model_dump(), secret=secret)


def openings(session: Session, *, since: datetime) -> list[BreakGlassPublic]:
    """The openings chained since ``since``, newest first, each with its key's revocation and
    the number of events its key is the actor of (counted in SQL, on the actor's index)."""
    opened = list(session.scalars(
        filtered(AuditFilter(action=AuditAction.BREAK_GLASS_OPENED, since=since))
        .order_by(AuditEvent.seq.desc())))
    key_ids = [event.details["key_id"] for event in opened]
    acts = dict(session.execute(
        select(AuditEvent.actor_key_id, func.count())
        .where(AuditEvent.actor_key_id.in_(key_ids)).group_by(AuditEvent.actor_key_id)).all())
    revoked = dict(session.execute(
        select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.id.in_(key_ids))).all())
    return [BreakGlassPublic(key_id=event.details["key_id"], reason=event.details["reason"],
                             opened_at=datetime.fromisoformat(event.at),
                             expires_at=datetime.fromisoformat(event.details["expires_at"]),
                             revoked_at=revoked.get(event.details["key_id"]),
                             acts=acts.get(event.details["key_id"], 0))
            for event in opened]

"""The host clock, as the log trusts it: never dating an event before the one it follows.

The service takes the time from the host (:class:`consent.clock.SystemClock`). An operator who
sets the host clock back would otherwise chain events dated before earlier ones, unseen (red
team 3, finding 5). The rule: an event is chained at the clock's time or, if that is earlier,
at the time of the event before it (:func:`dated`), so the log's times never go backwards and
its text order stays its time order (:func:`consent.audit.log_time`), which the quota's and
the filters' SQL rely on. A clock behind by more than :data:`TOLERANCE` (more than several
workers' clocks drift apart) is an error: chained once as ``clock_behind`` (the clock's time and
the newest event's), and logged, at the first event it would have misdated and at start
(:func:`flag`, :func:`check_at_start`).

Why chain rather than refuse: refusing would stop withdrawals, erasures and the sweep, which
are due whatever the clock says, on a setting the operator may not know changed; the log keeps
its order and says when the clock went back. What it does not do: correct the clock for the
rest of the service (a consent's expiry, the sweep, the quota's day read the host's time): the
host clock is trusted within this rule, as ``docs/audit-log.md`` says.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from optinface.consent.audit import (
    AuditAction,
    Entry,
    Link,
    append,
    last_details,
    link,
    log_time,
    parse_log_time,
)

if TYPE_CHECKING:  # the runtime chains through flag
    from optinface.consent.runtime import Runtime

logger = logging.getLogger(__name__)

TOLERANCE = timedelta(seconds=5)
"""How far behind the newest event the clock may be before it is an error: workers' clocks
kept by NTP differ by far less; an event within it is still dated at the newest event's time."""


def dated(now: datetime, latest: str | None) -> datetime:
    """When an event chained after one dated ``latest`` is dated: ``now``, never earlier. A
    ``latest`` that is not a time as the log writes it (:func:`consent.audit.parse_log_time`:
    emptied, or edited, which the chain reports at that event) sets no floor."""
    floor = parse_log_time(latest)
    return now if floor is None or now >= floor else floor


def behind(now: datetime, latest: str | None) -> bool:
    """Whether ``now`` is more than :data:`TOLERANCE` before ``latest``."""
    floor = parse_log_time(latest)
    return floor is not None and floor - now > TOLERANCE


def flag(runtime: Runtime, session: Session, now: datetime, last: Link | None) -> Link | None:
    """Chain ``clock_behind`` once when the clock is behind the newest event, ``last``: once for
    each time it went back, since every event chained meanwhile keeps its date. The chain's
    newest event after this: the one chained, else ``last``."""
    latest = None if last is None else last.at
    if not behind(now, latest):
        return last
    found = last_details(session, AuditAction.CLOCK_BEHIND)
    if found is not None and found.get("latest") == latest:
        return last
    logger.error("the host clock says %s, before the newest audit event (%s): the clock was set"
                 " back; events are dated no earlier than the newest until it catches up;"
                 " chained as clock_behind", log_time(now), latest)
    return link(append(session, Entry(action=AuditAction.CLOCK_BEHIND, actor=None,
                                      details={"clock": log_time(now), "latest": latest}),
                       last=last, now=dated(now, latest), seal_key=runtime.keys.hmac_key))


def check_at_start(now: datetime, latest: str | None) -> None:
    """Log an error when the start finds the clock behind the newest event."""
    if behind(now, latest):
        logger.error("the host clock says %s, before the newest audit event (%s): was it set"
                     " back? The log dates events no earlier than its newest, and chains"
                     " clock_behind at the next", log_time(now), latest)

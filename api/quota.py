"""The daily quota on 1:N searches per API key.

Counted in memory, per UTC day: a restart resets it. The consent core's audit log records every
search with its caller, so a restart-proof count could come from there, but the service exposes
no counting call to a researcher's key (reading the audit log is the reviewer's right), and the
API must not read the database behind the service's back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from api.errors import ApiError, ApiErrorCode
from api.limits import retry_after_header


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DailyQuota:
    """At most ``limit`` uses per key per UTC day."""

    def __init__(self, *, limit: int, now: Callable[[], datetime] = _utc_now) -> None:
        self._limit = limit
        self._now = now
        self._day: date | None = None
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def spend(self, key_id: str) -> None:
        """Count one use, or raise ``rate_limited`` with the seconds until the day ends."""
        now = self._now()
        with self._lock:
            if now.date() != self._day:
                self._day, self._used = now.date(), {}
            used = self._used.get(key_id, 0)
            if used >= self._limit:
                midnight = datetime.combine(
                    now.date() + timedelta(days=1), datetime.min.time(), UTC
                )
                wait = (midnight - now).total_seconds()
                raise ApiError(
                    ApiErrorCode.RATE_LIMITED,
                    f"daily quota of {self._limit} searches reached for this key",
                    details={"quota": self._limit, "retry_after_seconds": round(wait)},
                    headers=retry_after_header(wait),
                )
            self._used[key_id] = used + 1

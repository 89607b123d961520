"""Failed authentications, counted and written to the audit log as one event per window.

One audit event per bad credential would let anyone append to the hash chain, under its write
lock, as fast as they can send requests. Failures are tallied in memory instead, and the tally
becomes one ``login_failure`` event (how many, why, which existing key ids, from when to when)
at most once per ``window`` seconds: at the first failure after the window closes, and whenever
the owner flushes (the server's sweeper, and closing the service). The first failure of a quiet
period is written at once. The API also throttles failures per client before authenticating
(:mod:`api.limits`), so this tally stays small.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

MAX_KEY_IDS = 20  # enough to name the keys under attack, never a list of the attacker's size


@dataclass
class FailureSummary:
    """What one ``login_failure`` event records."""

    failures: int
    reasons: dict[str, int]
    key_ids: list[str]
    since: datetime
    until: datetime

    def details(self) -> dict[str, Any]:
        """The event's JSON details (times as ISO 8601 text, as the chain hashes them)."""
        return {
            "failures": self.failures,
            "reasons": self.reasons,
            "key_ids": self.key_ids,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
        }


@dataclass
class _Pending:
    reasons: Counter[str] = field(default_factory=Counter)
    key_ids: set[str] = field(default_factory=set)
    since: datetime | None = None
    until: datetime | None = None


class FailureTally:
    """Thread-safe; :meth:`add` and :meth:`drain` return the summary to record, if any."""

    def __init__(self, *, window: timedelta) -> None:
        self._window = window
        self._pending = _Pending()
        self._next_flush: datetime | None = None
        self._lock = threading.Lock()

    def add(self, *, reason: str, key_id: str | None, now: datetime) -> FailureSummary | None:
        """Count one failure; the summary to record when the window has closed, else None.

        At most :data:`MAX_KEY_IDS` key ids are kept per window, so a flood of made-up ids
        cannot grow the tally or the event.
        """
        with self._lock:
            pending = self._pending
            pending.reasons[reason] += 1
            if key_id is not None and len(pending.key_ids) < MAX_KEY_IDS:
                pending.key_ids.add(key_id)
            pending.since = pending.since or now
            pending.until = now
            if self._next_flush is not None and now < self._next_flush:
                return None
            self._next_flush = now + self._window
            return self._take()

    def drain(self) -> FailureSummary | None:
        """The failures not recorded yet (none: None)."""
        with self._lock:
            return self._take()

    def _take(self) -> FailureSummary | None:
        pending, self._pending = self._pending, _Pending()
        if pending.since is None or pending.until is None:
            return None
        return FailureSummary(
            failures=sum(pending.reasons.values()),
            reasons=dict(sorted(pending.reasons.items())),
            key_ids=sorted(pending.key_ids),
            since=pending.since,
            until=pending.until,
        )

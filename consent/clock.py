"""An injectable clock, so expiry, retention and the sweeper can be tested without waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


def years(count: int) -> timedelta:
    """``count`` years as a span long enough whatever the calendar: every leap day they may
    hold included (the legal periods kept, never cut short by a day)."""
    return timedelta(days=365 * count + (count + 3) // 4)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

"""The span of times and days the service takes from outside: 1970 up to the year 3000.

ISO 8601 lets a caller write any time from year 1 to 9999. The service adds to the times it is
given (72 hours, five years, a day, a month) and shows them in the deployment's time zone, and
near either end of that calendar both overflow: a 500 instead of an answer and, once such a
time is stored, a page that can never be shown again. No record of this service predates the
Unix epoch or will be read in the year 3000, so one span refuses the typos ("0001-01-01") and
leaves every such sum centuries of room.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
"""Exclusive: the last instant taken is on 2999-12-31 in UTC."""

OUT_OF_SPAN = f"is outside the years {EARLIEST.year} to {LATEST.year - 1}"


def in_span(moment: datetime | date) -> bool:
    """Whether a time (an instant, whatever its offset) lies in the span; a day does when the
    whole of it does wherever it is read: local days run from UTC+14 to UTC-12, so a day is
    never more than a day away from the same date in UTC."""
    if isinstance(moment, datetime):
        return EARLIEST <= moment < LATEST
    return EARLIEST.date() < moment < (LATEST - timedelta(days=1)).date()


def _in_span(moment: datetime) -> datetime:
    if not in_span(moment):
        raise ValueError(f"the time {OUT_OF_SPAN}")
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_in_span)]
"""A time from outside: with its UTC offset (a bare time is ambiguous) and in the span."""

"""The span of times and days the service takes from outside (1970 up to the year 3000), and
when a time or a day has begun.

ISO 8601 lets a caller write any time from year 1 to 9999. The service adds to the times it is
given (72 hours, five years, a day, a month) and shows them in the deployment's time zone, and
near either end of that calendar both overflow: a 500 instead of an answer and, once such a
time is stored, a page that can never be shown again. No record of this service predates the
Unix epoch or will be read in the year 3000, so one span refuses the typos ("0001-01-01") and
leaves every such sum centuries of room.

An instant (a time with its offset) is the same everywhere; a day is not: it starts first in
the furthest time zone ahead of UTC and ends last in the furthest behind. So a day is in the
span only when the whole of it is wherever it is read, and it has begun once it has begun
somewhere: a date typed by someone in Kiritimati is not "in the future" for a server in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Annotated, TypeVar

from pydantic import AfterValidator, AwareDatetime

from optinface.consent.errors import InvalidRequest

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
"""Exclusive: the last instant taken is on 2999-12-31 in UTC."""

FURTHEST_AHEAD = timezone(timedelta(hours=14))  # Line Islands (Kiritimati)
FURTHEST_BEHIND = timezone(timedelta(hours=-12))  # Baker and Howland Islands
# Both are less than a day from UTC, so one day at each end of the span is never whole.
FIRST_DAY = EARLIEST.astimezone(FURTHEST_AHEAD).date() + timedelta(days=1)
LAST_DAY = LATEST.astimezone(FURTHEST_BEHIND).date() - timedelta(days=1)

TIMES_IN_SPAN = f"the times from {EARLIEST.isoformat()} and before {LATEST.isoformat()}"
DAYS_IN_SPAN = f"the days {FIRST_DAY} to {LAST_DAY} (whole in every time zone)"


def in_span(moment: datetime | date) -> bool:
    """Whether a time (an instant, whatever its offset) lies in the span; a day does when the
    whole of it does wherever it is read."""
    if isinstance(moment, datetime):
        return EARLIEST <= moment < LATEST
    return FIRST_DAY <= moment <= LAST_DAY


_Moment = TypeVar("_Moment", datetime, date)


def require_in_span(moment: _Moment) -> _Moment:
    """``moment`` unchanged, or :class:`ValueError` saying which span it is outside of (a
    pydantic validator, and the pages' check of the days a reviewer types)."""
    if not in_span(moment):
        span = TIMES_IN_SPAN if isinstance(moment, datetime) else DAYS_IN_SPAN
        raise ValueError(f"{moment.isoformat()} is outside {span}")
    return moment


def require_day_in_span(day: date, *, field: str) -> None:
    """:func:`require_in_span` for a use case's own argument (:class:`InvalidRequest` naming
    ``field``): the command line and notebooks meet the rule the API's :data:`Day` states."""
    try:
        require_in_span(day)
    except ValueError as error:
        raise InvalidRequest(f"{field}: {error}", details={"field": field}) from None


def require_not_future(moment: datetime | date | None, *, now: datetime, field: str) -> None:
    """Refuse a time or a day still to come (:class:`InvalidRequest` naming ``field``): an
    instant after ``now``, a day that has not yet begun in the furthest time zone ahead (the
    day's own date where it was typed may be tomorrow in UTC). ``None`` (not given) passes."""
    if moment is None:
        return
    begins = (moment if isinstance(moment, datetime)
              else datetime.combine(moment, time(), FURTHEST_AHEAD))
    if begins > now:
        raise InvalidRequest(f"{field} is in the future", details={"field": field})


Moment = Annotated[AwareDatetime, AfterValidator(require_in_span)]
"""A time from outside: with its UTC offset (a bare time is ambiguous) and in the span."""

Day = Annotated[date, AfterValidator(require_in_span)]
"""A day from outside, in the span wherever it is read."""

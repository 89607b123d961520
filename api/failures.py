"""Logging a failure nobody expected, with its traceback and without the request's values.

A database error's text is more than its statement: on PostgreSQL the driver appends the
server's DETAIL, which quotes the failing row or key, values a request sent (a name, a
pseudonym). Its traceback is kept, its text reduced to :func:`consent.db.failure_summary`, and
the exceptions chained under it (the driver's own, with the same DETAIL) are left out.
"""

from __future__ import annotations

import logging
import traceback

from sqlalchemy.exc import DBAPIError

from optinface.consent.db import failure_summary


def log_failure(log: logging.Logger, error: BaseException, message: str, *args: object) -> None:
    """``log.exception(message, *args)`` for ``error``, a database error's values left out."""
    if isinstance(error, DBAPIError):
        frames = "".join(traceback.format_tb(error.__traceback__)).rstrip("\n")
        template = f"{message}: %s\nTraceback (most recent call last):\n%s"
        log.error(template, *args, failure_summary(error), frames)
    else:
        log.error(message, *args, exc_info=error)

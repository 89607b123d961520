"""The ``Server-Timing`` header (W3C Server Timing): the stages of :mod:`engine.stopwatch`.

Off unless ``OPTINFACE_SERVER_TIMING`` is set: the durations of an identify's stages tell its
caller a little about the gallery searched, which only a tester measuring the service needs.
``optinface bench`` sets it on the server it starts, and splits the HTTP overhead with it.
``app`` is the time from the request reaching the application to its answer starting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import Scope

from optinface.api.start_headers import HeadersAtStart, StartHeadersMiddleware
from optinface.engine.stopwatch import recording

HEADER = "Server-Timing"
APP_STAGE = "app"


def header_value(stages: dict[str, float]) -> str:
    """``name;dur=milliseconds`` per stage, as the specification writes them."""
    return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in stages.items())


def parse(value: str) -> dict[str, float]:
    """The stages of a header written by :func:`header_value`, in milliseconds."""
    stages = {}
    for metric in filter(None, (part.strip() for part in value.split(","))):
        name, _, duration = metric.partition(";dur=")
        stages[name] = float(duration)
    return stages


class ServerTimingMiddleware(StartHeadersMiddleware):
    """Opens a recording per HTTP request and writes it into the answer's headers."""

    @contextmanager
    def headers_for(self, scope: Scope) -> Iterator[HeadersAtStart]:
        """Record the engine's stages for this request; ``app`` is measured when the answer
        starts, so it covers the whole handler and nothing of the sending."""
        started = time.perf_counter()
        with recording() as stages:

            def at_start() -> dict[str, str]:
                stages[APP_STAGE] = time.perf_counter() - started
                return {HEADER: header_value(stages)}

            yield at_start

"""Where an identify's time goes over HTTP: its wall time split by the server's stages.

``optinface bench`` starts its own server with ``OPTINFACE_SERVER_TIMING`` set, and a tester
can set it on theirs: each answer then carries the stages of :mod:`engine.stopwatch` in a
``Server-Timing`` header (:mod:`api.server_timing`). Per call, the stages account for part of
the application's time; the rest of it is the framework (routing, form parsing, dependencies,
the thread-pool hop, serialising), and what lies outside the application is the client, the
socket and the HTTP parser. Medians are taken per part, so they need not add up exactly.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from optinface.api.server_timing import APP_STAGE

FRAMEWORK = "framework"
OUTSIDE = "client_and_socket"


def split(http_seconds: Sequence[float],
          stages: Sequence[dict[str, float] | None]) -> dict[str, float] | None:
    """Median milliseconds per part over the calls that carried a header (None: none did).

    ``stages[i]`` holds call ``i``'s stages in milliseconds, as :func:`server_timing.parse`
    reads them, or None."""
    parts: dict[str, list[float]] = {}
    for seconds, timed in zip(http_seconds, stages, strict=True):
        if not timed or APP_STAGE not in timed:
            continue
        inner = {name: ms for name, ms in timed.items() if name != APP_STAGE}
        for name, ms in {**inner, FRAMEWORK: timed[APP_STAGE] - sum(inner.values()),
                         OUTSIDE: seconds * 1000 - timed[APP_STAGE]}.items():
            parts.setdefault(name, []).append(ms)
    if not parts:
        return None
    return {name: round(statistics.median(values), 3) for name, values in parts.items()}

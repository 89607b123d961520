"""Where one request's time goes, stage by stage, for a tester reading ``Server-Timing``.

A benchmark over HTTP sees one number per call; the overhead it attributes to the service is
that number minus the biometric work. The stages let it say where the rest goes (authentication,
the consent checks before the face is processed, the search transaction after it) without a
profiler. Nothing is recorded unless a caller opened :func:`recording` (the API does so only
when ``OPTINFACE_SERVER_TIMING`` is set): otherwise a stage costs a context-variable read and an
idle context manager, under a microsecond.

The record is a context variable holding one dictionary: threads that run a request's work
(FastAPI's thread pool copies the context) write into the same dictionary.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_RECORD: ContextVar[dict[str, float] | None] = ContextVar("optinface_stages", default=None)
_OPEN: ContextVar[str | None] = ContextVar("optinface_open_stage", default=None)


@contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Record the stages run in this context: the yielded dictionary maps each stage's name to
    its seconds (a stage run twice adds up)."""
    stages: dict[str, float] = {}
    token = _RECORD.set(stages)
    try:
        yield stages
    finally:
        _RECORD.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as ``name`` when a :func:`recording` is open; otherwise do nothing.

    A stage run inside another counts as itself only, not as the other too: the consent
    checks a probe's embedding calls back into (its probe consent spent once the engine has
    admitted the upload) are consent time, and the stages still add up to the request."""
    stages = _RECORD.get()
    if stages is None:
        yield
        return
    outer = _OPEN.get()
    token = _OPEN.set(name)
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        _OPEN.reset(token)
        stages[name] = stages.get(name, 0.0) + elapsed
        if outer is not None:
            stages[outer] = stages.get(outer, 0.0) - elapsed

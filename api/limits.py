"""Token buckets in memory, thread-safe: per API key for requests, per client address for failed
authentications (spent on each failure, checked before authenticating, so a client guessing
secrets is refused without a database lookup or an audit event).

In memory on purpose: a rate limit protects this process from a burst, and losing it on restart
costs nothing. The daily identify quota is different (it limits mass searching, the harm this
system exists to prevent) and is counted from the audit log; see :mod:`consent.quota`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` tokens per second refill each key's bucket, up to ``burst`` tokens."""

    def __init__(
        self, *, rate: float, burst: int, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take one token for ``key``; return 0 on success, else the seconds until one is due."""
        return self._take(key, spend=True)

    def delay(self, key: str) -> float:
        """Like :meth:`acquire` without taking the token: 0 while ``key`` has one left."""
        return self._take(key, spend=False)

    def _take(self, key: str, *, spend: bool) -> float:
        now = self._monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if not spend:
                    return 0.0  # a full bucket, not worth storing for a peek
                bucket = self._buckets[key] = _Bucket(tokens=self._burst, updated=now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                if spend:
                    bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self._rate


def retry_after_header(seconds: float) -> dict[str, str]:
    """HTTP's Retry-After is whole seconds; round up so an obedient client is never refused."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}

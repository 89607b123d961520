"""Waiting for what another worker or a replica does in the background."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(condition: Callable[[], bool], *, within: float = 20.0,
               interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds (True) or ``within`` seconds pass (False): replicas
    apply the change feed in the background, so a test waits for them, bounded."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True

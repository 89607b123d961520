"""A blocking task repeated in a daemon thread for as long as the server lives.

A thread rather than an asyncio task because the consent core is blocking (database and file
I/O) and must not stall the event loop.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

from optinface.api.failures import log_failure
from optinface.consent.db import unreachable, unreachable_summary
from optinface.consent.errors import ConsentError

logger = logging.getLogger(__name__)
T = TypeVar("T")


class BackgroundThread(ABC):
    """A daemon thread running :meth:`_run` from :meth:`start` until :meth:`stop` sets
    ``_stopped``; subclasses say what the loop does."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"optinface-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)

    @abstractmethod
    def _run(self) -> None:
        """The loop: return once ``_stopped`` is set."""


class Periodic(BackgroundThread):
    """Call ``task`` every ``interval`` seconds (the first time after one interval) until
    :meth:`stop`."""

    def __init__(self, name: str, task: Callable[[], object], *, interval: float) -> None:
        super().__init__(name)
        self._task = task
        self._interval = interval

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            guarded(self._name, self._task)


def guarded(what: str, task: Callable[[], T]) -> T | None:
    """Run ``task``, logging a failure instead of raising it: a background thread must outlive
    one failure (its next round retries)."""
    try:
        return task()
    except ConsentError as error:
        logger.error("%s refused: %s", what, error.code)
    except Exception as error:
        if unreachable(error):  # an outage: one line a round, not a traceback
            logger.error("%s skipped, the ledger out of reach: %s", what,
                         unreachable_summary(error))
        else:
            log_failure(logger, error, "%s failed", what)
    return None

"""The periodic retention sweep: erases whatever expired, even when nobody calls the API.

A daemon thread rather than an asyncio task because ``OptinFace.sweep`` is blocking (database
and index I/O) and must not stall the event loop.
"""

from __future__ import annotations

import logging
import threading

from optinface.consent.errors import ConsentError
from optinface.consent.service import OptinFace

logger = logging.getLogger(__name__)


class Sweeper:
    """Call ``service.sweep()`` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, service: OptinFace, *, interval: float) -> None:
        self._service = service
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="optinface-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        # Sweep once at start-up: anything that expired while the server was down goes first.
        while not self._stopped.is_set():
            try:
                report = self._service.sweep()
                logger.info("retention sweep: %s", report)
            except ConsentError as error:
                logger.error("retention sweep refused: %s", error.code)
            except Exception:
                # The sweeper must outlive one failure: the next round retries the erasures.
                logger.exception("retention sweep failed")
            self._stopped.wait(self._interval)

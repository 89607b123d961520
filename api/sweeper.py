"""The periodic retention sweep and key-epoch rotation, which run even when nobody calls the API.

The sweep erases whatever expired, every ``interval`` seconds, and also when the next consent in
force ends (its expiry, retention or a guardian's end): what that end takes away goes at that
moment, not up to an interval later. The epoch rotation (:mod:`consent.epochs`) runs when the
current epoch is due, so the thread wakes at whichever comes first: the bound an erasure receipt
states for backups is kept to the second, not to the next sweep. It also wakes every
``flush_interval`` seconds to write the failed authentications tallied since
(:mod:`consent.auth_failures`) as one audit event.

A daemon thread rather than an asyncio task because ``OptinFace.sweep`` is blocking (database
and index I/O) and must not stall the event loop.
"""

from __future__ import annotations

import logging
import time

from optinface.api.periodic import BackgroundThread, guarded
from optinface.consent.service import OptinFace

logger = logging.getLogger(__name__)

ROTATION_RETRY_SECONDS = 5.0
"""The wait after a refused epoch rotation, doubled at each refusal in a row up to the sweep
interval: a passing fault (the token's, the ledger's) delays the end an erasure receipt promised
by seconds, while a lasting one costs a write transaction and an error line once an interval,
not on every pass."""


class Sweeper(BackgroundThread):
    """Call ``service.sweep()`` every ``interval`` seconds and as each consent ends, and
    ``service.rotate_epoch()`` at each epoch boundary (a refused one again after
    ``rotation_retry`` seconds, doubled at each refusal in a row up to ``interval``), until
    :meth:`stop`."""

    def __init__(
        self, service: OptinFace, *, interval: float, flush_interval: float = 60.0,
        rotation_retry: float = ROTATION_RETRY_SECONDS,
    ) -> None:
        super().__init__("sweeper")
        self._service = service
        self._interval = interval
        self._flush_interval = flush_interval
        self._rotation_retry = rotation_retry

    def _run(self) -> None:
        # Sweep once at start-up: anything that expired while the server was down goes first.
        next_sweep = time.monotonic()
        next_rotation = next_sweep  # a refused rotation is tried again after retry_wait
        retry_wait = self._rotation_retry
        while not self._stopped.is_set():
            guarded("failed-authentication audit", self._service.flush_auth_failures)
            if time.monotonic() >= next_sweep:
                swept = guarded("retention sweep", self._service.sweep)
                logger.info("retention sweep: %s", swept)
                next_sweep = time.monotonic() + self._interval
            to_end = guarded("next consent end", self._service.seconds_to_next_consent_end)
            if to_end is not None:  # past ends wait a second: a sweep just ran for them
                next_sweep = min(next_sweep, time.monotonic() + max(to_end, 1.0))
            to_epoch = guarded("epoch check", self._service.seconds_to_epoch_boundary)
            if to_epoch is not None:
                to_epoch = max(to_epoch, next_rotation - time.monotonic())
            if to_epoch is not None and to_epoch <= 0:
                rotated = guarded("key epoch rotation", self._service.rotate_epoch)
                logger.info("key epoch rotation: %s", rotated)
                if rotated is not None:
                    retry_wait = self._rotation_retry
                    continue
                # Refused (its epoch stays due): waits, rather than a write transaction and an
                # error line on every pass while the refusal's cause holds.
                next_rotation = time.monotonic() + retry_wait
                to_epoch = retry_wait
                retry_wait = min(retry_wait * 2, max(self._interval, self._rotation_retry))
            wait = min(next_sweep - time.monotonic(), self._flush_interval)
            if to_epoch is not None:
                wait = min(wait, to_epoch)
            self._stopped.wait(max(wait, 1.0))

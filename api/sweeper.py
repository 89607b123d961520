"""The periodic retention sweep and key-epoch rotation, which run even when nobody calls the API.

The sweep erases whatever expired, every ``interval`` seconds, and also when the next consent in
force ends (its expiry, retention or a guardian's end): what that end takes away goes at that
moment, not up to an interval later (an end that passed while a long sweep or rotation kept the
thread busy is still after the last sweep, and is swept at once). The epoch rotation
(:mod:`consent.epochs`) runs when the current epoch is due, so the thread wakes at whichever comes
first: the bound an erasure receipt states for backups is kept to the second, not to the next
sweep. It also wakes every ``flush_interval`` seconds to write the failed authentications tallied
since (:mod:`consent.auth_failures`) as one audit event. And where an erasure's WAL checkpoint was
held off by a long read (:attr:`consent.db.Database.checkpoint_owed`, SQLite), it tries that
checkpoint again within seconds, on the refused rotation's back-off (:class:`Backoff`), until one
empties the WAL: the erased pages leave the files soon after the read ends, not at the next sweep,
an interval later.

A daemon thread rather than an asyncio task because ``OptinFace.sweep`` is blocking (database
and index I/O) and must not stall the event loop.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from functools import partial

from optinface.api.periodic import BackgroundThread, guarded
from optinface.consent.service import OptinFace

logger = logging.getLogger(__name__)

ROTATION_RETRY_SECONDS = 5.0
"""The wait after a refused epoch rotation, an owed WAL checkpoint or a failed sweep, doubled
at each refusal in a row up to the sweep interval: a passing fault (the token's, the ledger's, a
long read) delays the end an erasure receipt promised by seconds, while a lasting one costs a
write transaction and an error line once an interval, not on every pass."""


class Backoff:
    """When an act refused (or left owed) is tried again: ``first`` seconds after the first
    refusal, the wait doubled at each refusal in a row up to ``most``; from ``first`` again
    once it succeeds."""

    def __init__(self, first: float, most: float) -> None:
        self._first = first
        self._most = max(most, first)
        self._wait = first
        self._next_try = time.monotonic()

    def waiting(self) -> float:
        """Seconds until the next try (none left: 0 or less)."""
        return self._next_try - time.monotonic()

    def refused(self) -> float:
        """Note a refusal; the seconds until the next try."""
        wait = self._wait
        self._next_try = time.monotonic() + wait
        self._wait = min(wait * 2, self._most)
        return wait

    def succeeded(self) -> None:
        """Note a success: the next refusal waits ``first`` again, and nothing waits now."""
        self._wait = self._first
        self._next_try = time.monotonic()


class Sweeper(BackgroundThread):
    """Call ``service.sweep()`` every ``interval`` seconds and as each consent ends,
    ``service.rotate_epoch()`` at each epoch boundary and ``service.pay_owed_checkpoint()``
    as soon as a checkpoint is owed (a refused rotation, a checkpoint still owed, or a failed
    sweep with an end past, again after ``rotation_retry`` seconds, doubled at each refusal in
    a row up to ``interval``), until :meth:`stop`."""

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
        rotation = Backoff(self._rotation_retry, self._interval)
        checkpoint = Backoff(self._rotation_retry, self._interval)
        sweep = Backoff(self._rotation_retry, self._interval)
        swept_at: datetime | None = None  # the service clock's, at the last sweep that ran
        while not self._stopped.is_set():
            guarded("failed-authentication audit", self._service.flush_auth_failures)
            if time.monotonic() >= next_sweep:
                swept = guarded("retention sweep", self._service.sweep)
                logger.info("retention sweep: %s", swept)
                next_sweep = time.monotonic() + self._interval
                if swept is None:
                    sweep.refused()
                else:
                    sweep.succeeded()
                    swept_at = swept.ran_at
            to_end = guarded("next consent end", partial(
                self._service.seconds_to_next_consent_end, swept_at=swept_at))
            if to_end is not None:  # an end to come is swept when it comes; one passed since
                # the last sweep a second on, or after a failed sweep's back-off (not a sweep and
                # an error line every second while the fault holds)
                until_end = to_end if to_end > 0 else sweep.waiting()
                next_sweep = min(next_sweep, time.monotonic() + max(until_end, 1.0))
            to_epoch = guarded("epoch check", self._service.seconds_to_epoch_boundary)
            if to_epoch is not None:
                to_epoch = max(to_epoch, rotation.waiting())
            if to_epoch is not None and to_epoch <= 0:
                rotated = guarded("key epoch rotation", self._service.rotate_epoch)
                logger.info("key epoch rotation: %s", rotated)
                if rotated is not None:
                    rotation.succeeded()
                    continue
                # Refused (its epoch stays due): waits, rather than a write transaction and an
                # error line on every pass while the refusal's cause holds.
                to_epoch = rotation.refused()
            wait = min(next_sweep - time.monotonic(), self._flush_interval)
            for due in (to_epoch, self._owed_checkpoint(checkpoint)):
                if due is not None:
                    wait = min(wait, due)
            self._wait(max(wait, 1.0))

    def _owed_checkpoint(self, backoff: Backoff) -> float | None:
        """Try the owed WAL checkpoint once its back-off allows; seconds until the next try,
        None while none is owed."""
        if not self._service.checkpoint_owed:
            backoff.succeeded()  # paid meanwhile (by a sweep, or the next erasure's)
            return None
        if backoff.waiting() > 0:
            return backoff.waiting()
        if guarded("owed WAL checkpoint", self._service.pay_owed_checkpoint):
            backoff.succeeded()
            return None
        return backoff.refused()

    def _wait(self, seconds: float) -> None:
        """Wait ``seconds``, or less: until :meth:`stop`, or until a checkpoint becomes owed
        (an attribute looked at each second, no I/O), so its first retry does not wait for
        the pass an interval away."""
        until = time.monotonic() + seconds
        owed = self._service.checkpoint_owed
        while not self._stopped.wait(min(until - time.monotonic(), 1.0)):
            if time.monotonic() >= until or (self._service.checkpoint_owed and not owed):
                return

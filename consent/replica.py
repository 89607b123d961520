"""Each worker's index replica, kept current from the change feed of a shared ledger.

With several workers on one PostgreSQL ledger every worker holds its own hnswlib index in its
own data directory. A template enrolled or destroyed through one worker reaches the others
through :mod:`consent.changefeed`: a thread per worker ``LISTEN``s on the feed's channel and,
when woken (or every :data:`POLL_SECONDS` if a notification was lost), applies every change
after the last sequence number it applied: removals are scrubbed from memory and flushed to
the index file in place (as an erasure does locally), additions are decrypted from the ledger
and added. The worker that destroyed templates also destroyed every index file's key
(:func:`consent.keys.destroy_index_file_keys`); each follower, once it has scrubbed, saves its
index whole under a new key and destroys its file's old one, which a save made after the
erasure's sweeps, before the feed reached it, would otherwise keep alive.

The replica is never what keeps an erased face from being served: every search takes its
allowed set from the ledger in the search's own transaction, and the index answers within that
set only (:func:`consent.matching.match`), so an erasure holds on every worker the moment it
commits, however far a replica lags. The feed only bounds how long the bytes stay in another
worker's memory and file (``benchmarks/bench_workers.py`` measures it).

Waiting for it: :meth:`Replica.settle` (through :meth:`consent.service.OptinFace.settle`) returns
once the follower has applied the feed up to its head at the call and saved what that owed;
whoever reads the data directory next (an erasure check, a copy of the folder) meets neither a
save's temporary file nor an index file whose key was just destroyed.

Restarts: the sequence number is saved beside the index file each time this module saves the
index, so a worker that was down replays the feed from there (cheap: template ids only). It
is a lower bound, never trusted alone: start-up reconciliation (:mod:`consent.reconcile`) then
compares the index with the ledger as it does on a single node, so a lost or stale number
costs time, never correctness. A fresh replica skips the feed and is filled by reconciliation.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from optinface.consent import changefeed
from optinface.consent.changefeed import ChangeOp
from optinface.consent.errors import LedgerRestored
from optinface.consent.reconcile import index_templates
from optinface.consent.runtime import Runtime
from optinface.consent.tables import Template
from optinface.engine.errors import EngineError
from optinface.engine.files import PRIVATE_MODE

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""Longest wait between two reads of the feed when no notification arrives."""
BATCH = 1000
STATE_FILE = "replica.seq"


class FollowerStuck(TimeoutError):
    """The follower did not reach the feed's head in the time given (the database away, its
    saves failing, its thread dead or stopped meanwhile): :meth:`Replica.settle` gives up
    rather than wait for ever."""


class Replica:
    """The change-feed follower of one worker, on a shared ledger (``Database.shared``)."""

    def __init__(self, runtime: Runtime, *, model_id: str) -> None:
        self.runtime = runtime
        self.model_id = model_id
        self._state = runtime.settings.index_path.with_name(STATE_FILE)
        self.seq: int | None = self._saved_seq()
        self._lock = threading.Lock()  # held for a whole catch-up, its save included
        # Catch-ups finished, counted under their lock and announced: what settle() waits on,
        # never holding the lock a catch-up stuck in the database holds.
        self._passes = 0
        self._passed = threading.Condition()
        self._scrubbed = False  # the last catch-up removed vectors the index held
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _saved_seq(self) -> int | None:
        if not self.runtime.settings.index_path.is_file():
            return None  # no saved index: the number would describe nothing
        try:
            return int(self._state.read_text().strip())
        except (OSError, ValueError):
            return None

    def catch_up(self) -> int:
        """Apply every change after :attr:`seq`; how many. A replica with no saved number
        starts at the feed's head (start-up reconciliation fills it from the ledger)."""
        with self._lock:
            try:
                return self._catch_up()
            finally:
                with self._passed:
                    self._passes += 1
                    self._passed.notify_all()

    def _catch_up(self) -> int:
        if self.seq is None:
            with self.runtime.db.reading() as session:
                self.seq = changefeed.head(session)
            return 0
        applied = 0
        self._scrubbed = False
        while batch := self._apply_next():
            applied += batch
        index = self.runtime.index
        # An erasure on any worker destroys every index file's key (consent.keys): saved
        # again at once, under a new key, so a restart loads it instead of rebuilding. A
        # file that held what was just removed goes whole too, with its key: it may have
        # been saved after the erasure's last sweep, under a key no sweep destroyed.
        if self._scrubbed or index.key_destroyed():
            self._save(whole=True)
        elif index.additions_since_save() >= self.runtime.settings.index_save_every:
            self._save()
        return applied

    def _apply_next(self) -> int:
        assert self.seq is not None
        index = self.runtime.index
        with self.runtime.db.reading() as session:
            changes = changefeed.changes_after(session, self.seq, limit=BATCH)
            if not changes:
                return 0
            removed = {label for _, op, label in changes if op is ChangeOp.REMOVE}
            added = {label for _, op, label in changes if op is ChangeOp.ADD} - removed
            present = index.labels()
            if removed & present:
                index.remove(removed & present)
                index.flush_removals()
                self._scrubbed = True
            missing = added - present
            if missing:  # only this worker's model: another's templates wait for re-enrolment
                ours = set(session.scalars(select(Template.id).where(
                    Template.id.in_(missing), Template.model_id == self.model_id)))
                index_templates(self.runtime, session, ours)
        self.seq = changes[-1][0]
        return len(changes)

    def _save(self, *, whole: bool = False) -> None:
        """Save the index, then the number of the last change it holds (never ahead of it)."""
        seq = self.seq
        self.runtime.index.save(whole=whole)
        if seq is None:
            return
        temporary = self._state.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(f"{seq}\n")
        os.replace(temporary, self._state)

    # Following ------------------------------------------------------------------------------
    def follow(self) -> None:
        """Start applying changes in the background as they commit."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="optinface-replica", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following (within :data:`POLL_SECONDS`); :meth:`catch_up` still works."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Stop following and save the index with its sequence number."""
        self.stop()
        with self._lock:
            self._save()

    @property
    def following(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def settle(self, *, within: float) -> None:
        """Return once the follower has applied every change the feed held when called, and no
        catch-up is under way nor owes a save: the index file was saved again if those changes
        (or an erasure on any worker, which destroys every index file's key) required it.

        The follower's own thread does the work; this only watches its state (:attr:`seq`
        against the feed's head, and :meth:`HnswIndex.key_destroyed`) between two of its
        catch-ups, woken at the end of each. A stopped follower (:meth:`stop`) applies
        nothing: only a catch-up under way is waited for.

        Raises:
            FollowerStuck: Not there within ``within`` seconds.
        """
        deadline = time.monotonic() + within
        with self.runtime.db.reading() as session:
            head = changefeed.head(session)
        while True:
            if not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0)):
                raise self._stuck(head, within, "in a catch-up")
            try:
                if self._thread is None or self._at_rest(head):  # stopped, or there
                    return
                with self._passed:
                    seen = self._passes
            finally:
                self._lock.release()
            if not self._a_pass_after(seen, deadline=deadline):
                raise self._stuck(head, within, "between catch-ups")

    def _a_pass_after(self, seen: int, *, deadline: float) -> bool:
        """Wait until a catch-up after the ``seen``-th has finished; False at ``deadline``."""
        with self._passed:
            return self._passed.wait_for(lambda: self._passes > seen,
                                         timeout=deadline - time.monotonic())

    def _at_rest(self, head: int) -> bool:
        """Whether the feed up to ``head`` is applied and the follower's next catch-up would
        save nothing it must (asked under the lock, so no catch-up is half done)."""
        return self.seq is not None and self.seq >= head and not self.runtime.index.key_destroyed()

    def _stuck(self, head: int, within: float, where: str) -> FollowerStuck:
        return FollowerStuck(
            f"change-feed follower {where} after {within} s: applied up to {self.seq}, feed "
            f"head {head}, thread alive: {self.following}")

    def _run(self) -> None:
        conninfo = _conninfo(self.runtime.settings.url)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {changefeed.CHANNEL}")
                    while not self._stop.is_set():
                        self.catch_up()  # also what committed before LISTEN took effect
                        for _ in connection.notifies(timeout=POLL_SECONDS, stop_after=1):
                            pass
            except (psycopg.Error, SQLAlchemyError, EngineError, OSError,
                    LedgerRestored) as error:
                # The database is away (restart, network), or found restored and its journal
                # replay not done yet: searches fail meanwhile, and the feed is replayed from
                # self.seq once it is back.
                logger.warning("replica: change feed unavailable, retrying: %s", error)
                self._stop.wait(POLL_SECONDS)


def _conninfo(url: str) -> str:
    """libpq's form of the SQLAlchemy URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

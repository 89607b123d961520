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

Never trusting the feed alone: the feed is a table the database's owner can write (a trigger
that deletes each removal as it is recorded, an older dump restored behind running workers),
and a removal never applied would leave an erased face in this worker's memory and file. So the
follower checks what it reads: each pass reads again the row it applied last, which must still
be there as it was, and the numbers after it, which must follow one another. A number missing
below the head (:attr:`Cause.GAP`) or a row it applied gone or replaced, with the head behind it
or not (:attr:`Cause.REWOUND`), has it reconcile its whole index with the ledger
(:meth:`Replica._reconcile`) instead of applying the feed, chain ``replica_reconciled`` once
with what it found and did, log it, and go on from the feed's head. The labels alone are not
trusted then either: a ledger gone back hands its template ids out again, so the vectors the
index holds under the ledger's ids are compared with the ledger's templates
(:meth:`engine.index.HnswIndex.differing`) and replaced where they differ; so is the vector of
every template the feed adds that the index already holds (this worker's own enrolments, one
comparison each). And since a removal that was the feed's last row leaves no gap to see, every
``audit_witness_interval_seconds`` (the witness's interval: 60 s by default) the follower's
own loop compares ``index.labels()`` with the ledger's template ids in one query
(:attr:`Cause.DIFFERED`), repairing and chaining only what differs. Each reconciliation finds
what may differ in a read (no lock), then checks and repairs only that under the ledger's write
lock, where no worker's write is half done: a change in flight is never taken for a difference,
nor is one committed that the feed holds and this worker has not applied yet (the comparison
runs first in its pass, and the feed's changes it left alone are applied right after it).
``benchmarks/bench_replica.py`` measures both.

Restarts: the sequence number, with the row it names, is saved beside the index file each time
this module saves the index, so a worker that was down replays the feed from there (cheap:
template ids only), after the same check of that row. It is a lower bound, never trusted alone:
start-up reconciliation (:mod:`consent.reconcile`) then compares the index with the ledger as it
does on a single node, so a lost or stale number costs time, never correctness. A fresh replica
skips the feed and is filled by reconciliation.
"""

from __future__ import annotations

import logging
import os
import select as descriptors
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from optinface.consent import changefeed, log_tail
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.changefeed import Change, ChangeOp
from optinface.consent.errors import LedgerRestored
from optinface.consent.policies import indexable_labels, templates_of_model
from optinface.consent.reconcile import LeftOut, decrypted_templates
from optinface.consent.runtime import Runtime
from optinface.consent.tables import Template
from optinface.engine.errors import EngineError
from optinface.engine.files import PRIVATE_MODE

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""Longest wait between two reads of the feed when no notification arrives."""
STOP_WAIT_SECONDS = 10.0
"""How long :meth:`Replica.stop` waits for the follower's thread, so that a close (a SIGTERM)
goes on without one stuck in the database, as it does without a stuck replay
(:data:`consent.live_replay.CLOSE_WAIT_SECONDS`)."""
BATCH = 1000
STATE_FILE = "replica.seq"


class FollowerStuck(TimeoutError):
    """The follower did not reach the feed's head in the time given (the database away, its
    saves failing, its thread dead or stopped meanwhile): :meth:`Replica.settle` gives up
    rather than wait for ever."""


class Cause(StrEnum):
    """Why a replica reconciled its index with the ledger: the ``cause`` it chains."""

    GAP = "feed_gap"  # a number missing below the head, or a change the service never writes
    REWOUND = "feed_rewound"  # the change applied last gone or replaced: an older dump restored
    DIFFERED = "index_differed"  # the periodic comparison found the labels other than the ledger


@dataclass(frozen=True, slots=True)
class Anomaly:
    """What a pass found wrong with the feed, in words for the log."""

    cause: Cause
    found: str


class Replica:
    """The change-feed follower of one worker, on a shared ledger (``Database.shared``)."""

    def __init__(self, runtime: Runtime, *, model_id: str) -> None:
        self.runtime = runtime
        self.model_id = model_id
        self._state = runtime.settings.index_path.with_name(STATE_FILE)
        # The number of the change applied last, and its row as applied (None: no change yet,
        # or a number saved before rows were).
        self.seq, self._mark = self._saved_position()
        self._lock = threading.Lock()  # held for a whole catch-up, its save included
        # Catch-ups begun and finished, counted under their lock and announced: what settle()
        # waits on, never holding the lock a catch-up stuck in the database holds.
        self._began = 0
        self._completed = 0  # the number of the last catch-up that ran to its end
        self._passes = 0
        self._passed = threading.Condition()
        self._scrubbed = False  # the last catch-up removed or replaced vectors the index held
        self._left_out: set[int] = set()  # templates whose seal or ciphertext failed: not retried
        self._waited = False  # this catch-up waited for a dump being loaded over the ledger
        self._said_loading = False
        self._next_comparison = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Written by stop(): the follower's wait for a notification ends at once, not at its
        # next poll (a PostgreSQL worker's close, and each test's, waited 0.3 s on average).
        # Closed by close() once the follower has stopped: None from then on.
        self._wake: tuple[int, int] | None = os.pipe()
        for end in self._wake:
            os.set_blocking(end, False)

    def _saved_position(self) -> tuple[int | None, Change | None]:
        """The number saved with the index, and the row it names where the file says (a file
        written before it did names none: the row found there is taken as the one applied)."""
        if not self.runtime.settings.index_path.is_file():
            return None, None  # no saved index: the number would describe nothing
        try:
            fields = self._state.read_text().split()
            seq = int(fields[0])
        except (OSError, ValueError, IndexError):
            return None, None
        try:
            op, label, at = fields[1:]
            return seq, Change(seq, op, int(label), datetime.fromisoformat(at))
        except ValueError:
            return seq, None

    def catch_up(self, *, compare: bool = False) -> int:
        """Apply every change after :attr:`seq`; how many. A replica with no saved number
        starts at the feed's head (start-up reconciliation fills it from the ledger).
        ``compare``: then compare the index's labels with the ledger's (:meth:`_reconcile`)."""
        with self._lock:
            self._began += 1
            self._waited = False
            try:
                applied = self._catch_up(compare=compare)
                if not self._waited:  # not waiting for a dump to load: the pass is done
                    self._completed = self._began
                    self._said_loading = False
                return applied
            finally:
                with self._passed:
                    self._passes += 1
                    self._passed.notify_all()

    def _catch_up(self, *, compare: bool) -> int:
        if self.seq is None:
            with self.runtime.db.reading() as session:
                self._moved_to(changefeed.newest(session))
            return 0
        applied = 0
        self._scrubbed = False
        if compare:  # first: what it leaves to the feed is applied next, in this pass
            self._reconcile(None)
        while batch := self._apply_next():
            if isinstance(batch, Anomaly):
                if not self._reconcile(batch):
                    break  # a dump still loading: the next pass looks again
            else:
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

    def _apply_next(self) -> int | Anomaly:
        """Apply the next batch of changes, or say what is wrong with the feed instead."""
        assert self.seq is not None
        index = self.runtime.index
        with self.runtime.db.reading() as session:
            rows = changefeed.changes_from(session, self.seq, limit=BATCH + 1)
            anomaly = self._unsound(session, rows)
            if anomaly is not None:
                return anomaly
            changes = [row for row in rows if row.seq > self.seq]
            if not changes:
                return 0
            last = {row.template_id: row.op for row in changes}  # a template's last change wins
            removed = {label for label, op in last.items() if op == ChangeOp.REMOVE}
            added = {label for label, op in last.items() if op == ChangeOp.ADD}
            present = index.labels()
            if removed & present:
                index.remove(removed & present)
            replaced = False
            if added:  # only this worker's model: another's templates wait for re-enrolment
                ours = set(session.scalars(select(Template.id).where(
                    Template.id.in_(added), Template.model_id == self.model_id)))
                # Those held already too (this worker's own enrolments, mostly): a template
                # id the ledger handed out again must not keep the old template's vector.
                _, _, replaced = self._add_differing(session, ours)
            if removed & present or replaced:
                index.flush_removals()
                self._scrubbed = True
        self._moved_to(changes[-1])
        return len(changes)

    def _unsound(self, session: Session, rows: list[Change]) -> Anomaly | None:
        """Whether ``rows`` (from :attr:`seq` on) are not the feed this replica followed: the
        row it applied last gone or another, or a number missing after it."""
        assert self.seq is not None
        if self.seq:
            if not rows or rows[0].seq != self.seq:
                head = changefeed.head(session)
                if head < self.seq:
                    return Anomaly(Cause.REWOUND, f"feed head {head} behind change {self.seq}")
                return Anomaly(Cause.GAP, f"change {self.seq}, applied last, gone")
            if self._mark is None:
                self._mark = rows[0]  # a position saved before rows were: taken as found
            elif rows[0] != self._mark:
                return Anomaly(Cause.REWOUND, f"change {self.seq} is not the one applied")
            rows = rows[1:]
        for expected, row in enumerate(rows, start=self.seq + 1):
            if row.seq != expected:
                return Anomaly(Cause.GAP, f"changes {expected} to {row.seq - 1} missing")
            if row.op not in (ChangeOp.ADD, ChangeOp.REMOVE):
                return Anomaly(Cause.GAP, f"change {row.seq} unreadable")
        return None

    def _moved_to(self, change: Change | None) -> None:
        self.seq, self._mark = (0, None) if change is None else (change.seq, change)

    def _reconcile(self, anomaly: Anomaly | None) -> bool:
        """Bring the whole index in line with the ledger, the feed aside; after an ``anomaly``,
        move on to the feed's head.

        First, in a read (no lock), what may differ, from one query of the ledger: labels the
        index holds that are no template of this worker's model, and templates the index may
        hold (:func:`policies.indexable_labels`) that it does not (less, for the periodic
        comparison, those left out before, their seal or ciphertext failed, and those the feed
        has changes for that this replica has not applied: :meth:`_unapplied`); after an anomaly,
        also every label whose vector is not its template's. Then, only if anything may,
        under the ledger's write lock, where no write of any worker is half done, those labels
        again: removed from memory and scrubbed from the file unless the index may hold them,
        else decrypted from the ledger and added, replacing another vector under the label.
        A label the index may not hold but whose template is there (its subject's erasure
        under way, its consent ended before the sweep) is left to the feed, as before.
        Chained as ``replica_reconciled`` and logged once: after an anomaly always, after a
        comparison only where something was repaired. Nothing is done while a dump is being
        loaded over the ledger (:func:`changefeed.loading`; False then, and the anomaly stands
        for the next pass): the ledger is half there, and a write could break the restore.
        """
        index = self.runtime.index
        with self.runtime.db.reading() as session:
            newest = changefeed.newest(session)
            every, allowed = templates_of_model(session, model_id=self.model_id,
                                                now=self.runtime.clock.now())
            present = index.labels()
            suspects = (present - every) | (allowed - present)
            if anomaly is None:  # the unapplied here too: no write lock taken for them
                suspects -= self._left_out | self._unapplied(session)
            else:  # the ids too: a ledger gone back hands them out again
                suspects |= self._differing(session, present & every)
        if anomaly is None and not suspects:
            return True
        with self.runtime.db.transaction() as session:
            if self._loading(session):
                return False
            # A restore found here is refused before anything of the copy enters the index:
            # the rollback would leave an index change in place (review 19b, #3).
            log_tail.vet(self.runtime, session)
            if anomaly is None:  # what committed since the read is the feed's too
                suspects -= self._unapplied(session)
            removed, re_added = self._repair(session, suspects)
            if anomaly is not None or removed or re_added:
                self._report(session, anomaly, newest=newest, removed=removed,
                             re_added=re_added)
        if anomaly is not None:
            self._moved_to(newest)  # the rows after it are applied as usual
        return True

    def _unapplied(self, session: Session) -> set[int]:
        """The templates of the feed's changes this replica has not applied yet: no difference
        for a comparison to find (a worker's enrolment committed after this pass read the feed
        was once added by the comparison and chained as ``index_differed``). Left to the feed,
        whose rows are checked as they are applied; a row an outsider added there delays the
        comparison of the template it names by one interval, no more."""
        assert self.seq is not None, "a replica with no position compares nothing"
        return changefeed.labels_after(session, self.seq)

    def _loading(self, session: Session) -> bool:
        """Whether a dump is being loaded over the ledger (said once while it lasts); then
        this pass waited."""
        if not changefeed.loading(session):
            return False
        if not self._said_loading:
            self._said_loading = True
            logger.warning("replica: a dump is being loaded over the ledger (tables without"
                           " their keys): the index is reconciled with it once it is done")
        self._waited = True
        return True

    def _differing(self, session: Session, labels: set[int]) -> set[int]:
        """Those of ``labels`` the index does not hold with their template's vector."""
        return {label for ids, vectors in decrypted_templates(
            self.runtime, session, labels, left_out=LeftOut())
            for label in self.runtime.index.differing(ids, vectors)}

    def _repair(self, session: Session, suspects: set[int]) -> tuple[int, int]:
        """Bring ``suspects`` in line with the ledger as ``session`` reads it; how many vectors
        were removed and how many added or replaced."""
        index = self.runtime.index
        allowed = indexable_labels(session, model_id=self.model_id,
                                   now=self.runtime.clock.now()) & suspects
        extra = (index.labels() & suspects) - allowed
        if extra:
            index.remove(extra)
        left_out, re_added, replaced = self._add_differing(session, allowed)
        self._left_out = (self._left_out - suspects) | left_out.unsealed | left_out.unreadable
        if extra or replaced:
            index.flush_removals()  # a replaced vector's slot too
            self._scrubbed = True
        return len(extra), re_added

    def _add_differing(self, session: Session,
                       labels: set[int]) -> tuple[LeftOut, int, bool]:
        """Add the templates ``labels`` names that the index does not hold with their vector
        (absent, or another vector under the id), decrypted from the ledger: what was left out
        (seal or ciphertext failed), how many were added, and whether a vector the index held
        was replaced (its slot in the file is then to be scrubbed)."""
        index = self.runtime.index
        held = index.labels() & labels
        left_out = LeftOut()
        added = 0
        replaced = False
        for ids, vectors in decrypted_templates(self.runtime, session, labels,
                                                left_out=left_out):
            changed = set(index.differing(ids, vectors))
            rows = [row for row, label in enumerate(ids) if label in changed]
            if not rows:
                continue
            picked = vectors[rows]
            try:
                index.add([ids[row] for row in rows], picked)
            finally:
                picked.fill(0)
            added += len(rows)
            replaced = replaced or bool(changed & held)
        return left_out, added, replaced

    def _report(self, session: Session, anomaly: Anomaly | None, *, newest: Change | None,
                removed: int, re_added: int) -> None:
        cause = Cause.DIFFERED if anomaly is None else anomaly.cause
        found = "the index's labels differ from the ledger's" if anomaly is None \
            else anomaly.found
        head = 0 if newest is None else newest.seq
        logger.error("replica: %s (%s): index reconciled with the ledger, %d vectors removed,"
                     " %d added or replaced; applied up to change %s, feed head %d", cause,
                     found, removed, re_added, self.seq, head)
        self.runtime.audit(session, Entry(
            action=AuditAction.REPLICA_RECONCILED, actor=None,
            details={"cause": str(cause), "found": found, "applied_up_to": self.seq,
                     "feed_head": head, "removed": removed, "re_added": re_added,
                     "worker": str(self.runtime.settings.data_dir)}))

    def _save(self, *, whole: bool = False) -> None:
        """Save the index, then the number of the last change it holds (never ahead of it)
        and that change's row."""
        seq, mark = self.seq, self._mark
        self.runtime.index.save(whole=whole)
        if seq is None:
            return
        line = f"{seq}" if mark is None else \
            f"{seq} {mark.op} {mark.template_id} {mark.at.isoformat()}"
        temporary = self._state.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(f"{line}\n")
        os.replace(temporary, self._state)

    # Following ------------------------------------------------------------------------------
    def follow(self) -> None:
        """Start applying changes in the background as they commit, and comparing the index
        with the ledger every ``audit_witness_interval_seconds``."""
        self._stop.clear()
        self._next_comparison = time.monotonic() + self._comparison_interval
        self._thread = threading.Thread(target=self._run, name="optinface-replica", daemon=True)
        self._thread.start()

    def stop(self) -> bool:
        """Stop following (at once: the follower's wait for a notification is woken, and a
        pass under way ends first); :meth:`catch_up` still works. Whether
        the follower stopped: False when it still ran :data:`STOP_WAIT_SECONDS` after the
        call (stuck in the database: a pass waiting for the ledger's write lock a hung
        transaction holds), logged as an error; it stops at its next turn."""
        self._stop.set()
        if self._wake is not None:
            try:
                os.write(self._wake[1], b"\0")
            except BlockingIOError:  # the pipe is full of wake-ups the follower has not read
                pass
        if self._thread is not None:
            self._thread.join(STOP_WAIT_SECONDS)
            if self._thread.is_alive():
                logger.error("the index replica's follower still runs %.0f s after it was"
                             " told to stop (stuck in the database): it is left behind, and"
                             " the index it may be changing is not saved", STOP_WAIT_SECONDS)
                return False
            self._thread = None
        return True

    def close(self, *, save: bool = True) -> None:
        """Stop following and save the index with its sequence number, unless not to ``save``
        (a replay of the journal may still be changing it: the next start catches up) or the
        follower did not stop (:meth:`stop`)."""
        stopped = self.stop()
        if stopped and self._wake is not None:  # else the follower may yet wait on the pipe
            for end in self._wake:
                os.close(end)
            self._wake = None
        if stopped and save:
            with self._lock:
                self._save()

    @property
    def following(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def settle(self, *, within: float) -> None:
        """Return once the follower has applied every change the feed held when called, and no
        catch-up is under way nor owes a save: the index file was saved again if those changes
        (or an erasure on any worker, which destroys every index file's key) required it.

        The follower's own thread does the work; this only watches its state between two of
        its catch-ups, woken at the end of each: there once the row it applied last is the
        feed's newest at the call (nothing new; the number alone would not do, a restored
        feed's may be the same or lower) or once a catch-up begun after the call has run to
        its end (which applied the feed to its head, or reconciled the index with the ledger),
        and :meth:`HnswIndex.key_destroyed` owes no save. A stopped follower (:meth:`stop`)
        applies nothing: only a catch-up under way is waited for.

        Raises:
            FollowerStuck: Not there within ``within`` seconds.
        """
        deadline = time.monotonic() + within
        with self.runtime.db.reading() as session:
            newest = changefeed.newest(session)
        began = self._began  # a catch-up numbered above began after the read
        while True:
            if not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0)):
                raise self._stuck(newest, within, "in a catch-up")
            try:
                if self._thread is None or self._at_rest(newest, began):  # stopped, or there
                    return
                with self._passed:
                    seen = self._passes
            finally:
                self._lock.release()
            if not self._a_pass_after(seen, deadline=deadline):
                raise self._stuck(newest, within, "between catch-ups")

    def _a_pass_after(self, seen: int, *, deadline: float) -> bool:
        """Wait until a catch-up after the ``seen``-th has finished; False at ``deadline``."""
        with self._passed:
            return self._passed.wait_for(lambda: self._passes > seen,
                                         timeout=deadline - time.monotonic())

    def _at_rest(self, newest: Change | None, began: int) -> bool:
        """Whether the feed up to ``newest`` is applied (the row applied last is it, or a
        catch-up after the ``began``-th ran to its end) and the follower's next catch-up would
        save nothing it must (asked under the lock, so no catch-up is half done)."""
        return ((self.seq is not None and self._mark == newest) or self._completed > began) \
            and not self.runtime.index.key_destroyed()

    def _stuck(self, newest: Change | None, within: float, where: str) -> FollowerStuck:
        return FollowerStuck(
            f"change-feed follower {where} after {within} s: applied up to {self.seq}, feed "
            f"head {0 if newest is None else newest.seq}, thread alive: {self.following}")

    @property
    def _comparison_interval(self) -> float:
        return self.runtime.settings.audit_witness_interval_seconds

    def _comparison_due(self) -> bool:
        """Whether the periodic comparison with the ledger is due (then counted from now)."""
        now = time.monotonic()
        if now < self._next_comparison:
            return False
        self._next_comparison = now + self._comparison_interval
        return True

    def _run(self) -> None:
        conninfo = _conninfo(self.runtime.settings.url)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {changefeed.CHANNEL}")
                    while not self._stop.is_set():
                        # Also what committed before LISTEN took effect.
                        self.catch_up(compare=self._comparison_due())
                        self._wait_for_change(connection)
            except (psycopg.Error, SQLAlchemyError, EngineError, OSError,
                    LedgerRestored) as error:
                # The database is away (restart, network), or found restored and its journal
                # replay not done yet: searches fail meanwhile, and the feed is replayed from
                # self.seq once it is back.
                logger.warning("replica: change feed unavailable, retrying: %s", error)
                self._stop.wait(POLL_SECONDS)

    def _wait_for_change(self, connection: psycopg.Connection[Any]) -> None:
        """Return once a notification arrived (all those that did are read: the next pass
        applies everything after the last change applied), :meth:`stop` woke the follower, or
        :data:`POLL_SECONDS` passed (a notification lost)."""
        assert self._wake is not None, "the pipe is closed only once the follower stopped"
        feed, wake = connection.fileno(), self._wake[0]
        ready, _, _ = descriptors.select([feed, wake], [], [], POLL_SECONDS)
        if wake in ready:
            _drain(wake)  # every wake-up written so far
        if feed in ready:
            for _ in connection.notifies(timeout=0):  # what arrived, without waiting for more
                pass


def _drain(descriptor: int) -> None:
    """Read every byte waiting in the non-blocking pipe ``descriptor``."""
    try:
        while os.read(descriptor, 64):
            pass
    except BlockingIOError:  # nothing more waiting
        pass


def _conninfo(url: str) -> str:
    """libpq's form of the SQLAlchemy URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

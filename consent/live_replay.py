"""A restore found while the service runs: the start's replay, at once, before anything else.

An operator who loads an older copy of the ledger behind running workers (a ``pg_dump`` loaded
with ``psql``, SQLite's ``.restore``) brings back what was ended since: an erased person's rows
and token, a revoked key, a withdrawn consent, the absence of a regulator's order. Each start
makes the copy agree with the erasure journal again (:mod:`consent.reconcile`); a running worker
would otherwise serve the copy until its next start (red team 5, F2). A way into an erased
subject asks the journal at every use, whatever the rows say (:func:`consent.ledger.get_subject`,
a subject token's authentication: :mod:`consent.journal_ends`); the rest is this module's.

What finds a restore is what already found a loss of events: the log's tail check before each
append and each checkpoint (:func:`consent.log_tail.vet`: the table no longer holds the newest
event this process appended or read) and the periodic checkpoint's own check against the
witness folder, which every worker of the ledger signs into (:func:`consent.transparency.
record_departures`, :func:`consent.transparency.record_rollback`: fewer events than a
checkpoint there, or other ones). While
the service is live, either hands its finding here
(:meth:`LiveReplay.found`) instead of chaining it into the transaction that found it, and that
transaction is refused (``ledger_restored``, 503): nothing decided on the copy commits or is
answered. A thread of its own then runs the replay as soon as that transaction has rolled back
and released the write lock (:func:`replay`): the findings chained first (``log_truncated``,
``log_rolled_back``), what the copy holds single-use and unused voided, as ``optinface
restore`` voids it (:func:`consent.backup.void_single_use`), then the start's reconciliation,
chained as ``reconciled``: every erasure,
withdrawal, purpose withdrawal, revocation, opt-out, choice of the alternative, destroyed
template, break-glass opening, admin passkey and regulator's order the journal records and the
copy lacks, the erasures left unfinished, the consents ended, and the index made the ledger's
again. Each of its transactions takes the ledger's write lock, as every write does. Until it has
finished every session this process opens waits for it (:meth:`LiveReplay.admit`, asked by
:class:`consent.db.Database` before each session), and is refused (``ledger_restored``) past
:data:`WAIT_SECONDS`: no request is answered from the copy before the replay. A replay that
fails (the ledger out of reach) is tried again every :data:`RETRY_SECONDS`, refusing meanwhile.

An act refused this way that journaled its line first (an erasure, a withdrawal, a revocation)
is made by the replay, from that line, as at a start. Only while the service is live: at its
start the reconciliation is the start's own, and from its close on a finding is chained as
before, for the next start to replay. Other workers of a shared ledger find the restore at
their own next append or checkpoint (their tail is gone, or another event stands where it was)
and replay too, finding done what the first one made again. A worker whose tail is older than
the copy (idle since before it) finds it at its next periodic check by the checkpoints the
others signed since into the shared folder: what the copy lacks was signed there by the worker
that appended it, at its own periodic check or its close (while it runs, its tail finds the
copy anyway). Only events no worker signed before the copy was loaded, by a worker that died
unclean since, leave no sign.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session

from optinface.consent import log_tail, transparency
from optinface.consent.backup import void_single_use
from optinface.consent.db import unreachable_summary
from optinface.consent.errors import LedgerRestored
from optinface.consent.reconcile import ReconcileStopped, reconcile
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ReconcileReport

logger = logging.getLogger(__name__)

WAIT_SECONDS = 30.0
"""How long a session waits for the replay before it is refused (50 erasures replayed at 10,000
subjects took 3.6 s on a loaded 2-core machine, about what a start on the copy takes:
``benchmarks/bench_live_replay.py``)."""
RETRY_SECONDS = 5.0
"""How long after a replay that failed the next try begins."""
CLOSE_WAIT_SECONDS = 10.0
"""How long the service's close waits for a replay still running (stuck in the database: a
lock another worker's hung transaction holds, a statement with no timeout) before it goes on
without it, so that a SIGTERM still saves what it can and releases the data folder."""


def replay(runtime: Runtime, *, stopped: threading.Event | None = None) -> ReconcileReport | None:
    """Chain what found the restore, forget what this process read of the ledger before it,
    void what the copy holds single-use and unused, as ``optinface restore`` does, and
    reconcile as a start does; the report, also chained as ``reconciled``. None when
    ``stopped`` was set before the reconciliation or between two of its steps: the service
    closed meanwhile (its database and key store with it), and the rest of the
    reconciliation, which changes the index the close leaves unsaved, is the next start's. A
    step under way when it is set runs to its end."""
    runtime.key_rows.forget()  # rows kept from the ledger as it was (SQLite)
    runtime.seals_checked = 0  # events numbered so far are other events now
    new_sizes = runtime.log.witness.unchecked()  # the folder's names, outside the lock
    with runtime.db.transaction() as session:
        transparency.record_departures(runtime, session, new_sizes)  # each finding vetted first
        transparency.record_rollback(runtime, session)
        log_tail.vet(runtime, session)  # the loss chained, or the newest read: the tail from here
        void_spent(runtime, session)
    try:
        return reconcile(runtime, model_id=runtime.pipeline.model_id,
                         stopped=(lambda: False) if stopped is None else stopped.is_set)
    except ReconcileStopped:
        logger.error("the service closed during the replay of the erasure journal: the next"
                     " start reconciles the restored ledger and the index")
        return None


def void_spent(runtime: Runtime, session: Session) -> None:
    """Void, in ``session``'s transaction, what a restored copy holds single-use and unused
    (:func:`consent.backup.void_single_use`): those spent since the copy was taken are unused
    again in it, and their spends were signed into the witness folder before their acts
    answered (:mod:`consent.spent_rights`), which is how the copy was found. By the replay, and
    by a start that chained the copy's finding (:meth:`LiveReplay.found_at_start`)."""
    voided = void_single_use(session.connection(), now=runtime.clock.now())
    logger.warning("single-use rows of the restored ledger voided: %s", voided)


class LiveReplay:
    """Whether a replay is owed to a restore found while the service runs, and the one thread
    that runs it (thread-safe: any request or background thread may find it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clear = threading.Event()  # set while no replay is owed
        self._clear.set()
        self._live = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._found = 0  # findings handed over, and how many of them a replay answered
        self._answered = 0
        self._at_start = False

    def go_live(self) -> None:
        """Take findings over from here: the start's own reconciliation is done."""
        with self._lock:
            self._live = True

    def found(self, runtime: Runtime, finding: str) -> None:
        """Take over ``finding``, a sign of a restore found in a transaction, and replay once
        that transaction has rolled back: it is refused. Returns (the finder chains the finding
        itself) only on the replay's own thread, before the start ends (noted for
        :meth:`found_at_start`) or after :meth:`close`.

        Raises:
            LedgerRestored: the finding is the replay's; the finder's work must not commit.
        """
        with self._lock:
            if not self._live and not self._stopped.is_set():
                self._at_start = True
            if not self._live or self._replaying():
                return
            self._found += 1
            self._clear.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, args=(runtime,),
                                                name="optinface-live-replay", daemon=True)
                self._thread.start()
        logger.error("the ledger was restored behind this worker (%s): the erasure journal is"
                     " replayed before anything else is answered", finding)
        raise LedgerRestored("the ledger was found restored behind the service: what the"
                             " erasure journal ended is made again first; retry",
                             details={"finding": finding})

    def found_at_start(self) -> bool:
        """Whether the start found a restore, chained as it found it (events lost, or other
        than a witnessed checkpoint): the start voids the copy's single-use rows then
        (:func:`void_spent`), as the replay does, before anything is served."""
        with self._lock:
            return self._at_start

    def admit(self) -> None:
        """Let a session begin once no replay is owed (the replay's own at once).

        Raises:
            LedgerRestored: the replay did not finish within :data:`WAIT_SECONDS`.
        """
        if self._clear.is_set() or self._replaying():
            return
        if not self._clear.wait(WAIT_SECONDS):
            raise LedgerRestored("the erasure journal is still being replayed on the restored"
                                 " ledger; retry")

    def settle(self, *, within: float) -> None:
        """Return once no replay is owed.

        Raises:
            LedgerRestored: one still was after ``within`` seconds.
        """
        if not self._clear.wait(within):
            raise LedgerRestored("the erasure journal is still being replayed on the restored"
                                 " ledger")

    def close(self) -> bool:
        """Take no finding over from here (the next start replays what is found at close),
        once the replay running, if any, has ended or :data:`CLOSE_WAIT_SECONDS` have passed;
        sessions are let in again. Whether no replay runs any more: False when one still
        does (logged as an error), and the caller must then not save the index, which that
        replay may still be changing; it stops before its reconciliation once through
        (:func:`replay`), and the next start reconciles."""
        with self._lock:
            self._live = False
            thread = self._thread
        self._stopped.set()
        ended = True
        if thread is not None:
            thread.join(CLOSE_WAIT_SECONDS)
            ended = not thread.is_alive()
        if not ended:
            logger.error("the replay of the erasure journal still runs %.0f s after the close"
                         " began (stuck in the database): the index is left unsaved, and the"
                         " next start replays and reconciles", CLOSE_WAIT_SECONDS)
        self._clear.set()
        return ended

    def _replaying(self) -> bool:
        thread = self._thread
        return thread is not None and thread.ident == threading.get_ident()

    def _run(self, runtime: Runtime) -> None:
        """Replay until every finding handed over has been answered by a replay begun after
        it, or the service closes."""
        while not self._stopped.is_set():
            with self._lock:
                target = self._found
                if self._answered == target:
                    self._thread = None
                    self._clear.set()
                    return
            try:
                report = replay(runtime, stopped=self._stopped)
            except Exception as error:  # the ledger out of reach, anything: tried again
                logger.error("the replay of the erasure journal on the restored ledger failed"
                             " (%s); tried again in %.0f s, every request refused until it"
                             " succeeds", unreachable_summary(error), RETRY_SECONDS)
                self._stopped.wait(RETRY_SECONDS)
                continue
            if report is None:  # closed meanwhile
                return
            logger.warning("erasure journal replayed on the restored ledger: %s", report)
            with self._lock:
                self._answered = target

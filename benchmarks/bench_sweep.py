"""How long a process's first retention sweep holds the ledger's write lock, before and after
the receipts were verified ahead of its write transaction (``consent.retention.read_receipts``).

N synthetic subjects, each with one consent and its signed receipt, are written in bulk
(:func:`benchmarks.bench_erasure.populate`). Then, in alternating rounds, a first sweep (a fresh
:class:`~consent.receipt_ends.ReceiptEnds`: nothing verified yet, as at a start) runs through
:meth:`OptinFace.sweep`, each transaction it opens timed. *Before* is the sweep as it was: no
read pass, every receipt loaded with its row and verified inside the write transaction (the
read pass taken out, and the loading options that now leave receipts unread).
*After* is the sweep as it is now. Every consent is backed and in force, so both end nothing
and each round does the same work. The read pass's reads are reported beside the write
transaction, their longest and their sum: they take no lock (:meth:`consent.db.Database.reading`;
when this benchmark was first run, on SQLite, they took the write lock and writers went between
them).

    python -m benchmarks.bench_sweep --n 10000

Writes benchmarks/results/bench_sweep_<n>.json and a PNG next to it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from unittest.mock import patch

from sqlalchemy.orm import Session

from benchmarks.bench_erasure import SEED, populated
from benchmarks.command_line import IntOption, run_sized
from benchmarks.modes import alternated, summary
from benchmarks.plots import plot_mode_bars
from optinface.consent import retention
from optinface.consent.receipt_ends import ReceiptEnds
from optinface.consent.runtime import Runtime
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings

MODES = ("before", "after")


def timed_sessions(transaction: Callable[[], AbstractContextManager[Session]],
           spans: list[tuple[float, float]]) -> Callable[[], AbstractContextManager[Session]]:
    """``transaction`` (or ``reading``), recording when each one began and ended."""

    @contextmanager
    def timed() -> Iterator[Session]:
        began = time.perf_counter()
        try:
            with transaction() as session:
                yield session
        finally:
            spans.append((began, time.perf_counter()))

    return timed


def first_sweep(service: OptinFace, *, mode: str) -> dict[str, float]:
    """One first sweep in ``mode``: seconds the write transaction held the lock; the read
    pass's longest read and all its reads together (no lock held), and its whole time (0
    before); the sweep's whole time."""
    runtime = service.runtime
    runtime.receipt_ends = ReceiptEnds()  # as a start finds it: nothing verified
    spans: list[tuple[float, float]] = []
    read_spans: list[tuple[float, float]] = []
    read: list[tuple[float, float]] = []
    reads = retention.read_receipts

    def read_receipts(runtime: Runtime, *, now: datetime) -> None:  # timed; before: none
        began = time.perf_counter()
        if mode == "after":
            reads(runtime, now=now)
        read.append((began, time.perf_counter()))

    with (patch.object(runtime.db, "transaction", timed_sessions(runtime.db.transaction, spans)),
          patch.object(runtime.db, "reading", timed_sessions(runtime.db.reading, read_spans)),
          patch.object(retention, "read_receipts", read_receipts),
          patch.object(retention, "_RECEIPTS_APART",
                       retention._RECEIPTS_APART if mode == "after" else ())):
        began = time.perf_counter()
        report = service.sweep()
        whole = time.perf_counter() - began
    assert report.consents_expired == 0 and not report.erasures, "every consent is backed"
    [(read_began, read_ended)] = read
    loads = [end - start for start, end in read_spans if start < read_ended] or [0.0]
    [write, *_] = [end - start for start, end in spans if start >= read_ended]
    return {"write_transaction_s": write, "read_pass_longest_read_s": max(loads),
            "read_pass_reads_s": sum(loads), "read_pass_s": read_ended - read_began,
            "sweep_s": whole}


def run(*, n: int, rounds: int, folder: Path) -> dict[str, object]:
    settings = ConsentSettings(data_dir=folder, index_max_elements=n + 1024)
    service = OptinFace.open(settings)
    try:
        _, populate_s = populated(service, n=n)
        samples = alternated(MODES, rounds=rounds,
                             measure=lambda mode: first_sweep(service, mode=mode))
    finally:
        service.close()
    return {"n_consents": n,
            **summary(samples, rounds=rounds, seed=SEED, populate_seconds=populate_s)}


def plot(result: dict[str, object], path: Path) -> None:
    plot_mode_bars(result, path=path, parts=(
        ("write_transaction_s", "write transaction"),
        ("read_pass_longest_read_s", "read pass: its longest read"),
        ("read_pass_reads_s", "read pass: all its reads")),
        title=f"First sweep of a process, {result['n_consents']:,} consents in force")


def main() -> None:
    result = run_sized("bench_sweep", __doc__, run, plot,
                       IntOption("--n", 10_000, "consents in force"),
                       IntOption("--rounds", 3))
    print(json.dumps({k: result[k] for k in ("n_consents", "populate_seconds", "median_s")},
                     indent=2))


if __name__ == "__main__":
    main()

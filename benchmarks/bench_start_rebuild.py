"""How long a start that rebuilds its index holds the ledger's write lock, before and after the
build was moved out of it (``consent.reconcile.build_from_snapshot``).

N synthetic subjects, each with one consent, its signed receipt and one random protected
template, are written in bulk (:func:`benchmarks.bench_erasure.populate`) and the service
closed. Then, in alternating rounds, every index file's key is destroyed (what an erasure
through another worker does to a stopped worker's file) and the service started again: its
index file no longer opens, so start-up reconciliation puts every template back. Each write
transaction the reconciliation opens is timed; the longest is how long every other worker's
writes, erasures included, would wait for this start. *Before* is the reconciliation as it
was: nothing built from a read snapshot, so the whole build runs in its last write transaction
(``build_from_snapshot`` taken out; the rest is the same code). *After* is as it is now: built
in short reads first, then the difference applied under the lock, with the seals of the kept
entries checked again and the index saved whole.

    python -m benchmarks.bench_start_rebuild --n 10000

Writes benchmarks/results/bench_start_rebuild_<n>.json and a PNG next to it. SQLite: the lock
held is the same transaction's on PostgreSQL (the advisory lock ``LEDGER_LOCK``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

from sqlalchemy.orm import Session

from benchmarks.bench_erasure import SEED, populated
from benchmarks.command_line import IntOption, run_sized
from benchmarks.modes import alternated, summary
from benchmarks.plots import plot_mode_bars
from optinface.consent import reconcile, service
from optinface.consent.db import Database
from optinface.consent.keys import destroy_index_file_keys
from optinface.consent.keystore import open_key_store
from optinface.consent.schemas import ReconcileReport
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings

MODES = ("before", "after")


def _nothing_built(*_: object, **__: object) -> set[int]:
    """The reconciliation as it was: no build ahead of the write lock."""
    return set()


def start_rebuilding(settings: ConsentSettings, *, mode: str) -> dict[str, float]:
    """One start whose index file's key is gone, in ``mode``: the seconds its reconciliation's
    longest write transaction held the lock, the reconciliation's whole time and the start's."""
    store = open_key_store(settings, create=False)
    try:
        destroy_index_file_keys(store)
    finally:
        store.close()
    spans: list[tuple[float, float]] = []
    window: list[tuple[float, float]] = []
    transaction = Database.transaction

    @contextmanager
    def timed(self: Database) -> Iterator[Session]:
        began = time.perf_counter()
        try:
            with transaction(self) as session:
                yield session
        finally:
            spans.append((began, time.perf_counter()))

    def reconciled(runtime: Any, **arguments: Any) -> ReconcileReport:
        began = time.perf_counter()
        report = reconcile.reconcile(runtime, **arguments)
        window.append((began, time.perf_counter()))
        return report

    builds: Callable[..., set[int]] = (reconcile.build_from_snapshot if mode == "after"
                                       else _nothing_built)
    with (patch.object(Database, "transaction", timed),
          patch.object(service, "reconcile", reconciled),
          patch.object(reconcile, "build_from_snapshot", builds)):
        began = time.perf_counter()
        with closing(OptinFace.open(settings)) as started:
            opened = time.perf_counter() - began
            report = started.last_reconcile
    assert report is not None and report.index_discarded is not None
    [(start, end)] = window
    held = [stop - begin for begin, stop in spans if start <= begin and stop <= end]
    return {"lock_held_s": max(held), "reconcile_s": end - start, "start_s": opened,
            "re_added": float(report.re_added)}


def run(*, n: int, rounds: int, folder: Path) -> dict[str, object]:
    settings = ConsentSettings(data_dir=folder, index_max_elements=n + 1024)
    with closing(OptinFace.open(settings)) as opened:
        _, populate_s = populated(opened, n=n)
    samples = alternated(MODES, rounds=rounds,
                         measure=lambda mode: start_rebuilding(settings, mode=mode))
    return {"n_templates": n,
            **summary(samples, rounds=rounds, seed=SEED, populate_seconds=populate_s)}


def plot(result: dict[str, object], path: Path) -> None:
    plot_mode_bars(result, path=path, parts=(
        ("lock_held_s", "write lock held"), ("reconcile_s", "reconciliation")),
        title=f"A start rebuilding its index, {result['n_templates']:,} templates")


def main() -> None:
    result = run_sized("bench_start_rebuild", __doc__, run, plot,
                       IntOption("--n", 10_000, "templates in the ledger"),
                       IntOption("--rounds", 2))
    print(json.dumps({k: result[k] for k in ("n_templates", "populate_seconds", "median_s",
                                             "machine")}, indent=2))


if __name__ == "__main__":
    main()

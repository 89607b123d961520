"""How long a read waits while a writer holds the ledger: ``service.health()`` (what ``/healthz``
answers) called over and over while a process's first retention sweep runs, against the same
call on an idle service, in the same run.

N synthetic subjects, each with one consent and its signed receipt, are written in bulk
(:func:`benchmarks.bench_erasure.populate`), as for ``bench_sweep``. Then, per mode, a first
sweep (nothing verified yet, as at a start) runs in one thread while another calls
``service.health()`` every ``PAUSE_S`` (a probe and a few pages, not a flood that would starve
the sweep of the lock in *locked* mode); each call is timed, and said to be *during the write*
when it overlapped one of the sweep's write transactions (its longest holds the ledger's write
lock for seconds at 10k), *beside* it otherwise: both share the CPU with the sweep. *now* is
the service as it is: a read waits for no writer (:meth:`consent.db.Database.reading`).
*locked* reads as every read did before: in a write transaction (``reading`` patched to
``transaction``), so a read waits for the sweep's. The figure to read is each mode's ratio of
its p50 and p99 during the write to its idle ones.

    python -m benchmarks.bench_reads --n 10000

Writes benchmarks/results/bench_reads_<n>.json and a PNG next to it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
from matplotlib.figure import Figure

from benchmarks.bench_erasure import SEED, populated
from benchmarks.bench_sweep import timed_sessions
from benchmarks.command_line import IntOption, run_sized
from benchmarks.output import measured
from optinface.consent.receipt_ends import ReceiptEnds
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings

MODES = ("now", "locked")
IDLE_CALLS = 200
PAUSE_S = 0.01

Span = tuple[float, float]


def health_calls(service: OptinFace, *, until: Callable[[], bool],
                 at_least: int = 0) -> list[Span]:
    """``service.health()`` every :data:`PAUSE_S` until ``until()`` (and at least ``at_least``
    times): when each call began and ended."""
    calls: list[Span] = []
    while len(calls) < at_least or not until():
        began = time.perf_counter()
        service.health()
        calls.append((began, time.perf_counter()))
        time.sleep(PAUSE_S)
    return calls


def percentiles_ms(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"count": 0}
    values = np.array(latencies) * 1000
    return {"count": len(latencies), "p50_ms": round(float(np.percentile(values, 50)), 2),
            "p99_ms": round(float(np.percentile(values, 99)), 2),
            "max_ms": round(float(values.max()), 2)}


def during_a_sweep(service: OptinFace, *, mode: str) -> dict[str, Any]:
    """A first sweep in ``mode`` with ``health()`` called beside it: the calls that began while
    a write transaction was open, the others, and the write transactions."""
    runtime = service.runtime
    runtime.receipt_ends = ReceiptEnds()  # as a start finds it: nothing verified
    spans: list[Span] = []
    done = threading.Event()
    failed: list[BaseException] = []

    def sweep() -> None:
        try:
            report = service.sweep()
            assert report.consents_expired == 0 and not report.erasures, "every consent backed"
        except BaseException as error:  # shown below, in the benchmark's thread
            failed.append(error)
        finally:
            done.set()

    reads = runtime.db.transaction if mode == "locked" else runtime.db.reading
    with (patch.object(runtime.db, "reading", reads),
          patch.object(runtime.db, "transaction", timed_sessions(runtime.db.transaction, spans))):
        sweeper = threading.Thread(target=sweep)
        began = time.perf_counter()
        sweeper.start()
        calls = health_calls(service, until=done.is_set)
        sweeper.join()
    if failed:
        raise failed[0]
    during: list[float] = []
    beside: list[float] = []
    for start, end in calls:  # a call overlapping a write transaction ran during it
        overlapped = any(start < until and since < end for since, until in spans)
        (during if overlapped else beside).append(end - start)
    return {"during_write": percentiles_ms(during), "beside_write": percentiles_ms(beside),
            "longest_write_transaction_s": round(max(e - s for s, e in spans), 3),
            "sweep_s": round(time.perf_counter() - began, 3),
            "calls": [(round(s - began, 4), round((e - s) * 1000, 3)) for s, e in calls],
            "writes": [(round(s - began, 4), round(e - began, 4)) for s, e in spans]}


def run(*, n: int, folder: Path) -> dict[str, object]:
    settings = ConsentSettings(data_dir=folder, index_max_elements=n + 1024)
    service = OptinFace.open(settings)
    try:
        _, populate_s = populated(service, n=n)
        idle_calls = health_calls(service, until=lambda: True, at_least=IDLE_CALLS)
        idle = percentiles_ms([end - start for start, end in idle_calls])
        modes = {mode: during_a_sweep(service, mode=mode) for mode in MODES}
    finally:
        service.close()
    ratios = {mode: {f"{key}_during_write_over_idle": round(
        modes[mode]["during_write"][key] / idle[key], 1) for key in ("p50_ms", "p99_ms")}
        for mode in MODES if modes[mode]["during_write"]["count"]}
    return {
        "n_consents": n,
        "seed": SEED,
        "populate_seconds": round(populate_s, 1),
        "idle": idle,
        "summary": {mode: {key: value for key, value in modes[mode].items()
                           if key not in ("calls", "writes")} for mode in MODES},
        "ratios": ratios,
        "modes": modes,
        **measured(),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    modes = result["modes"]
    figure = Figure(figsize=(8, 6), dpi=120)
    axes_of = figure.subplots(len(MODES), 1, sharex=True)
    for axes, mode in zip(axes_of, MODES, strict=True):
        for start, end in modes[mode]["writes"]:
            axes.axvspan(start, end, color="tab:red", alpha=0.15, lw=0)
        at, latency = zip(*modes[mode]["calls"], strict=True)
        axes.scatter(at, latency, s=4, label="health() latency")
        axes.axhline(result["idle"]["p50_ms"], color="grey", ls="--", label="idle p50")
        axes.set_yscale("log")
        axes.set_ylabel("ms")
        axes.set_title(f"{mode}: reads during a first sweep (shaded: its write transactions)",
                       fontsize=9)
        axes.legend(fontsize=8, loc="upper right")
    axes_of[-1].set_xlabel("seconds since the sweep began")
    figure.suptitle(f"health() while a first sweep writes, {result['n_consents']:,} consents")
    figure.savefig(path)


def main() -> None:
    result = run_sized("bench_reads", __doc__, run, plot,
                       IntOption("--n", 10_000, "consents in force"))
    print(json.dumps({k: result[k] for k in ("n_consents", "populate_seconds", "idle",
                                             "summary", "ratios")}, indent=2))


if __name__ == "__main__":
    main()

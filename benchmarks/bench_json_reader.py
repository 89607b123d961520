"""Cost of the one JSON reader's duplicate-key refusal on a big file: an export of the log.

Usage: python -m benchmarks.bench_json_reader [--n 100000]

``engine.documents.json_from`` refuses an object that names a key twice (red team 7, #8 (c)),
which ``json.loads`` cannot tell without an ``object_pairs_hook``: a Python call per object.
``audit verify-export`` reads the largest files a user hands over, so this times, at each size
of ``SIZES`` up to ``--n``, an export of that many events (the shape ``GET /v1/audit/export``
writes, synthetic) parsed by plain ``json.loads`` (before, the baseline of the same run) and by
``json_from`` (after), the median of ``REPEATS`` runs taking turns. Writes
``results/bench_json_reader.json`` and ``.png``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.command_line import IntOption, run_counted
from benchmarks.output import checked
from benchmarks.plots import labelled_figure
from optinface.engine.documents import json_from

SIZES = (1_000, 10_000, 100_000)
REPEATS = 7


def _event(seq: int) -> dict[str, object]:
    """An identify event as the export writes one: seals, details, hashes."""
    return {"seq": seq, "at": "2027-03-01T12:00:00.000000+00:00", "actor_key_id": "key_0123",
            "actor_role": "researcher", "action": "identify", "purpose": "pur_0123456789",
            "subjects": [f"subj_{seq:024x}"],
            "subject_seals": [{"hash": f"{seq:064x}", "salt": f"{seq:032x}"}],
            "outcome": "ok", "probe_sha256": f"{seq:064x}",
            "details": {"k": 3, "gallery_size": 1000, "scores": {f"{seq:064x}": 0.42}},
            "prev_hash": f"{seq - 1:064x}", "hash": f"{seq:064x}", "keyed_seal": f"{seq:064x}"}


def _medians(parsers: tuple[Callable[[str], object], ...], text: str) -> list[float]:
    """Each parser's median time on ``text``, the parsers taking turns run by run, so a load
    that comes and goes on a shared machine falls on both alike."""
    times: list[list[float]] = [[] for _ in parsers]
    for _ in range(REPEATS):
        for parse, taken in zip(parsers, times, strict=True):
            start = time.perf_counter()
            parse(text)
            taken.append(time.perf_counter() - start)
    return [statistics.median(taken) for taken in times]


def run(n: int) -> dict[str, object]:
    rows = []
    for size in [s for s in SIZES if s <= n]:
        text = json.dumps([_event(seq) for seq in range(1, size + 1)])
        before, after = _medians((json.loads, json_from), text)
        rows.append({"events": size, "megabytes": round(len(text) / 1e6, 1),
                     "json_loads_seconds": round(before, 4),
                     "json_from_seconds": round(after, 4), "ratio": round(after / before, 2)})
        print(json.dumps(rows[-1]))
    return {"benchmark": "bench_json_reader", "repeats": REPEATS, "rows": rows,
            "machine": "shared, 2 cores, other agents running"}


def plot(result: dict[str, object], path: Path) -> None:
    rows = checked(result, "rows", list)
    events = [r["events"] for r in rows]
    with labelled_figure(path, title="Reading an export of the log: duplicate keys refused",
                         xlabel="events in the export", ylabel="seconds") as axes:
        axes.plot(events, [r["json_loads_seconds"] for r in rows], marker="o",
                  label="json.loads (before)")
        axes.plot(events, [r["json_from_seconds"] for r in rows], marker="o",
                  label="json_from, duplicate keys refused (after)")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.legend()


def main() -> None:
    run_counted("bench_json_reader", __doc__, run, plot,
                IntOption("--n", 100_000, "events in the largest export"))


if __name__ == "__main__":
    main()

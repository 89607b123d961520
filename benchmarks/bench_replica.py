"""What a replica's distrust of its change feed costs a worker, at N templates.

A worker on PostgreSQL (:mod:`consent.replica`) compares its index's labels with the ledger's
template ids every ``audit_witness_interval_seconds`` (60 s by default), and reconciles its
whole index with the ledger when the feed skipped a number or went back. N synthetic subjects
(``bench_erasure.populate``: one consent with its signed receipt, one random protected template
each) are written into a PostgreSQL ledger and the worker's index; its follower thread is
stopped, and its catch-ups are run and timed here, ``--rounds`` times each:

* ``catch_up``: a pass with nothing new in the feed (what the follower does every poll);
* ``compare``: the same pass with the periodic comparison, finding nothing (what the interval
  adds: one query of the ledger's template ids with their subjects and consents, the index's
  labels, two set differences, all in a read: no lock);
* ``one_dropped``: the comparison after one template row was deleted in SQL with no feed row
  (the removal a trigger dropped): found in the read, checked and removed under the ledger's
  write lock, chained, the file scrubbed, then the whole save that follows any scrub;
* ``whole_save``: that save alone, for reference;
* ``rewound``: the newest feed row's time edited, as a restored dump's row differs: the whole
  index reconciled, every template decrypted and compared with the vector held under its id.

    python -m benchmarks.bench_replica --n 10000
    python -m benchmarks.bench_replica --n 100000

Starts its own PostgreSQL 15 as the tests do (fsync on). Writes
benchmarks/results/bench_replica_<n>.json and a PNG next to it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from sqlalchemy import text

from benchmarks.bench_erasure import populated
from benchmarks.command_line import IntOption, run_sized
from benchmarks.output import checked, measured, spread
from benchmarks.plots import labelled_figure
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from tests.support.postgres import postgres_server
from tests.support.server import free_port


def _timed(action: Callable[[], object], *, rounds: int,
           before: Callable[[int], object] | None = None) -> list[float]:
    """Milliseconds of ``action``, ``rounds`` times (``before(i)`` untimed each time)."""
    samples = []
    for round_ in range(rounds):
        if before is not None:
            before(round_)
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(*, n: int, rounds: int, folder: Path, pg_port: int | None = None) -> dict[str, object]:
    """The catch-ups timed on N templates, on a PostgreSQL started on ``pg_port`` (a free port
    unless told)."""
    with postgres_server(pg_port or free_port(), durable=True) as server:
        settings = ConsentSettings(data_dir=folder / "worker", database_url=server.new_database(),
                                   index_max_elements=n + 1024)
        with closing(OptinFace.open(settings)) as service:
            replica = service.replica
            assert replica is not None
            replica.stop()  # its passes are run here, one at a time
            _, populate_s = populated(service, n=n)
            runtime = service.runtime
            with runtime.db.transaction() as session:  # one feed row, as enrolments leave
                session.execute(text("INSERT INTO index_changes (op, template_id, at)"
                                     " VALUES ('add', 1, now())"))
            replica.catch_up()
            samples = {
                "catch_up_ms": _timed(replica.catch_up, rounds=rounds),
                "compare_ms": _timed(lambda: replica.catch_up(compare=True), rounds=rounds),
                "one_dropped_ms": _timed(lambda: replica.catch_up(compare=True), rounds=rounds,
                                         before=lambda i: _drop(service, n - i)),
                "whole_save_ms": _timed(lambda: runtime.index.save(whole=True), rounds=rounds),
                "rewound_ms": _timed(replica.catch_up, rounds=max(rounds // 4, 3),
                                     before=lambda _: _edit_newest(service)),
            }
            labels = runtime.index.count()
    return {
        "n_templates": n,
        "index_entries_after": labels,
        "rounds": rounds,
        "populate_seconds": round(populate_s, 1),
        **{name: _summary(values) for name, values in samples.items()},
        "samples": samples,
        **measured(),
    }


def _drop(service: OptinFace, template_id: int) -> None:
    """Delete a template's row as SQL would, with no feed row: a removal the feed lost."""
    with service.runtime.db.transaction() as session:
        session.execute(text("DELETE FROM templates WHERE id = :id"), {"id": template_id})


def _edit_newest(service: OptinFace) -> None:
    """Move the newest feed row's time: the row the follower applied last is another."""
    with service.runtime.db.transaction() as session:
        session.execute(text("UPDATE index_changes SET at = at + interval '1 second'"
                             " WHERE seq = (SELECT max(seq) FROM index_changes)"))


def _summary(values: list[float]) -> dict[str, float]:
    return spread(values, {"median": 50, "p90": 90, "max": 100}, digits=1)


def plot(result: dict[str, object], path: Path) -> None:
    samples = checked(result, "samples", dict)
    names = ["catch_up_ms", "compare_ms", "one_dropped_ms", "whole_save_ms", "rewound_ms"]
    title = f"Replica checks, {result['n_templates']:,} templates (PostgreSQL)"
    with labelled_figure(path, title=title, xlabel="", ylabel="ms per pass") as axes:
        axes.boxplot([samples[name] for name in names])
        axes.set_xticks(range(1, len(names) + 1),
                        ["pass", "pass +\ncomparison", "one dropped\nremoval", "whole save",
                         "feed\nrewound"])
        axes.set_yscale("log")


def main() -> None:
    result = run_sized("bench_replica", __doc__, run, plot,
                       IntOption("--n", 100_000, "templates in the ledger"),
                       IntOption("--rounds", 20),
                       IntOption("--pg-port", None,
                                 "port of the PostgreSQL it starts (default: a free one)"))
    print(json.dumps({k: v for k, v in result.items() if k not in ("samples", "machine")},
                     indent=2))


if __name__ == "__main__":
    main()

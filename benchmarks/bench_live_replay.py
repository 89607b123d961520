"""A copy restored behind the running service: the journal's cost per lookup, and the replay's.

N synthetic subjects are written into a SQLite ledger in bulk (as ``bench_erasure`` does), a
copy of it is taken (SQLite's online backup), ``--erasures`` of them are erased, and the copy
is loaded back into the live file behind the running service (``.restore``). Measured:

- a subject's lookup (``ledger.get_subject`` in a read, what every way into a subject does),
  with the erasure journal empty (the baseline, before the erasures) and holding the erasures
  (after: one keyed hash and a set lookup more, :mod:`consent.journal_ends`);
- the live replay (:mod:`consent.live_replay`): from the append that finds the restore to the
  replay done (``settle``), and a read's wait for it;
- for comparison, a start on the same restored copy (which replays the journal too).

    python -m benchmarks.bench_live_replay --n 10000

Writes benchmarks/results/bench_live_replay_<n>.json and a PNG next to it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import numpy as np
from sqlalchemy import select

from benchmarks.bench_erasure import SEED, populated
from benchmarks.command_line import IntOption, run_sized
from benchmarks.output import checked, measured, spread
from benchmarks.plots import labelled_figure
from optinface.consent import ledger
from optinface.consent.audit import AuditAction
from optinface.consent.errors import LedgerRestored
from optinface.consent.roles import Actor, Role
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditEvent, Subject

LOOKUPS = 2000


def time_lookups(service: OptinFace, pseudonyms: list[str]) -> dict[str, list[float]]:
    """Microseconds per lookup of each of ``pseudonyms``, each in a read of its own, and per
    question to the journal alone (what the lookup adds)."""
    runtime = service.runtime
    lookups, questions = [], []
    for pseudonym in pseudonyms:
        started = time.perf_counter()
        with runtime.db.reading() as session:
            ledger.get_subject(session, pseudonym, runtime=runtime)
        lookups.append((time.perf_counter() - started) * 1e6)
    for pseudonym in pseudonyms:
        started = time.perf_counter()
        runtime.journal_ends.erased(runtime.keys, pseudonym)
        questions.append((time.perf_counter() - started) * 1e6)
    return {"lookup": lookups, "journal": questions}


def sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup of ``source`` into ``target`` (``.backup``, or ``.restore`` into
    a live file)."""
    with closing(sqlite3.connect(source)) as read, closing(sqlite3.connect(target)) as write:
        read.backup(write)


def time_replay(service: OptinFace, admin: Actor) -> dict[str, float]:
    """The append that finds the restore (refused), and the replay it hands over to: seconds
    until it is done, and how long a read begun meanwhile waited."""
    waited: list[float] = []

    def read() -> None:
        started = time.perf_counter()
        service.health()
        waited.append(time.perf_counter() - started)

    started = time.perf_counter()
    try:
        service.create_api_key(actor=admin, role=Role.RESEARCHER, name="finds the restore")
    except LedgerRestored:
        pass
    else:
        raise AssertionError("the restore was not found")
    reader = threading.Thread(target=read)
    reader.start()
    service.settle()
    replayed = time.perf_counter() - started
    reader.join()
    return {"replay_seconds": round(replayed, 3), "read_waited_seconds": round(waited[0], 3)}


def run(*, n: int, erasures: int, folder: Path) -> dict[str, object]:
    settings = ConsentSettings(data_dir=folder / "data", index_max_elements=n + 1024)
    live, copy = settings.data_dir / "optinface.db", folder / "copy.db"
    service = OptinFace.open(settings)
    try:
        admin, populate_s = populated(service, n=n)
        with service.runtime.db.reading() as session:
            pseudonyms = list(session.scalars(select(Subject.pseudonym).order_by(Subject.id)))
        rng = np.random.default_rng(SEED + 2)
        looked_up = [pseudonyms[i] for i in rng.choice(n, min(LOOKUPS, n), replace=False)]
        sqlite_copy(live, copy)
        chosen = {pseudonyms[i] for i in rng.choice(n, erasures, replace=False)}
        looked_up = [p for p in looked_up if p not in chosen]
        baseline = time_lookups(service, looked_up)  # the journal still empty
        for pseudonym in chosen:
            service.erase(actor=admin, subject=pseudonym, reason=ErasureReason.REQUEST)
        with_journal = time_lookups(service, looked_up)
        sqlite_copy(copy, live)  # behind the running service
        replay = time_replay(service, admin)
        with service.runtime.db.reading() as session:  # the replay's report, as chained
            replayed = session.scalars(
                select(AuditEvent.details).where(AuditEvent.action == AuditAction.RECONCILED)
                .order_by(AuditEvent.seq.desc()).limit(1)).one()
    finally:
        service.close()
    sqlite_copy(copy, live)  # the same copy, this time met by a start
    started = time.perf_counter()
    OptinFace.open(settings).close()
    start_s = time.perf_counter() - started
    return {
        "n_subjects": n,
        "erasures": erasures,
        "seed": SEED,
        "populate_seconds": round(populate_s, 1),
        "lookup_us": {"journal_empty": _summary(baseline["lookup"]),
                      "journal_with_erasures": _summary(with_journal["lookup"])},
        "journal_question_us": {"journal_empty": _summary(baseline["journal"]),
                                "journal_with_erasures": _summary(with_journal["journal"])},
        **replay,
        "erasures_replayed": replayed["erasures_replayed"],
        "start_on_the_copy_seconds": round(start_s, 3),
        "samples": {"journal_empty": _rounded(baseline["lookup"]),  # the lookups, for the PNG
                    "journal_with_erasures": _rounded(with_journal["lookup"])},
        **measured(load_average_1min=round(os.getloadavg()[0], 1)),
    }


def _rounded(values: list[float]) -> list[float]:
    return [round(value, 1) for value in values]


def _summary(values: list[float]) -> dict[str, float]:
    return spread(values, {"median": 50, "p99": 99}, digits=2)


def plot(result: dict[str, object], path: Path) -> None:
    samples = checked(result, "samples", dict)
    title = (f"Subject lookup, {result['n_subjects']:,} subjects, journal of"
             f" {result['erasures']} erasures")
    with labelled_figure(path, title=title, xlabel="", ylabel="µs per lookup (one read)") as axes:
        axes.boxplot([samples["journal_empty"], samples["journal_with_erasures"]])
        axes.set_xticks([1, 2], ["journal empty", "journal with erasures"])
        axes.set_yscale("log")  # a loaded machine's outliers reach milliseconds


def main() -> None:
    result = run_sized("bench_live_replay", __doc__, run, plot,
                       IntOption("--n", 10_000, "subjects in the ledger"),
                       IntOption("--erasures", 50))
    print(json.dumps({k: v for k, v in result.items() if k not in ("samples", "machine")},
                     indent=2))


if __name__ == "__main__":
    main()

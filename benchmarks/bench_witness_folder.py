"""Cost of the witness folder's share of a witness call, against the checkpoints already there.

Usage: python -m benchmarks.bench_witness_folder [--files 0 3000 9000 100000] [--rounds 41]

Every spent single-use right (a probe consent's search, a link's use) runs the witness call
(:func:`consent.transparency.witness`), which lists the checkpoints signed into the folder
since this process last looked (:meth:`consent.witness.Witness.unchecked`) and writes one more
(:meth:`consent.witness.Witness.record`). The folder is append-only and never pruned, so what
that listing passes over must not grow with it (review 21a #1). For each number of checkpoint
files already in the folder (``--files``), three folders are filled alike and timed, round by
round alternated (:mod:`benchmarks.modes`), each round listing the new checkpoints and writing
one, as the call does:

- ``before``: the files flat in ``checkpoints/`` and the listing before the subfolders
  (:func:`listed_flat`, the code of ``witness.witnessed_after`` at 2e55fdd): the whole folder's
  names each call;
- ``after``: the files in subfolders of :data:`consent.witness.SHARD` sizes, listed by the
  service's :class:`~consent.witness.Witness` (the subfolders at or past its last check);
- ``upgraded``: the files flat, as a deployment upgraded from an earlier version holds them,
  listed by the service's :class:`~consent.witness.Witness` (read once, at its start).

Sizes up to 9,000 fill one subfolder, as a deployment's newest holds thousands: the listing
reads its names each call. The call's transaction (the checks, the signature, the commit) does
not depend on the folder and is left out: ``bench_audit --identify-rounds`` times the whole
call on an identify. Writes
``results/bench_witness_folder.json`` and ``.png``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from itertools import count
from pathlib import Path

from benchmarks.command_line import IntOption, bench_parser
from benchmarks.modes import alternated, medians
from benchmarks.output import checked, measured, write_results
from benchmarks.plots import labelled_figure
from optinface.consent.witness import CHECKPOINTS, SHARD, SUFFIX, Witness, write_once

MODES = ("before", "after", "upgraded")
NOTE = "optinface.example/audit\n{size}\nAAAA\n\n— optinface.example/audit AAAA\n"
"""A checkpoint file's size and shape (the signature is never read here)."""


def listed_flat(directory: Path, size: int) -> list[int]:
    """The listing before the subfolders: every name in ``checkpoints/``, each call."""
    try:
        with os.scandir(directory / CHECKPOINTS) as entries:
            names = [entry.name for entry in entries]
    except FileNotFoundError:
        return []
    return sorted(found for name in names
                  if name.endswith(SUFFIX) and not name.startswith(".")
                  and (stem := name.removesuffix(SUFFIX)).isdigit()
                  and (found := int(stem)) > size)


def _fill(directory: Path, files: int, *, sharded: bool) -> None:
    """``files`` checkpoint files of sizes 1 to ``files``, flat or in subfolders."""
    (directory / CHECKPOINTS).mkdir(parents=True)
    for size in range(1, files + 1):
        folder = directory / CHECKPOINTS
        if sharded:
            folder = folder / f"{size // SHARD:08d}"
            folder.mkdir(exist_ok=True)
        (folder / f"{size:012d}{SUFFIX}").write_text(NOTE.format(size=size), encoding="utf-8")


def measure_files(files: int, *, rounds: int, folder: Path) -> dict[str, object]:
    """Each mode's median seconds over ``rounds`` alternated rounds, at ``files`` files."""
    folders = {mode: folder / f"{mode}-{files}" for mode in MODES}
    started = time.perf_counter()
    for mode, directory in folders.items():
        _fill(directory, files, sharded=mode == "after")
    populate = time.perf_counter() - started
    witnesses = {mode: Witness(folders[mode]) for mode in ("after", "upgraded")}
    for witness in witnesses.values():
        witness.latest_size()  # the start's read, untimed
    sizes = count(files + 1)
    checked = {"before": files}

    def measure(mode: str) -> dict[str, float]:
        size = next(sizes)
        start = time.perf_counter()
        if mode == "before":
            new = listed_flat(folders[mode], checked[mode])
            write_once(folders[mode] / CHECKPOINTS / f"{size:012d}{SUFFIX}", NOTE.format(size=size))
            checked[mode] = max([checked[mode], *new])
        else:
            witness = witnesses[mode]
            new = witness.unchecked()
            witness.record(NOTE.format(size=size), size=size)
            witness.checked(max([witness.latest_size(), *new]))
        return {"ms": (time.perf_counter() - start) * 1000}

    samples = alternated(MODES, rounds=rounds, measure=measure)
    return {"files": files, "populate_seconds": round(populate, 1),
            "median_ms": {mode: figures["ms"] for mode, figures in medians(samples).items()},
            "samples": samples}


def run(*, files: list[int], rounds: int, folder: Path) -> dict[str, object]:
    rows = [measure_files(n, rounds=rounds, folder=folder) for n in files]
    return {"rounds": rounds, "shard": SHARD, "modes": list(MODES), "rows": rows, **measured()}


def plot(result: dict[str, object], path: Path) -> None:
    rows = checked(result, "rows", list)
    with labelled_figure(path, title="witness folder: listing + one checkpoint per call",
                         xlabel="checkpoint files already in the folder",
                         ylabel="ms per call (median)") as axes:
        for mode in MODES:
            axes.plot([row["files"] for row in rows],
                      [row["median_ms"][mode] for row in rows], marker="o", label=mode)
        axes.legend()


def main() -> None:
    parser = bench_parser(__doc__, IntOption("--rounds", 41))
    parser.add_argument("--files", type=int, nargs="+", default=[0, 3000, 9000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_witness_folder_") as temporary:
        result = run(files=args.files, rounds=args.rounds, folder=Path(temporary))
    write_results("bench_witness_folder", result, plot)
    rows = checked(result, "rows", list)
    print(json.dumps([{key: row[key] for key in ("files", "median_ms")} for row in rows]))


if __name__ == "__main__":
    main()

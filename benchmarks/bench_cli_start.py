"""How long the ``optinface`` console script takes to start, before it does anything.

Usage: python -m benchmarks.bench_cli_start [--rounds 15]

A person checks a receipt or an export with ``receipt verify`` or ``audit verify-access``, and
scripts run ``audit verify`` on a schedule: none of them loads a face model or serves a page,
yet every command imported insightface as it started (onnx, scikit-image and SciPy with it),
because the engine's detector and embedder imported it at module level, and the web app (its
routes and pages), because ``serve``, ``demo`` and ``audit export`` imported it at module level.
They now import each where it is used. This times, in fresh processes taking turns round by
round, the interpreter alone (the floor), the console script's start as it is (``optinface
--help``, after), the same with the web app imported first (before the app was imported where
used, the baseline of the same run) and with insightface imported too (before either). Writes
``results/bench_cli_start.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.output import measured, write_results
from benchmarks.plots import labelled_figure

_CONSOLE = "import runpy, sys; sys.argv = ['optinface', '--help']; " \
           "runpy.run_module('optinface.api.cli.main', run_name='__main__')"
_WEB_APP = "import optinface.api.app, optinface.api.routes.audit; "
STARTS = {
    "interpreter": ["-c", "pass"],
    "console_with_insightface_and_web_app": [
        "-c", "import insightface.model_zoo, insightface.utils.face_align; " + _WEB_APP
        + _CONSOLE],
    "console_with_web_app": ["-c", _WEB_APP + _CONSOLE],
    "console": ["-m", "optinface.api.cli.main", "--help"],
}


def _start_seconds(arguments: list[str], folder: Path) -> float:
    """One fresh process, from its start to its exit (exit 0 required)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *arguments], cwd=folder, stdout=subprocess.DEVNULL,
                   check=True, timeout=120)
    return time.perf_counter() - start


def run(rounds: int) -> dict[str, object]:
    """Each start's median over ``rounds``, the starts taking turns so a load falls on all."""
    times: dict[str, list[float]] = {name: [] for name in STARTS}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            for name, arguments in STARTS.items():
                times[name].append(_start_seconds(arguments, Path(folder)))
    medians = {name: round(statistics.median(taken), 3) for name, taken in times.items()}
    result: dict[str, object] = {
        "benchmark": "bench_cli_start", "rounds": rounds, "median_seconds": medians,
        "ratio_console_to_before": round(medians["console"]
                                         / medians["console_with_web_app"], 3),
        "ratio_console_to_before_both": round(
            medians["console"] / medians["console_with_insightface_and_web_app"], 3),
        **measured()}
    print(json.dumps(result))
    return result


def plot(result: dict[str, object], path: Path) -> None:
    medians = result["median_seconds"]
    assert isinstance(medians, dict)
    labels = {"interpreter": "python alone",
              "console_with_insightface_and_web_app":
                  "optinface --help, insightface\nand web app first (before both)",
              "console_with_web_app": "optinface --help, web app\nimported first (before)",
              "console": "optinface --help (after)"}
    with labelled_figure(path, title="The console script's start (fresh process, median)",
                         xlabel="seconds", ylabel="") as axes:
        axes.barh([labels[name] for name in STARTS], [medians[name] for name in STARTS])
        axes.invert_yaxis()  # the starts top down, in the table's order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds, the starts in turn")
    args = parser.parse_args()
    result = run(args.rounds)
    write_results("bench_cli_start", result, lambda path: plot(result, path))


if __name__ == "__main__":
    main()

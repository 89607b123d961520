"""How long the ``optinface`` console script takes to start, before it does anything.

Usage: python -m benchmarks.bench_cli_start [--rounds 15]

A person checks a receipt or an export with ``receipt verify`` or ``audit verify-access``, and
scripts run ``audit verify`` on a schedule: none of them loads a face model or serves a page,
yet every command imported insightface as it started (onnx, scikit-image and SciPy with it),
because the engine's detector and embedder imported it at module level, and the web app (its
routes and pages), because ``serve``, ``demo`` and ``audit export`` imported it at module level,
and the web framework (FastAPI, Starlette, uvicorn, Jinja2), the HTTP client and OpenCV, because
the error table, ``serve``'s servers, the document words, ``bench`` and ``demo`` did. They now
import each where it is used. This times, in fresh processes taking turns round by round, the
interpreter alone (the floor), the console script's start as it is (``optinface --help``,
after), the same with the web framework imported first (before it was imported where used, the
baseline of the same run), with the web app imported first (before the app was) and with
insightface imported too (before any of them): wall-clock and CPU seconds (user and system, of
the process alone, which a busy machine moves far less). Writes
``results/bench_cli_start.json`` and ``.png``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from benchmarks.command_line import IntOption, run_counted
from benchmarks.fresh_process import timed_run
from benchmarks.output import checked, measured
from benchmarks.plots import labelled_figure

_CONSOLE = "import runpy, sys; sys.argv = ['optinface', '--help']; " \
           "runpy.run_module('optinface.api.cli.main', run_name='__main__')"
_WEB_APP = "import optinface.api.app, optinface.api.routes.audit; "
_WEB_FRAMEWORK = "import fastapi, fastapi.templating, uvicorn, httpx2, cv2; "
STARTS = {
    "interpreter": ["-c", "pass"],
    "console_with_insightface_and_web_app": [
        "-c", "import insightface.model_zoo, insightface.utils.face_align; " + _WEB_APP
        + _CONSOLE],
    "console_with_web_app": ["-c", _WEB_APP + _CONSOLE],
    "console_with_web_framework": ["-c", _WEB_FRAMEWORK + _CONSOLE],
    "console": ["-m", "optinface.api.cli.main", "--help"],
}

BEFORE = {"before": "console_with_web_framework", "before_web_app": "console_with_web_app",
          "before_all": "console_with_insightface_and_web_app"}
"""The ratios' names and the starts they compare the console's with: before this change, before
the web app was imported where used, and before insightface was too."""


def run(rounds: int) -> dict[str, object]:
    """Each start's medians over ``rounds``, the starts taking turns so a load falls on all;
    the ratios of the console's start to each start before, in wall-clock and CPU seconds."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in STARTS}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            for name, arguments in STARTS.items():
                times[name].append(timed_run(arguments, cwd=Path(folder)))
    medians = {name: round(statistics.median(wall for wall, _ in taken), 3)
               for name, taken in times.items()}
    cpu = {name: round(statistics.median(used for _, used in taken), 3)
           for name, taken in times.items()}
    result: dict[str, object] = {
        "benchmark": "bench_cli_start", "rounds": rounds, "median_seconds": medians,
        "median_cpu_seconds": cpu,
        **{f"ratio_console_to_{name}": round(medians["console"] / medians[start], 3)
           for name, start in BEFORE.items()},
        **{f"cpu_ratio_console_to_{name}": round(cpu["console"] / cpu[start], 3)
           for name, start in BEFORE.items()},
        **measured()}
    print(json.dumps(result))
    return result


def plot(result: dict[str, object], path: Path) -> None:
    medians = checked(result, "median_seconds", dict)
    cpu = checked(result, "median_cpu_seconds", dict)
    labels = {"interpreter": "python alone",
              "console_with_insightface_and_web_app":
                  "optinface --help, insightface\nand web app first",
              "console_with_web_app": "optinface --help, web app\nimported first",
              "console_with_web_framework":
                  "optinface --help, web framework\nimported first (before)",
              "console": "optinface --help (after)"}
    rows = range(len(STARTS))
    with labelled_figure(path, title="The console script's start (median of fresh processes)",
                         xlabel="seconds", ylabel="") as axes:
        axes.barh([row - 0.2 for row in rows], [medians[name] for name in STARTS], height=0.4,
                  label="wall-clock")
        axes.barh([row + 0.2 for row in rows], [cpu[name] for name in STARTS], height=0.4,
                  label="CPU (user + system)")
        axes.set_yticks(list(rows), [labels[name] for name in STARTS])
        axes.invert_yaxis()  # the starts top down, in the table's order
        axes.legend()


def main() -> None:
    run_counted("bench_cli_start", __doc__, run, plot,
                IntOption("--rounds", 15, "rounds, the starts in turn"))


if __name__ == "__main__":
    main()

"""How long a command that opens the deployment but embeds nothing takes, models loaded or not.

Usage: python -m benchmarks.bench_cli_open [--rounds 15]

``sweep``, ``erase``, ``export``, ``keys``, ``audit reseal``... open the ledger, the keys and
the index, and every one of them loaded the face models as it opened the service: insightface
and two ONNX sessions, for commands that never see a face. They now check the
models' files against the manifest as before and load them on first use
(``FacePipeline.from_settings(deferred=True)``). This times ``optinface sweep`` on one
deployment (made once, with its first admin key) in fresh processes taking turns round by
round: ``after`` as the command runs, ``before`` the same command with the models loaded as it
opens (the baseline of the same run): wall-clock and CPU seconds (user and system, of the
process alone). Writes ``results/bench_cli_open.json`` and ``.png``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.command_line import IntOption, run_counted
from benchmarks.fresh_process import timed_run
from benchmarks.modes import alternated, medians
from benchmarks.output import measured
from benchmarks.plots import plot_mode_bars

_LOADED_AT_OPEN = ("from optinface.engine.pipeline import FacePipeline; "
                   "made = FacePipeline.from_settings; "  # the version before: loaded as made
                   "FacePipeline.from_settings = lambda settings, deferred=False: made(settings); ")
_SWEEP = ("import runpy, sys; sys.argv = ['optinface', 'sweep']; "
          "runpy.run_module('optinface.api.cli.main', run_name='__main__')")
COMMANDS = {"before": ["-c", _LOADED_AT_OPEN + _SWEEP], "after": ["-c", _SWEEP]}
"""The two modes' child processes: the command with the models loaded as it opens, and as it
runs."""


def _seconds(arguments: list[str], environment: dict[str, str]) -> dict[str, float]:
    wall, cpu = timed_run(arguments, env=environment)
    return {"wall": wall, "cpu": cpu}


def run(rounds: int) -> dict[str, object]:
    """Each mode's medians over ``rounds`` alternated rounds and the ratios of ``after`` to
    ``before``, on a deployment made in a temporary folder, deleted after."""
    with tempfile.TemporaryDirectory(prefix="bench_cli_open_") as folder:
        environment = {**{k: v for k, v in os.environ.items() if not k.startswith("OPTINFACE_")},
                       "OPTINFACE_DATA_DIR": str(Path(folder) / "deployment")}
        subprocess.run([sys.executable, "-m", "optinface.api.cli.main", "keys", "create",
                        "--role", "admin", "--name", "bench"], env=environment,
                       stdout=subprocess.DEVNULL, check=True, timeout=300)
        samples = alternated(list(COMMANDS), rounds=rounds,
                             measure=lambda mode: _seconds(COMMANDS[mode], environment))
    median = medians(samples)
    result: dict[str, object] = {
        "benchmark": "bench_cli_open", "command": "optinface sweep", "rounds": rounds,
        "median_s": median, "samples": samples,
        **{f"ratio_after_to_before_{key}": round(median["after"][key] / median["before"][key], 3)
           for key in ("wall", "cpu")},
        **measured()}
    print(json.dumps({k: v for k, v in result.items() if k not in ("samples", "machine")}))
    return result


def plot(result: dict[str, object], path: Path) -> None:
    plot_mode_bars(result, path=path,
                   parts=(("wall", "wall-clock"), ("cpu", "CPU (user + system)")),
                   title="optinface sweep: models loaded at open or on first use")


def main() -> None:
    run_counted("bench_cli_open", __doc__, run, plot,
                IntOption("--rounds", 15, "rounds, the modes in turn"))


if __name__ == "__main__":
    main()

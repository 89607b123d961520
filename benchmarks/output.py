"""Where a benchmark's results go and how they are written: ``NAME.json`` and ``NAME.png`` side
by side in ``benchmarks/results/`` (or the folder a bench's ``--out`` names).

One definition for every bench, because the files are read from outside the code: the README's and
``benchmarks/README.md``'s figures cite them by name, and a reader compares two runs' JSON field by
field, so each run must say on what machine and when it was measured (:func:`measured`) to let its
ratios be judged. The JSON is written before the figure is drawn: a plot that fails leaves the
numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
"""The results folder of this checkout, wherever the bench is started from."""

R = TypeVar("R", bound=Mapping[str, Any])
"""A bench's result, as its ``plot`` takes it."""
T = TypeVar("T")


def write_json(name: str, result: Mapping[str, Any], *, folder: Path = RESULTS) -> Path:
    """Write ``result`` to ``folder/NAME.json`` (indented, newline-terminated), creating the
    folder.

    Args:
        name: The file's stem, e.g. ``"bench_sweep_10000"``.
        result: The bench's result, JSON-serialisable.
        folder: Where to write it.

    Returns:
        The path written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def write_results(
    name: str,
    result: R,
    plot: Callable[[R, Path], object],
    *,
    folder: Path = RESULTS,
) -> tuple[Path, Path]:
    """Write ``result`` as ``NAME.json`` (:func:`write_json`), then have ``plot`` draw the
    same run as ``NAME.png`` beside it.

    Args:
        name: The stem both files share.
        result: The bench's result, JSON-serialisable.
        plot: Draws ``result`` as a PNG at the path it is given (a bench's ``plot``).
        folder: Where to write both.

    Returns:
        The JSON's path and the PNG's.
    """
    written = write_json(name, result, folder=folder)
    png = folder / f"{name}.png"
    plot(result, png)
    return written, png


def checked(result: Mapping[str, object], key: str, kind: type[T]) -> T:
    """``result[key]``, checked to be the ``kind`` the bench's run put there (its ``rows``, a
    list; its ``samples``, a dict): how a figure reads a result typed only as JSON."""
    value = result[key]
    assert isinstance(value, kind), f"{key} is a {type(value).__name__}, not a {kind.__name__}"
    return value


def measured(**machine_facts: object) -> dict[str, Any]:
    """What a result says of its run besides the figures: ``machine`` (the CPU, its cores, the
    load average: :func:`optinface.api.cli.bench.machine`, with any ``machine_facts`` a bench
    adds) and ``measured_at`` (UTC, ISO 8601)."""
    # Imported here: the CLI module loads the server's stack (seconds), which a bench that only
    # needs RESULTS (the LFW evaluations) should not pay for.
    from optinface.api.cli.bench import machine

    return {"machine": {**machine(), **machine_facts},
            "measured_at": datetime.now(UTC).isoformat()}


def spread(values: Sequence[float], points: Mapping[str, float], *,
           digits: int) -> dict[str, float]:
    """A sample's spread as a result reports it: each of ``points`` (the field's name, its
    percentile: 50 the median, 100 the maximum) rounded to ``digits``."""
    array = np.asarray(values, dtype=float)
    return {name: round(float(np.percentile(array, q)), digits) for name, q in points.items()}

"""A bench's command line, said once for every bench script (``python -m benchmarks.bench_x``).

Its ``--help`` opens with the first line of the bench's docstring; its sizes, rounds and ports
are integer options (:class:`IntOption`); and a bench measured at a size (``--n``) runs in a data
folder of its own, deleted after, and writes its results under its name and that size
(:func:`run_sized`), so that runs at two sizes sit side by side in ``benchmarks/results/``; a
bench of one count alone (its rounds, its events) writes them under its name (:func:`run_counted`).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.output import R, write_results


@dataclass(frozen=True)
class IntOption:
    """An integer option of a bench's command line: a size, a number of rounds, a port."""

    flag: str
    default: int | None
    help: str | None = None


def bench_parser(doc: str, *options: IntOption) -> argparse.ArgumentParser:
    """The command line of the bench whose docstring is ``doc``, with its integer ``options``
    first; the bench adds any other option to the parser returned."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for option in options:
        parser.add_argument(option.flag, type=int, default=option.default, help=option.help)
    return parser


def run_sized(name: str, doc: str, run: Callable[..., R], plot: Callable[[R, Path], object],
              *options: IntOption) -> R:
    """Run a bench measured at a size from its command line: ``run`` is given each of
    ``options`` as parsed, by name (``--pg-port`` as ``pg_port``), and a data folder of its
    own, deleted after; the result is written as ``NAME_N.json`` and ``.png`` (N the ``--n``
    given, :func:`~benchmarks.output.write_results`) and returned, for the bench to print the
    figures a reader looks at first.

    Args:
        name: The bench's name, the stem of its results.
        doc: The bench's docstring, for ``--help``.
        run: Measures the bench: the bench's ``run``.
        plot: Draws its result: the bench's ``plot``.
        options: Its integer options, ``--n`` among them.

    Returns:
        The result written.
    """
    arguments = bench_parser(doc, *options).parse_args()
    with tempfile.TemporaryDirectory(prefix=f"{name}_") as temporary:
        result = run(**vars(arguments), folder=Path(temporary))
    write_results(f"{name}_{arguments.n}", result, plot)
    return result


def run_counted(name: str, doc: str, run: Callable[[int], R], plot: Callable[[R, Path], object],
                count: IntOption) -> R:
    """Run a bench whose command line is one ``count`` (its rounds, or the events it times),
    given to ``run``; the result is written as ``NAME.json`` and ``.png`` and returned."""
    (value,) = vars(bench_parser(doc, count).parse_args()).values()  # its one option
    result = run(value)
    write_results(name, result, plot)
    return result

"""The ``optinface demo`` command: its options and its help. The walk-through itself
(:mod:`api.cli.demo`) is imported when the command runs, so that the other commands start
without its HTTP client and its sample faces (``benchmarks/bench_cli_start.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optinface.api.cli.common import RemoteApiKey


def add_commands(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    url: Annotated[
        str | None, typer.Option("--url", help="A running server; default: in-process.")
    ] = None,
    api_key: RemoteApiKey = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="An empty, dedicated data dir; default: a temporary one."),
    ] = None,
) -> None:
    """Walk through consent -> enrol -> identify -> export -> withdraw -> erase -> audit verify.

    Example: optinface demo
    """
    from optinface.api.cli.demo import run

    run(url=url, api_key=api_key, data_dir=data_dir)

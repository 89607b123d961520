"""The commands that drive a server through its HTTP API, ``bench`` and ``demo``: their options
and their help. The work of each (:mod:`api.cli.bench`, :mod:`api.cli.demo`) is imported when
the command runs, so that the other commands start without their HTTP client, their sample faces
and their plots (``benchmarks/bench_cli_start.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optinface.api.cli.common import RemoteApiKey, RemoteUrl


def add_commands(app: typer.Typer) -> None:
    app.command("bench")(bench)
    app.command("demo")(demo)


def bench(
    url: RemoteUrl = None,
    api_key: RemoteApiKey = None,
    requests: Annotated[
        int, typer.Option("--requests", min=2, help="Calls per operation and concurrency.")
    ] = 40,
    overhead_rounds: Annotated[
        int, typer.Option("--overhead-rounds", min=1,
                          help="Interleaved identify / in-process passes for the overhead ratio.")
    ] = 3,
    concurrency: Annotated[
        list[int] | None, typer.Option("--concurrency", help="Repeat for each level (1 2 4 8).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the JSON and the PNG.")] = Path(
        "benchmarks/results"
    ),
    tag: Annotated[
        str | None, typer.Option("--tag", help="File name tag; default: cpu or cuda.")
    ] = None,
) -> None:
    """Embed, identify and verify latency (p50/p90/p99) and throughput at 1, 2, 4, 8 clients.

    Run it against a throw-away deployment: it creates keys, a purpose and sample subjects.
    Writes bench_api_<tag>.json and .png.

    Example: optinface bench --url http://127.0.0.1:8000 --api-key key_... --requests 40
    """
    from optinface.api.cli.bench import run

    run(url=url, api_key=api_key, requests=requests, overhead_rounds=overhead_rounds,
        concurrency=concurrency, out=out, tag=tag)


def demo(
    url: RemoteUrl = None,
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

"""API overhead, A/B in one run: two versions of the server against the same in-process work.

``optinface bench`` gives one server's identify p50 over the in-process detect + embed + search
of the same probes; on a shared machine that ratio moves by a third from one run to the next,
more than a change to the request path may move it. To compare two versions of the server
(before and after a change), this starts both, each from the ``src`` folder of its own checkout
(``--before``, ``--after``), on throw-away data dirs, and, probe by probe, times the in-process
work, then one identify on each server, alternating which goes first: the three sides see the
same load. Per round: each side's p50 and CPU time per call (the servers' every thread, from
``/proc``), each server's ratio to the in-process side, and the p50 of its ``auth``
Server-Timing stage (the guard: authentication, rate limit, authorisation). Writes
``bench_api_ab.json`` and ``.png``.

    python -m benchmarks.bench_api_ab --before ../old-checkout/src [--after src] \\
        [--requests 40] [--rounds 7] [--after-first]

Two configurations of one version: the same ``src`` on both sides, and ``--after-setting
NAME=VALUE`` (repeatable) for the after server only, with ``--name`` for the output files:

    python -m benchmarks.bench_api_ab --before src --after-setting OPTINFACE_INTRA_OP_THREADS=2 \\
        --after-setting OPTINFACE_INTRA_OP_AFFINITIES=1 --name bench_api_ab_pinned
"""

from __future__ import annotations

import json
import math
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
from matplotlib.figure import Figure

from benchmarks.command_line import IntOption, bench_parser
from benchmarks.output import write_results
from optinface.api.cli.bench import (
    CALLS_PER_KEY,
    Api,
    Bench,
    BenchFailed,
    machine,
    prepare,
    samples,
)
from optinface.api.cli.bench import local_server as start_server
from optinface.engine.settings import EngineSettings

AUTH_STAGE = "auth"
SIDES = ("before", "after")


def one_round(servers: dict[str, Bench], local: Bench, calls: int) -> dict[str, Any]:
    """``calls`` probes: in-process embed + search, then an identify on each server. A server
    CPU time that could not be read (no ``/proc``) makes that side's CPU figures None."""
    stages: dict[str, list[dict[str, float] | None]] = {side: [] for side in SIDES}
    work = {side: bench.http_work("identify", calls, stages=stages[side])
            for side, bench in servers.items()}
    seconds: dict[str, list[float]] = {"in_process": [], **{side: [] for side in SIDES}}
    local_cpu = 0.0
    server_cpu: dict[str, float | None] = dict.fromkeys(SIDES, 0.0)
    for i in range(calls):
        wall, cpu = local.time_in_process(i)
        seconds["in_process"].append(wall)
        local_cpu += cpu
        for side in SIDES if i % 2 == 0 else SIDES[::-1]:
            wall, spent, error = servers[side].time_identify(work[side], i)
            seconds[side].append(wall)
            so_far = server_cpu[side]
            server_cpu[side] = None if so_far is None or spent is None else so_far + spent
            if error is not None:
                raise RuntimeError(f"{side} identify answered {error}")
    p50 = {side: 1000 * float(np.median(s)) for side, s in seconds.items()}
    cpu_ms = {side: None if c is None else round(1000 * c / calls, 2)
              for side, c in {"in_process": local_cpu, **server_cpu}.items()}
    return {"p50_ms": {side: round(v, 2) for side, v in p50.items()},
            "ratio": {side: round(p50[side] / p50["in_process"], 3) for side in SIDES},
            "cpu_ms_per_call": cpu_ms,
            "cpu_ratio": {side: None if (c := server_cpu[side]) is None
                          else round(c / local_cpu, 3) for side in SIDES},
            "auth_ms_p50": {side: _stage_p50(stages[side], AUTH_STAGE) for side in SIDES},
            "load_average": list(os.getloadavg())}


def _stage_p50(stages: list[dict[str, float] | None], name: str) -> float | None:
    """The median milliseconds of stage ``name`` over the answers that named it (None if none
    did: a server without Server-Timing)."""
    times = [one[name] for one in stages if one is not None and name in one]
    return round(float(np.median(times)), 3) if times else None


def run(*, before: str, after: str, calls: int, rounds: int, after_first: bool = False,
        after_settings: dict[str, str] | None = None) -> dict[str, Any]:
    """``after_first``: start (and prepare) the newer server first, to see that the order the
    two were started in is not what differs. ``after_settings``: for the after server only."""
    pipeline, faces, probes, gallery = samples(EngineSettings())
    with ExitStack() as stack:
        servers = {}
        order = list(zip(SIDES, (before, after), strict=True))
        for side, source in order[::-1] if after_first else order:
            try:
                url, admin, pid = stack.enter_context(start_server(
                    python_path=source, settings=after_settings if side == "after" else None))
            except BenchFailed as error:
                raise BenchFailed(f"{side} server: {error}") from error
            client = stack.enter_context(httpx2.Client(base_url=url, timeout=120))
            deployment = prepare(Api(client), admin, faces,
                                 researcher_keys=math.ceil(calls / CALLS_PER_KEY) * rounds)
            servers[side] = Bench(client=client, deployment=deployment, pipeline=pipeline,
                                  probes=probes, search_index=gallery, server_pid=pid)
        each = []
        for _ in range(rounds):
            each.append(one_round(servers, servers["after"], calls))
            print(json.dumps(each[-1]))
    summary = {side: {
        "ratio_median": float(np.median([r["ratio"][side] for r in each])),
        "cpu_ratio_median": _median([r["cpu_ratio"][side] for r in each]),
        "overhead_ms_median": round(float(np.median(
            [r["p50_ms"][side] - r["p50_ms"]["in_process"] for r in each])), 2),
        "cpu_overhead_ms_median": _median(
            [None if (c := r["cpu_ms_per_call"][side]) is None
             else c - r["cpu_ms_per_call"]["in_process"] for r in each], digits=2),
        "auth_ms_median": _median([r["auth_ms_p50"][side] for r in each], digits=3),
    } for side in SIDES}
    return {"before": before, "after": after, "after_settings": after_settings or {},
            "started_first": "after" if after_first else "before", "requests_per_round": calls,
            "machine": machine(), "summary": summary, "rounds": each}


def _median(values: list[float | None], *, digits: int | None = None) -> float | None:
    """The median, or None where a round's CPU time was not read (never a 0 taken for one)."""
    if any(v is None for v in values):
        return None
    median = float(np.median([v for v in values if v is not None]))
    return median if digits is None else round(median, digits)


def plot(result: dict[str, Any], path: Path) -> None:
    """Each round's ratio, wall and CPU, for both servers."""
    figure = Figure(figsize=(6.4, 5.4), dpi=120, layout="tight")
    axes = figure.subplots()
    rounds = range(1, len(result["rounds"]) + 1)
    for side, colour in zip(SIDES, ("tab:red", "tab:blue"), strict=True):
        axes.plot(rounds, [r["ratio"][side] for r in result["rounds"]], "o-", color=colour,
                  label=f"{side}: identify p50 / in-process p50")
        axes.plot(rounds, [math.nan if (c := r["cpu_ratio"][side]) is None else c
                           for r in result["rounds"]], "x--",
                  color=colour, label=f"{side}: CPU per identify / in-process CPU")
    axes.axhline(1.3, color="grey", linewidth=0.8, label="target 1.3")
    settings = ", ".join(f"{k}={v}" for k, v in result.get("after_settings", {}).items())
    axes.set(xlabel="round (interleaved, same load for all sides)", ylabel="ratio")
    axes.set_title("Identify over HTTP against in-process embed + search"
                   + (f"\nafter: {settings}" if settings else ""), fontsize=8 if settings else 12)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    figure.savefig(path)


def main() -> None:
    parser = bench_parser(__doc__, IntOption("--requests", 40, "probes per round"),
                          IntOption("--rounds", 7))
    parser.add_argument("--before", required=True, help="src folder of the older checkout")
    parser.add_argument("--after", default=str(Path(__file__).resolve().parents[1] / "src"),
                        help="src folder of the newer checkout (default: this one)")
    parser.add_argument("--after-first", action="store_true",
                        help="start the newer server first; writes bench_api_ab_after_first.*")
    parser.add_argument("--after-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="an OPTINFACE_* variable for the after server only (repeatable)")
    parser.add_argument("--name", help="output file stem (default: bench_api_ab[_after_first])")
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.after_setting)
    result = run(before=args.before, after=args.after, calls=args.requests, rounds=args.rounds,
                 after_first=args.after_first, after_settings=settings)
    name = args.name or ("bench_api_ab_after_first" if args.after_first else "bench_api_ab")
    write_results(name, result, plot)


if __name__ == "__main__":
    main()

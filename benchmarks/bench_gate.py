"""What the matching gate's read of the register costs, per check (twice a match), before and
after its kept rows were checked against a digest of those rows, and before and after that
digest covered the log's order events and the check asked the witness journal's orders too.

A service with ``--purposes`` purposes, a declaration and ``--orders`` regulator's orders
placed and lifted (so the log holds order and lift events, the journal their lines); each mode
runs ``CALLS`` checks, each in its own read transaction (:meth:`consent.db.Database.reading`),
as a match's gate does, the modes taking turns call by call:

- *select_1*: the transaction and one trivial statement (the floor every mode stands on: a
  match's transaction has begun before its gate reads);
- *generation*: the gate before, on SQLite: the rows kept while this process's engine wrote
  none of the register's tables (:class:`consent.table_writes.TableWrites`), blind to any other
  writer;
- *rows_digest*: the gate before red team 5's F1: one statement reads the digest of the
  register's rows only, and the kept rows are served while it is unchanged (blind to an order
  whose row was deleted after, or as, it was inserted: the digest comes back to a kept one);
- *digest*: the gate now (:class:`consent.declaration.RegisterReads`): the same statement also
  reads the log's order, lift and seal-adoption events (by the action's index), and each check
  sets the rows in force against the journal's orders (a ``stat`` of the journal);
- *uncached*: the rows loaded and checked on every call (the orders set against the log, the
  declaration's seal): what the gate did before on PostgreSQL, and does now after any change.

The figures to read are the ratios, in the same run: *digest* over *rows_digest*, over
*uncached* and over *select_1*.

    python -m benchmarks.bench_gate [--purposes 10] [--orders 3] \
        [--database-url postgresql+psycopg://...]

Writes benchmarks/results/bench_gate_<backend>.json and a PNG next to it.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from benchmarks.command_line import IntOption, bench_parser
from benchmarks.output import measured, write_results
from benchmarks.plots import labelled_figure
from optinface.consent import table_fingerprint
from optinface.consent.declaration import (
    REGISTER_TABLES,
    RegisterReads,
    RegisterRows,
    declared_long_enough_ago,
)
from optinface.consent.roles import Actor, Role
from optinface.consent.schemas import Operation, PurposeCreate
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.table_writes import TableWrites

CALLS = 2000
MODES = ("select_1", "generation", "rows_digest", "digest", "uncached")

Check = Callable[[Session], object]


def checks(service: OptinFace) -> dict[str, Check]:
    """Each mode's check of the register, as the gate calls it in a transaction."""
    runtime = service.runtime
    writes = TableWrites(runtime.db.engine, [str(table.description) for table in REGISTER_TABLES])
    rows_only = table_fingerprint.statement(REGISTER_TABLES)
    kept: dict[str, Any] = {}

    def generation(session: Session) -> object:
        if kept.get("generation") != writes.generation:
            kept.update(generation=writes.generation,
                        rows=RegisterRows.read(session, runtime.keys))
        return kept["rows"]

    def rows_digest(session: Session) -> object:
        version = table_fingerprint.fingerprint(session, rows_only)
        if kept.get("version") != version:
            kept.update(version=version, of_version=RegisterRows.read(session, runtime.keys))
        return kept["of_version"]

    return {"select_1": lambda session: session.execute(text("SELECT 1")), "generation": generation,
            "rows_digest": rows_digest,
            "digest": RegisterReads(runtime.keys, runtime.journal_ends, runtime.clock).rows,
            "uncached": lambda session: RegisterRows.read(session, runtime.keys)}


def timed_us(service: OptinFace, checks: dict[str, Check]) -> dict[str, list[float]]:
    """Each mode's ``CALLS`` latencies, the modes taking turns call by call: on a shared
    machine each meets the same load, so their ratios hold though the load moves."""
    latencies: dict[str, list[float]] = {mode: [] for mode in checks}
    for _ in range(CALLS):
        for mode, check in checks.items():
            began = time.perf_counter()
            with service.runtime.db.reading() as session:
                check(session)
            latencies[mode].append((time.perf_counter() - began) * 1e6)
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    p50, p99 = np.percentile(latencies, [50, 99])
    return {"p50_us": round(float(p50), 1), "p99_us": round(float(p99), 1)}


def declared(service: OptinFace, *, purposes: int, orders: int) -> None:
    admin = service.authenticate(
        service.create_api_key(actor=None, role=Role.ADMIN, name="bench").secret)
    for n in range(purposes):
        service.create_purpose(actor=admin, body=PurposeCreate(
            name=f"bench {n}", description="benchmark purpose", legal_basis="consent",
            operations={Operation.ENROL, Operation.IDENTIFY}, retention_days=3650))
    service.declare(actor=admin, reference="BENCH-1",
                    date=declared_long_enough_ago(service.clock.now().date(), service.settings))
    lifted(service, admin, orders=orders)


def lifted(service: OptinFace, admin: Actor, *, orders: int) -> None:
    """``orders`` orders placed and lifted: what the digest reads of the log and the check of
    the journal, while the database stays in service."""
    for n in range(orders):
        service.apply_regulator_order(actor=admin, reference=f"BENCH-ORDER-{n}")
        service.lift_regulator_order(actor=admin, reference=f"BENCH-ORDER-{n}")


def run(*, purposes: int, orders: int, folder: Path,
        database_url: str | None) -> dict[str, Any]:
    settings = ConsentSettings(data_dir=folder, database_url=database_url)
    service = OptinFace.open(settings)
    try:
        declared(service, purposes=purposes, orders=orders)
        latencies = timed_us(service, checks(service))
    finally:
        service.close()
    found = {mode: summary(latencies[mode]) for mode in MODES}
    return {
        "backend": "postgresql" if database_url else "sqlite",
        "purposes": purposes,
        "orders": orders,
        "calls": CALLS,
        "summary": found,
        "ratios": {f"digest_over_{mode}_p50": round(
            found["digest"]["p50_us"] / found[mode]["p50_us"], 2)
            for mode in ("select_1", "generation", "rows_digest", "uncached")},
        "latencies_us": {mode: [round(x, 1) for x in latencies[mode]] for mode in MODES},
        **measured(),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    title = (f"The gate's register check, {result['backend']}\n{result['purposes']} purposes,"
             f" {result['orders']} orders, {result['calls']} calls each")
    with labelled_figure(path, title=title, xlabel="",
                         ylabel="µs per check (read transaction included)") as axes:
        axes.boxplot([result["latencies_us"][mode] for mode in MODES], showfliers=False)
        axes.set_xticks(range(1, len(MODES) + 1), MODES)
        axes.set_yscale("log")


def main() -> None:
    parser = bench_parser(__doc__, IntOption("--purposes", 10), IntOption("--orders", 3))
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_gate_") as temporary:
        result = run(purposes=args.purposes, orders=args.orders, folder=Path(temporary),
                     database_url=args.database_url)
    write_results(f"bench_gate_{result['backend']}", result, plot)
    print(json.dumps({k: result[k] for k in ("backend", "purposes", "orders", "summary",
                                             "ratios")},
                     indent=2))


if __name__ == "__main__":
    main()

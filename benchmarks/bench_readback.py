"""What a withdrawal's read-back costs (``consent.ledger_alterations.require_held``).

A withdrawal reads back, in its own transaction before the person is told, that the consent's
row is withdrawn and its templates gone, and asks the database's catalog for triggers, rules
and row security on the ledger's tables (:func:`consent.ledger_alterations.found`). This bench
times that catalog query alone, then signed withdrawals through the service with the read-back
(after) and with it replaced by nothing (before), interleaved one each in the same run so that
the machine's load weighs on both alike, on SQLite and, with ``--pg-port``, on a PostgreSQL
cluster started for the run (durable: fsync and synchronous commit on). Each subject holds two
consents and withdraws one, so no erasure follows; the person's passkey signature is made
before the clock starts, so only the service's work is timed.

    python -m benchmarks.bench_readback --withdrawals 60 --pg-port 55439

Writes benchmarks/results/bench_readback.json and a PNG next to it.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from benchmarks.command_line import IntOption, bench_parser
from benchmarks.output import measured, write_results
from benchmarks.plots import labelled_figure
from optinface.consent import ledger_alterations
from optinface.consent.schemas import WithdrawAct
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from tests.support.consent import FakeClock, make_world
from tests.support.postgres import postgres_server
from tests.support.thresholds import TEST_FMR, write_test_thresholds


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": statistics.median(ordered),
            "p90_ms": ordered[int(0.9 * (len(ordered) - 1))], "n": len(ordered)}


def _found_ms(service: OptinFace, rounds: int) -> list[float]:
    """Milliseconds of one :func:`ledger_alterations.found`, each in a write transaction of
    its own, as a withdrawal runs it."""
    samples = []
    for _ in range(rounds):
        with service.runtime.db.transaction() as session:
            started = time.perf_counter()
            ledger_alterations.found(session)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def _withdrawals_ms(service: OptinFace, clock: FakeClock, n: int) -> dict[str, list[float]]:
    """Milliseconds of ``n`` signed withdrawals each way, alternating (before: no read-back)."""
    world = make_world(service, clock)
    samples: dict[str, list[float]] = {"before": [], "after": []}
    for i in range(2 * n):
        pseudonym, consent_id = world.subject(searchable=False)
        world.consent(pseudonym)  # a second consent keeps the subject: no erasure follows
        person = world.signer(pseudonym)
        signed = person.sign(WithdrawAct(consent_id=consent_id))
        way = "before" if i % 2 == 0 else "after"
        skipped = (mock.patch.object(ledger_alterations, "require_held",
                                     lambda *_, **__: None)
                   if way == "before" else nullcontext())
        with skipped:
            started = time.perf_counter()
            service.withdraw_consent(actor=person.actor, subject=pseudonym,
                                     consent_id=consent_id, signed=signed)
            samples[way].append((time.perf_counter() - started) * 1000)
    return samples


@contextmanager
def database(backend: str, pg_port: int | None) -> Iterator[str | None]:
    """No URL (SQLite in the data folder), or a fresh database on a durable PostgreSQL cluster
    started on ``pg_port`` for the block (also ``bench_first_use``'s)."""
    if backend == "sqlite":
        yield None
        return
    assert pg_port is not None
    with postgres_server(pg_port, durable=True) as server:
        yield server.new_database()


def run_backend(backend: str, *, withdrawals: int, rounds: int,
                pg_port: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, database(backend, pg_port) as url:
        settings = ConsentSettings(
            data_dir=Path(folder) / "var", database_url=url, demo_mode=True,
            thresholds_path=write_test_thresholds(Path(folder) / "thresholds.toml"),
            match_fmr=TEST_FMR,
            index_max_elements=64)
        clock = FakeClock(datetime(2027, 3, 1, 12, 0, tzinfo=UTC))
        with closing(OptinFace.open(settings, clock=clock)) as service:
            found = _found_ms(service, rounds)
            ways = _withdrawals_ms(service, clock, withdrawals)
    before, after = _ms(ways["before"]), _ms(ways["after"])
    return {"found": _ms(found), "withdrawal_before": before, "withdrawal_after": after,
            "ratio_after_before": after["median_ms"] / before["median_ms"],
            "samples": {"found": found, **ways}}


def plot(result: dict[str, Any], path: Path) -> None:
    names = [(backend, way) for backend in result["backends"]
             for way in ("before", "after")]
    with labelled_figure(path, title="Signed withdrawal, without and with its read-back",
                         xlabel="", ylabel="ms per withdrawal (service side)") as axes:
        axes.boxplot([result["backends"][backend]["samples"][way] for backend, way in names])
        axes.set_xticks(range(1, len(names) + 1),
                        [f"{backend}\n{'no read-back' if way == 'before' else 'read-back'}"
                         for backend, way in names])


def main() -> None:
    parser = bench_parser(__doc__, IntOption("--withdrawals", 60, "each way, per backend"),
                          IntOption("--rounds", 200, "catalog queries timed"),
                          IntOption("--pg-port", None,
                                    "also on a PostgreSQL cluster started on this port"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    backends = ["sqlite", *(["postgresql"] if args.pg_port else [])]
    result = {**measured(), "withdrawals_each_way": args.withdrawals, "backends": {
        backend: run_backend(backend, withdrawals=args.withdrawals, rounds=args.rounds,
                             pg_port=args.pg_port) for backend in backends}}
    result["machine_after"] = measured()["machine"]
    folder = {} if args.out is None else {"folder": args.out}
    json_path, _ = write_results("bench_readback", result, plot, **folder)
    for backend, figures in result["backends"].items():
        print(f"{backend}: found {figures['found']['median_ms']:.3f} ms; withdrawal"
              f" {figures['withdrawal_before']['median_ms']:.2f} ->"
              f" {figures['withdrawal_after']['median_ms']:.2f} ms"
              f" (x{figures['ratio_after_before']:.3f})")
    print(json_path)


if __name__ == "__main__":
    main()

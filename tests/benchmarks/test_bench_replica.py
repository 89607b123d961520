"""The replica benchmark runs end to end on a small PostgreSQL ledger and reports what it
measured."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_replica import plot, run
from tests.support.server import free_port


def test_replica_benchmark_times_each_check_and_scrubs_every_dropped_template(
    tmp_path: Path,
) -> None:
    result = run(n=300, rounds=3, folder=tmp_path / "data", pg_port=free_port())
    samples = result["samples"]
    assert isinstance(samples, dict)
    assert [len(samples[name]) for name in ("catch_up_ms", "compare_ms", "one_dropped_ms",
                                            "whole_save_ms", "rewound_ms")] == [3, 3, 3, 3, 3]
    assert result["index_entries_after"] == 300 - 3  # each dropped row's vector scrubbed
    plot(result, tmp_path / "replica.png")
    assert (tmp_path / "replica.png").stat().st_size > 0

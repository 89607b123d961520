"""The live replay benchmark runs end to end on a small ledger and reports what it measured."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_live_replay import run


def test_the_live_replay_benchmark_restores_behind_the_service_and_times_the_replay(
    tmp_path: Path,
) -> None:
    result = run(n=200, erasures=3, folder=tmp_path)
    assert result["erasures_replayed"] == 3
    lookups = result["lookup_us"]
    assert isinstance(lookups, dict) and set(lookups) == {"journal_empty",
                                                           "journal_with_erasures"}
    assert isinstance(result["replay_seconds"], float) and result["replay_seconds"] > 0
    assert isinstance(result["start_on_the_copy_seconds"], float)

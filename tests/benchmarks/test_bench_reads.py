"""The reads-during-a-write benchmark runs end to end on a small ledger and reports what it
measured."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_reads import IDLE_CALLS, MODES, plot, run


def test_reads_benchmark_times_health_beside_a_first_sweep_in_both_modes(
    tmp_path: Path,
) -> None:
    result = run(n=300, folder=tmp_path / "data")
    idle = result["idle"]
    assert isinstance(idle, dict) and idle["count"] == IDLE_CALLS
    modes = result["modes"]
    assert isinstance(modes, dict) and set(modes) == set(MODES)
    for mode in MODES:
        measured = modes[mode]
        assert measured["writes"] and 0 < measured["longest_write_transaction_s"]
        calls = measured["during_write"]["count"] + measured["beside_write"]["count"]
        assert calls == len(measured["calls"]) > 0
    plot(result, tmp_path / "reads.png")
    assert (tmp_path / "reads.png").stat().st_size > 0

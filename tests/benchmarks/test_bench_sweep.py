"""The first-sweep benchmark runs end to end on a small ledger and reports what it measured."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_sweep import MODES, run
from tests.support.bench_results import samples_by_mode


def test_sweep_benchmark_times_the_write_transaction_before_and_after_the_read_pass(
    tmp_path: Path,
) -> None:
    samples = samples_by_mode(run(n=300, rounds=1, folder=tmp_path / "data"), MODES)
    [before], [after] = samples["before"], samples["after"]
    assert before["read_pass_reads_s"] == 0 < after["read_pass_reads_s"]
    assert 0 < after["read_pass_longest_read_s"] <= after["read_pass_reads_s"]
    assert all(0 < sample["write_transaction_s"] < sample["sweep_s"]
               for sample in (before, after))

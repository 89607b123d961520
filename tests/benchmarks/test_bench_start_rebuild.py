"""The start-rebuild benchmark runs end to end on a small ledger and reports what it measured."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_start_rebuild import MODES, run
from tests.support.bench_results import samples_by_mode


def test_start_rebuild_benchmark_times_the_lock_a_rebuilding_start_holds_before_and_after(
    tmp_path: Path,
) -> None:
    samples = samples_by_mode(run(n=300, rounds=1, folder=tmp_path / "data"), MODES)
    for mode in MODES:
        [sample] = samples[mode]
        assert sample["re_added"] == 300  # every template put back, either way
        assert 0 < sample["lock_held_s"] < sample["reconcile_s"] < sample["start_s"]

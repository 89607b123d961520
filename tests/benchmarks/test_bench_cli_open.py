"""The opening benchmark times one command, models loaded as it opens or on first use."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_cli_open import COMMANDS, plot, run
from tests.support.bench_results import samples_by_mode


def test_the_opening_benchmark_times_both_modes_and_the_ratio_of_after_to_before(
    tmp_path: Path,
) -> None:
    result = run(rounds=1)
    samples = samples_by_mode(result, list(COMMANDS))
    assert all(len(taken) == 1 and taken[0]["wall"] > 0 and taken[0]["cpu"] > 0
               for taken in samples.values())
    medians = result["median_s"]
    assert isinstance(medians, dict)
    for key in ("wall", "cpu"):
        assert result[f"ratio_after_to_before_{key}"] == round(
            medians["after"][key] / medians["before"][key], 3)
    plot(result, tmp_path / "open.png")
    assert (tmp_path / "open.png").stat().st_size > 0

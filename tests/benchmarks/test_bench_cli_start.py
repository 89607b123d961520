"""The console script's start benchmark times each start in fresh processes and draws it."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_cli_start import STARTS, plot, run


def test_the_start_benchmark_times_every_start_and_the_ratio_against_the_start_before(
    tmp_path: Path,
) -> None:
    result = run(rounds=1)
    medians = result["median_seconds"]
    assert isinstance(medians, dict) and set(medians) == set(STARTS)
    assert all(seconds > 0 for seconds in medians.values())
    assert result["ratio_console_to_before"] == round(
        medians["console"] / medians["console_with_web_app"], 3)
    assert result["ratio_console_to_before_both"] == round(
        medians["console"] / medians["console_with_insightface_and_web_app"], 3)
    plot(result, tmp_path / "start.png")
    assert (tmp_path / "start.png").stat().st_size > 0

"""The console script's start benchmark times each start in fresh processes and draws it."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_cli_start import BEFORE, STARTS, plot, run


def test_the_start_benchmark_times_every_start_and_the_ratio_against_the_start_before(
    tmp_path: Path,
) -> None:
    result = run(rounds=1)
    medians, cpu = result["median_seconds"], result["median_cpu_seconds"]
    assert isinstance(medians, dict) and set(medians) == set(STARTS)
    assert isinstance(cpu, dict) and set(cpu) == set(STARTS)
    assert all(seconds > 0 for seconds in [*medians.values(), *cpu.values()])
    for name, start in BEFORE.items():
        assert result[f"ratio_console_to_{name}"] == round(medians["console"] / medians[start], 3)
        assert result[f"cpu_ratio_console_to_{name}"] == round(cpu["console"] / cpu[start], 3)
    plot(result, tmp_path / "start.png")
    assert (tmp_path / "start.png").stat().st_size > 0

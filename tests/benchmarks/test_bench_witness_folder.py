"""The witness folder benchmark times each mode at each folder size and draws its figure."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_witness_folder import MODES, plot, run


def test_witness_folder_benchmark_times_each_layout_and_each_finds_the_new_checkpoints(
    tmp_path: Path,
) -> None:
    result = run(files=[0, 25], rounds=2, folder=tmp_path / "data")
    rows = result["rows"]
    assert isinstance(rows, list) and [row["files"] for row in rows] == [0, 25]
    assert all(row["median_ms"][mode] > 0 for row in rows for mode in MODES)
    assert sorted(p.name for p in (tmp_path / "data" / "after-25" / "checkpoints").iterdir()) \
        == ["00000000"]
    plot(result, tmp_path / "witness.png")
    assert (tmp_path / "witness.png").stat().st_size > 0

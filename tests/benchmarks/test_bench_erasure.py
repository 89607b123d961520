"""The erasure benchmark runs end to end on a small ledger and reports what it measured."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_erasure import run


def test_erasure_benchmark_erases_and_times_every_chosen_subject(tmp_path: Path) -> None:
    result = run(n=300, erasures=4, folder=tmp_path / "data")
    samples = result["samples"]
    assert isinstance(samples, dict)
    assert len(samples["unsearchable_ms"]) == len(samples["gone_ms"]) == 4
    assert all(0 < first <= last for first, last in zip(
        samples["unsearchable_ms"], samples["gone_ms"], strict=True))
    assert isinstance(result["full_save_seconds"], float) and result["full_save_seconds"] > 0
    assert result["keys_renewed_at_upgrade"] == 300 - 4  # every subject but those erased
    sizes = result["file_bytes"]
    assert isinstance(sizes, dict) and sizes["templates.hnsw"] > 300 * 2048

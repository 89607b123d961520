"""The audit benchmark runs end to end on a small log, verifies it and draws its figure."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_audit import plot, run


def test_audit_benchmark_verifies_a_witnessed_log_and_reports_each_cost(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    result = run(n=250, folder=tmp_path / "data")
    (row,) = result["rows"]  # type: ignore[misc]
    assert row["events"] == 250 and row["checkpoints"] == row["witnessed"] == 2
    assert row["verify_seconds"] > 0 and row["verify_without_key_seconds"] > 0
    assert row["checkpoint_ms"] > 0
    assert row["append_commit_ms"] > 0 and row["append_in_transaction_us"] > 0
    assert row["append_commit_ms_old"] > 0 and row["commitment_ratio"] > 0
    plot(result, tmp_path / "audit.png")
    assert (tmp_path / "audit.png").stat().st_size > 0

"""The audit benchmark runs end to end on a small log, verifies it and draws its figure."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_audit import (
    challenge_witness,
    plot,
    plot_challenge,
    plot_spend,
    run,
    spend_witness,
)
from optinface.engine.pipeline import FacePipeline


def test_audit_benchmark_verifies_a_witnessed_log_and_reports_each_cost(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    result = run(n=250, folder=tmp_path / "data")
    (row,) = result["rows"]  # type: ignore[misc]
    assert row["events"] == 250 and row["checkpoints"] == row["witnessed"] == 2
    assert row["verify_seconds"] > 0 and row["verify_without_key_seconds"] > 0
    assert row["checkpoint_ms"] > 0
    assert row["append_commit_ms"] > 0 and row["append_in_transaction_us"] > 0
    assert row["append_commit_ms_old"] > 0 and row["commitment_ratio"] > 0
    assert row["append_commit_ms_before_seal_roots"] > 0 and row["seal_root_ratio"] > 0
    plot(result, tmp_path / "audit.png")
    assert (tmp_path / "audit.png").stat().st_size > 0


def test_the_spend_witness_benchmark_signs_one_checkpoint_per_identify_after_and_none_before(
    tmp_path: Path, pipeline: FacePipeline,
) -> None:
    result = spend_witness(rounds=2, folder=tmp_path, pipeline=pipeline)
    assert result["checkpoints_witnessed"] == {"before": 0, "after": 2}
    medians = result["median_s"]
    assert isinstance(medians, dict)
    assert all(medians[mode]["identify_seconds"] > 0 for mode in ("before", "after"))
    assert float(result["ratio_after_before"]) > 0  # type: ignore[arg-type]
    plot_spend(result, tmp_path / "identify.png")
    assert (tmp_path / "identify.png").stat().st_size > 0


def test_the_challenge_witness_benchmark_signs_one_checkpoint_per_round_after_and_none_before(
    tmp_path: Path, pipeline: FacePipeline,
) -> None:
    result = challenge_witness(rounds=2, folder=tmp_path, pipeline=pipeline)
    assert result["checkpoints_witnessed"] == {"before": 0, "after": 2}
    ratios = result["ratio_after_before"]
    assert isinstance(ratios, dict) and all(ratio > 0 for ratio in ratios.values())
    plot_challenge(result, tmp_path / "challenge.png")
    assert (tmp_path / "challenge.png").stat().st_size > 0

"""The audit benchmark runs end to end on a small log, verifies it and draws its figure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

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


@pytest.mark.parametrize(("measure", "draw", "timed", "signed", "marked"), [
    (spend_witness, plot_spend, ("identify_seconds",), {"before": 0, "after": 2}, None),
    # Each round answers three challenges (a sign-in, two signed acts): a mark each, but before.
    (challenge_witness, plot_challenge, ("sign_in_seconds", "signed_act_seconds"),
     {"before": 0, "marked": 0, "after": 2}, {"before": 0, "marked": 6, "after": 6}),
], ids=["identify", "challenge"])
def test_each_witness_benchmark_signs_one_checkpoint_per_round_after_and_none_before(
    tmp_path: Path, pipeline: FacePipeline, measure: Callable[..., dict[str, object]],
    draw: Callable[[dict[str, object], Path], None], timed: tuple[str, ...],
    signed: dict[str, int], marked: dict[str, int] | None,
) -> None:
    result = measure(rounds=2, folder=tmp_path, pipeline=pipeline)
    assert result["checkpoints_witnessed"] == signed
    assert result.get("marks_written") == marked
    medians = result["median_s"]
    assert isinstance(medians, dict)
    assert all(medians[mode][what] > 0 for mode in signed for what in timed)
    ratios = [result[name] for name in ("ratio_after_before", "ratio_marked_before")
              if name in result]
    values = [value for ratio in ratios
              for value in (ratio.values() if isinstance(ratio, dict) else [ratio])]
    assert values and all(isinstance(ratio, float) and ratio > 0 for ratio in values)
    draw(result, tmp_path / "witness.png")
    assert (tmp_path / "witness.png").stat().st_size > 0

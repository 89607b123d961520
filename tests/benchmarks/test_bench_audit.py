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


@pytest.mark.parametrize(("measure", "draw", "timed", "marks_a_round"), [
    (spend_witness, plot_spend, ("identify_seconds",), 1),
    # a sign-in and two signed acts a round: three challenges answered
    (challenge_witness, plot_challenge, ("sign_in_seconds", "signed_act_seconds"), 3),
], ids=["identify", "challenge"])
def test_each_witness_benchmark_marks_and_signs_its_spends_as_each_mode_says(
    tmp_path: Path, pipeline: FacePipeline, measure: Callable[..., dict[str, object]],
    draw: Callable[[dict[str, object], Path], None], timed: tuple[str, ...],
    marks_a_round: int,
) -> None:
    """Two rounds: a checkpoint a round ``after`` only; a mark a spent right ``marked`` and
    ``after``, none ``before``."""
    result = measure(rounds=2, folder=tmp_path, pipeline=pipeline)
    assert result["checkpoints_witnessed"] == {"before": 0, "marked": 0, "after": 2}
    assert result["marks_written"] == {"before": 0, "marked": 2 * marks_a_round,
                                       "after": 2 * marks_a_round}
    medians = result["median_s"]
    assert isinstance(medians, dict)
    assert all(medians[mode][what] > 0 for mode in ("before", "marked", "after")
               for what in timed)
    for name in ("ratio_after_before", "ratio_marked_before"):
        ratios = result[name]
        assert isinstance(ratios, dict) and set(ratios) == set(timed)
        assert all(isinstance(ratio, float) and ratio > 0 for ratio in ratios.values())
    draw(result, tmp_path / "witness.png")
    assert (tmp_path / "witness.png").stat().st_size > 0

"""The A/B benchmark of two servers runs end to end (here both from this checkout) and draws
its figure; the figures themselves are evidence for ``benchmarks/README.md``, never asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_api_ab import SIDES, plot, run
from optinface.api.cli.bench import BenchFailed

SOURCE = str(Path(__file__).resolve().parents[2] / "src")


@pytest.mark.slow
def test_ab_bench_times_both_servers_and_the_in_process_side_in_each_round(
    tmp_path: Path,
) -> None:
    result = run(before=SOURCE, after=SOURCE, calls=2, rounds=2)
    assert len(result["rounds"]) == 2
    for row in result["rounds"]:
        for side in SIDES:
            assert row["ratio"][side] > 0 and row["cpu_ms_per_call"][side] > 0
            assert row["auth_ms_p50"][side] > 0  # the guard's Server-Timing stage
        assert row["cpu_ms_per_call"]["in_process"] > 0
    plot(result, tmp_path / "ab.png")
    assert (tmp_path / "ab.png").stat().st_size > 0


@pytest.mark.slow
def test_a_setting_for_the_after_server_reaches_it_alone() -> None:
    # Affinities without their thread count: a server given them refuses to start. The before
    # server starts first: only the after one refusing shows that the setting reached it alone.
    with pytest.raises(BenchFailed, match=r"^after server: (?s:.*)invalid_settings: settings: "
                                          r".*intra_op_affinities"):
        run(before=SOURCE, after=SOURCE, calls=2, rounds=1,
            after_settings={"OPTINFACE_INTRA_OP_AFFINITIES": "1"})

"""The first-use benchmark times each part against its baseline at a tiny size, writes the line
or the last use in the mode that should and in no other, and draws its figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_first_use import (
    ENROL_MODES,
    TOKEN_MODES,
    adoption,
    enrolment_line,
    journal_lines,
    plot_adoption,
    plot_enrolment,
    plot_journal,
    plot_token,
    token_use,
)
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends


def test_the_enrolment_benchmark_journals_a_line_only_for_enrolments_as_served(
    tmp_path: Path, pipeline: FacePipeline,
) -> None:
    result = enrolment_line(rounds=2, folder=tmp_path, pipeline=pipeline)
    assert result["enrolled_lines_written"] == {"before": 0, "after": 2, "line": 2}
    medians = result["median_ms"]
    assert isinstance(medians, dict) and all(medians[mode] > 0 for mode in ENROL_MODES)
    assert isinstance(result["ratio_after_before"], float)
    assert isinstance(result["difference_ms"], float)
    plot_enrolment(result, tmp_path / "enrolment.png")
    assert (tmp_path / "enrolment.png").stat().st_size > 0


@pytest.mark.slow
def test_the_journal_benchmark_reads_each_size_and_reports_time_and_memory_per_subject(
    tmp_path: Path, pipeline: FacePipeline,
) -> None:
    result = journal_lines(lines=[0, 30, 1_200], folder=tmp_path, pipeline=pipeline,
                           starts=1)  # each start loads the models: one a size is enough here
    rows = result["rows"]
    assert isinstance(rows, list) and [row["lines"] for row in rows] == [0, 30, 1_200]
    assert rows[0]["journal_bytes"] == 0 < rows[1]["journal_bytes"] < rows[2]["journal_bytes"]
    assert all(row["first_read_ms"] > 0 and row["start_parse_ms"] > 0 and row["lookup_us"] > 0
               and row["kept_bytes"] > 0 and row["peak_bytes"] >= row["kept_bytes"]
               for row in rows)
    assert all(row["kept_bytes_per_subject"] > 0 and "first_read_us_per_line" in row
               for row in rows[1:])
    assert all(row["start"]["open_ms"] > 0 and row["start"]["journals_parsed"] == 1
               for row in rows[1:])  # a start parses the journal once
    plot_journal(result, tmp_path / "journal.png")
    assert (tmp_path / "journal.png").stat().st_size > 0


@both_backends
def test_the_token_benchmark_writes_the_last_use_on_a_new_day_only(
    tmp_path: Path, pipeline: FacePipeline, database_url: str | None,
) -> None:
    result = token_use(rounds=2, folder=tmp_path, pipeline=pipeline,
                       database_url=database_url)
    assert result["backend"] == ("sqlite" if database_url is None else "postgresql")
    assert result["updates_sent"] == {"first_of_day": 2, "same_day": 0}
    medians = result["median_ms"]
    assert isinstance(medians, dict) and all(medians[mode] > 0 for mode in TOKEN_MODES)
    assert isinstance(result["ratio_first_same"], float)
    plot_token(result, tmp_path / "token.png")
    assert (tmp_path / "token.png").stat().st_size > 0


def test_the_adoption_benchmark_journals_a_line_per_subject_enrolled_before_and_none_later(
    tmp_path: Path, pipeline: FacePipeline,
) -> None:
    result = adoption(subjects=[3, 7], folder=tmp_path, pipeline=pipeline)
    rows = result["rows"]
    assert isinstance(rows, list) and [row["subjects"] for row in rows] == [3, 7]
    line = rows[0]["journal_bytes_added"] / 3
    assert line > 0 and rows[1]["journal_bytes_added"] == 7 * line  # one line each, no more
    assert all(row["adoption_s"] > 0 and row["later_start_ms"] > 0 for row in rows)
    plot_adoption(result, tmp_path / "adoption.png")
    assert (tmp_path / "adoption.png").stat().st_size > 0

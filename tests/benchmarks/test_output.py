"""Every benchmark writes its results through :mod:`benchmarks.output`: one JSON and one PNG of
the same name in one folder, the JSON saying on what machine and when the run was measured."""

from __future__ import annotations

import inspect
import json
from datetime import datetime
from pathlib import Path

import pytest

from benchmarks.output import RESULTS, measured, write_json, write_results
from benchmarks.plots import labelled_figure


def _figure(result: dict[str, object], path: Path) -> None:
    with labelled_figure(path, title=f"{len(result)} fields", xlabel="x", ylabel="y") as axes:
        axes.plot([1, 2], [3, 4])


def test_results_are_a_json_and_a_png_of_one_name_in_a_folder_made_for_them(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "not" / "yet"
    result = {"n_subjects": 3, "ratios": {"after_over_before": 1.5}, "samples": [0.1, 0.2]}
    written, png = write_results("bench_x_3", result, _figure, folder=folder)
    assert (written, png) == (folder / "bench_x_3.json", folder / "bench_x_3.png")
    assert json.loads(written.read_text()) == result
    assert written.read_text().endswith("}\n")  # a text file, as git and editors expect
    assert png.read_bytes().startswith(b"\x89PNG")


def test_the_json_is_written_before_the_figure_is_drawn(tmp_path: Path) -> None:
    def failing(result: dict[str, int], path: Path) -> None:
        assert (tmp_path / "bench_x.json").is_file()  # the numbers are kept whatever the plot
        raise RuntimeError("the plot failed")

    with pytest.raises(RuntimeError, match="the plot failed"):
        write_results("bench_x", {"n": 1}, failing, folder=tmp_path)
    assert json.loads((tmp_path / "bench_x.json").read_text()) == {"n": 1}


def test_a_json_alone_goes_to_the_results_folder_of_this_checkout_by_default() -> None:
    assert RESULTS == Path(__file__).resolve().parents[2] / "benchmarks" / "results"
    for writer in (write_json, write_results):
        assert inspect.signature(writer).parameters["folder"].default is RESULTS


def test_a_result_says_on_what_machine_and_when_it_was_measured() -> None:
    described = measured(load_average_1min=0.5)
    machine = described["machine"]
    assert {"platform", "python", "cpu", "cpus", "load_average"} <= set(machine)
    assert machine["cpus"] >= 1 and machine["load_average_1min"] == 0.5
    assert datetime.fromisoformat(described["measured_at"]).tzinfo is not None
    json.dumps(described)  # JSON-ready as it is

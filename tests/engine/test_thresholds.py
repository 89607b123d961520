"""Matching uses a calibrated threshold or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from optinface.engine.errors import ManifestUnreadable
from optinface.engine.thresholds import NotCalibrated, load_thresholds, threshold_for

CALIBRATION = """
[models.w600k_mbf]
dataset = "LFW deep-funneled, official pairs + all cross-identity pairs"
date = "2026-11-23"
points = [
  { fmr = 1e-3, threshold = 0.30, fnmr = 0.010 },
  { fmr = 1e-4, threshold = 0.36, fnmr = 0.020 },
]
"""


def test_the_threshold_for_a_calibrated_fmr_is_returned_with_its_evidence(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text(CALIBRATION)
    point = threshold_for(path, model_id="w600k_mbf", fmr=1e-4)
    assert (point.threshold, point.fnmr, point.calibrated_on) == (0.36, 0.02, "2026-11-23")
    assert len(load_thresholds(path)) == 2


def test_an_uncalibrated_model_refuses_to_match(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text(CALIBRATION)
    with pytest.raises(NotCalibrated) as refused:
        threshold_for(path, model_id="w600k_r50", fmr=1e-4)
    assert refused.value.code == "not_calibrated"


def test_a_missing_calibration_file_refuses_to_match(tmp_path: Path) -> None:
    with pytest.raises(NotCalibrated):
        threshold_for(tmp_path / "absent.toml", model_id="w600k_mbf", fmr=1e-3)


def test_a_new_calibration_is_read_at_the_next_match(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text(CALIBRATION)
    assert threshold_for(path, model_id="w600k_mbf", fmr=1e-4).threshold == 0.36
    path.write_text(CALIBRATION.replace("threshold = 0.36", "threshold = 0.415"))
    assert threshold_for(path, model_id="w600k_mbf", fmr=1e-4).threshold == 0.415
    path.unlink()
    with pytest.raises(NotCalibrated):
        threshold_for(path, model_id="w600k_mbf", fmr=1e-4)


@pytest.mark.parametrize("written", [
    None,  # a folder
    "models = 5",  # TOML, but not what calibrate.py writes: an AttributeError
    "[models.w600k_mbf]\npoints = [{ fmr = 1e-4 }]",  # a point without its threshold
])
def test_what_is_not_a_thresholds_file_is_unreadable_not_uncalibrated(
        tmp_path: Path, written: str | None) -> None:
    """A folder was taken for no calibration, and a TOML file of another shape raised Python's
    own error: each is the file's problem, said as such."""
    path = tmp_path / "thresholds.toml"
    if written is None:
        path.mkdir()
    else:
        path.write_text(written)
    with pytest.raises(ManifestUnreadable, match=f"^thresholds file {path} is not"):
        load_thresholds(path)

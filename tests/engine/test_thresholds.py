"""Matching uses a calibrated threshold or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from optinface.engine.errors import ManifestUnreadable
from optinface.engine.settings import DEFAULT_THRESHOLDS
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


def _points(*points: str) -> str:
    return ('[models.w600k_mbf]\ndataset = "x"\ndate = "2026-11-23"\n'
            f"points = [{', '.join(points)}]\n")


@pytest.mark.parametrize(("written", "said"), [
    pytest.param(_points("{ fmr = 1e-3, threshold = 0.233, fnmr = 0.001 }",
                         "{ fmr = 1e-4, threshold = -0.5, fnmr = 0.002 }"),
                 "threshold -0.5 at false-match rate 0.0001 is not above 0.233 at 0.001",
                 id="red-team-4-not-monotone"),
    pytest.param(_points("{ fmr = 1e-3, threshold = 0.3, fnmr = 0.001 }",
                         "{ fmr = 1e-4, threshold = 0.3, fnmr = 0.002 }"),
                 "threshold 0.3 at false-match rate 0.0001 is not above 0.3 at 0.001",
                 id="equal-thresholds"),
    pytest.param(_points("{ fmr = 1e-4, threshold = 0.3, fnmr = 0.001 }",
                         "{ fmr = 1e-4, threshold = 0.4, fnmr = 0.002 }"),
                 "threshold 0.4 at false-match rate 0.0001 is not above 0.3 at 0.0001",
                 id="one-rate-twice"),
    pytest.param(_points("{ fmr = 1e-4, threshold = -1.5, fnmr = 0.001 }"),
                 "threshold -1.5 is not a cosine in [-1, 1]", id="below-any-cosine"),
    pytest.param(_points("{ fmr = 1e-4, threshold = 1.01, fnmr = 0.001 }"),
                 "threshold 1.01 is not a cosine in [-1, 1]", id="above-any-cosine"),
    pytest.param(_points("{ fmr = 1e-4, threshold = nan, fnmr = 0.001 }"),
                 "threshold nan is not a cosine in [-1, 1]", id="nan"),
    pytest.param(_points("{ fmr = 0.0, threshold = 0.3, fnmr = 0.001 }"),
                 "false-match rate 0.0 is not in (0, 1)", id="no-false-match-ever"),
    pytest.param(_points("{ fmr = 1.0, threshold = 0.3, fnmr = 0.001 }"),
                 "false-match rate 1.0 is not in (0, 1)", id="every-stranger"),
    pytest.param(_points("{ fmr = 1e-4, threshold = 0.3, fnmr = 1.5 }"),
                 "false non-match rate 1.5 is not in [0, 1]", id="fnmr-over-one"),
])
def test_figures_no_calibration_gives_are_unreadable(
        tmp_path: Path, written: str, said: str) -> None:
    """Red team 4, finding 4: a threshold is a cosine, a false-match rate a rate strictly
    between 0 and 1, and a lower rate needs a strictly higher threshold; a file stating
    otherwise is refused as the file's problem, as an unreadable one is, never used."""
    path = tmp_path / "thresholds.toml"
    path.write_text(written)
    with pytest.raises(ManifestUnreadable) as refused:
        load_thresholds(path)
    assert str(refused.value) == (f"thresholds file {path} is not a calibration: model"
                                  f" w600k_mbf: {said}")
    assert refused.value.code == "manifest_unreadable"


def test_the_packaged_calibration_is_one() -> None:
    """The LFW calibration the package ships passes the loader's checks, both its points."""
    points = load_thresholds(DEFAULT_THRESHOLDS)
    assert [(p.fmr, p.threshold > 0) for p in points] == [(1e-3, True), (1e-4, True)]

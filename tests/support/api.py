"""Deployments for the API tests: settings that do not throttle, and the files they need.

``settings_for_tests`` uses ``models/thresholds.toml`` when the calibration has been run, and
otherwise writes a test threshold file (0.36 at FMR 1e-4: in the usual range of ArcFace
MobileFaceNet, but a test fixture, not a calibration).
"""

from __future__ import annotations

from pathlib import Path

from optinface.api.settings import ApiSettings
from optinface.engine.settings import DEFAULT_THRESHOLDS

TEST_FMR = 1e-4


def write_test_thresholds(path: Path) -> Path:
    path.write_text(
        "[models.w600k_mbf]\n"
        'dataset = "test fixture, not a calibration"\n'
        'date = "2027-01-01"\n'
        f"points = [{{ fmr = {TEST_FMR}, threshold = 0.36, fnmr = 0.02 }}]\n"
    )
    return path


def thresholds_for_tests(tmp_path: Path) -> Path:
    if DEFAULT_THRESHOLDS.is_file():
        return DEFAULT_THRESHOLDS
    return write_test_thresholds(tmp_path / "thresholds.toml")


def settings_for_tests(data_root: Path, **overrides: object) -> ApiSettings:
    """Generous rate limits so functional tests are not throttled (limits have their own tests)."""
    values: dict[str, object] = {
        "data_dir": data_root / "var",
        "thresholds_path": thresholds_for_tests(data_root),
        "match_fmr": TEST_FMR,
        "rate_per_second": 10_000,
        "rate_burst": 10_000,
        "identify_daily_quota": 10_000,
        **overrides,
    }
    return ApiSettings(**values)  # type: ignore[arg-type]

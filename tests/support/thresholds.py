"""The tests' own threshold file: not a calibration.

models/thresholds.toml comes from the LFW calibration, which the tests must not depend on.
0.36 is in the usual range of ArcFace MobileFaceNet at FMR 1e-4.
"""

from __future__ import annotations

from pathlib import Path

TEST_THRESHOLD = 0.36
TEST_FMR = 1e-4


def write_test_thresholds(path: Path) -> Path:
    """Write the test threshold file (one point: :data:`TEST_THRESHOLD` at :data:`TEST_FMR`)."""
    path.write_text(
        "[models.w600k_mbf]\n"
        'dataset = "test fixture, not a calibration"\n'
        'date = "2027-01-01"\n'
        f"points = [{{ fmr = {TEST_FMR}, threshold = {TEST_THRESHOLD}, fnmr = 0.02 }}]\n"
    )
    return path

"""The tests' own threshold file: not a calibration.

models/thresholds.toml comes from the LFW calibration, which the tests must not depend on.
0.36 is in the usual range of ArcFace MobileFaceNet at FMR 1e-4.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

TEST_THRESHOLD = 0.36
TEST_FMR = 1e-4
TEST_FNMR = 0.02
TEST_DATASET = "test fixture, not a calibration"
TEST_DATE = "2027-01-01"


def write_test_thresholds(
    path: Path, *, points: Sequence[tuple[float, float]] = ((TEST_FMR, TEST_THRESHOLD),),
    date: str = TEST_DATE,
) -> Path:
    """Write the test threshold file: by default one point, :data:`TEST_THRESHOLD` at
    :data:`TEST_FMR`; else each ``(fmr, threshold)`` of ``points``, all at :data:`TEST_FNMR`,
    calibrated on ``date`` (a new calibration is a new date)."""
    written = ", ".join(f"{{ fmr = {fmr}, threshold = {threshold}, fnmr = {TEST_FNMR} }}"
                        for fmr, threshold in points)
    path.write_text(
        "[models.w600k_mbf]\n"
        f'dataset = "{TEST_DATASET}"\n'
        f'date = "{date}"\n'
        f"points = [{written}]\n"
    )
    return path

"""Fixtures of the reliability tests.

The declared world, the keys per role and the app come from ``tests/api/conftest.py`` (imported,
not copied); only the settings are ours: a 64-slot index (a 10k-slot file is 20 MB to write on
every enrolment) and generous limits. Each test writes its figures as JSON into
``$OPTINFACE_RELIABILITY_OUT`` (default: a temporary folder) for ``benchmarks/reliability_report``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from optinface.api.settings import ApiSettings
from tests.api.conftest import (  # noqa: F401 (fixtures re-exported for this folder)
    TEST_FMR,
    client,
    keys,
    service,
    thresholds_for_tests,
    world,
)

OUT_ENV = "OPTINFACE_RELIABILITY_OUT"


def reliability_settings(tmp_path: Path, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "thresholds_path": thresholds_for_tests(tmp_path),
        "match_fmr": TEST_FMR,
        "rate_per_second": 10_000,
        "rate_burst": 10_000,
        "identify_daily_quota": 10_000,
        "index_max_elements": 64,
    }
    values.update(overrides)
    return ApiSettings(**values)


@pytest.fixture
def api_settings(tmp_path: Path) -> ApiSettings:
    return reliability_settings(tmp_path)


def out_dir() -> Path:
    folder = Path(os.environ.get(OUT_ENV) or Path(tempfile.gettempdir()) / "optinface-reliability")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def record(name: str, figures: dict[str, Any]) -> None:
    """Merge ``figures`` into ``<out>/<name>.json`` (read by benchmarks/reliability_report.py)."""
    path = out_dir() / f"{name}.json"
    current = json.loads(path.read_text()) if path.is_file() else {}
    current.update(figures)
    path.write_text(json.dumps(current, indent=2, sort_keys=True, default=str))


def data_snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

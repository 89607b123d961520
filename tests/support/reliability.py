"""What the reliability tests share: their settings and the figures they record.

Each test writes its figures as JSON into ``$OPTINFACE_RELIABILITY_OUT`` (default: a temporary
folder) for ``benchmarks/reliability_report``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from optinface.api.settings import ApiSettings
from tests.support.api import settings_for_tests

OUT_ENV = "OPTINFACE_RELIABILITY_OUT"


def reliability_settings(tmp_path: Path, **overrides: Any) -> ApiSettings:
    """The API tests' settings with a 64-slot index: a 10k-slot file is 20 MB to write on
    every enrolment."""
    return settings_for_tests(tmp_path, **{"index_max_elements": 64, **overrides})


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

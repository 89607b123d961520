"""Calibrated match thresholds, per model, written by ``benchmarks/calibrate.py``.

A ``match`` must come with how often it is wrong: each entry states the false-match rate its
threshold was calibrated for, on which data set, when, and the false non-match rate measured
there. A model with no entry has no honest threshold, so matching with it is refused.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from optinface.engine.errors import EngineError, ManifestUnreadable

NOT_CALIBRATED = ("model {model_id} has no calibrated threshold at FMR {fmr};"
                  " run benchmarks/calibrate.py")
"""The refusal's words (an English source string: the dashboard quotes it in its warning)."""


class NotCalibrated(EngineError):
    """No calibrated threshold exists for this model at the requested false-match rate."""

    code = "not_calibrated"


@dataclass(frozen=True, slots=True)
class Threshold:
    """A cosine threshold (match if score >= threshold) and the evidence behind it."""

    model_id: str
    fmr: float
    threshold: float
    fnmr: float
    dataset: str
    calibrated_on: str


def load_thresholds(path: Path) -> list[Threshold]:
    """Every calibrated threshold in ``thresholds.toml`` (none if the file is absent).

    Every match asks for its threshold, so a parse is kept for as long as the file's identity,
    size and modification time are unchanged: a new calibration is still read at the next match,
    and a request no longer pays a TOML parse (0.2-0.5 ms on 2 busy cores).

    Raises:
        ManifestUnreadable: the path holds something that is not a thresholds file (a folder,
            a device, a file that is not TOML or not shaped as calibrate.py writes it).
    """
    try:
        status = path.stat()
    except OSError:
        return []
    if not S_ISREG(status.st_mode):  # never opened: a FIFO or /dev/zero would hang the read
        raise ManifestUnreadable(f"thresholds file {path} is not a file")
    return list(_parsed(path, status.st_ino, status.st_size, status.st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _parsed(path: Path, _inode: int, _size: int, _mtime_ns: int) -> tuple[Threshold, ...]:
    """The file's thresholds; the stat fields only key the cache."""
    try:
        with path.open("rb") as stream:
            raw = tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ManifestUnreadable(f"thresholds file {path} cannot be read: {error}") from error
    try:
        return tuple(
            Threshold(
                model_id=model_id,
                fmr=float(point["fmr"]),
                threshold=float(point["threshold"]),
                fnmr=float(point["fnmr"]),
                dataset=str(entry["dataset"]),
                calibrated_on=str(entry["date"]),
            )
            for model_id, entry in raw.get("models", {}).items()
            for point in entry.get("points", [])
        )
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise ManifestUnreadable(f"thresholds file {path} is not shaped as calibrate.py writes"
                                 f" it: {type(error).__name__} {error}") from error


def threshold_for(path: Path, *, model_id: str, fmr: float) -> Threshold:
    """The calibrated threshold for ``model_id`` at ``fmr``, or :class:`NotCalibrated`."""
    for candidate in load_thresholds(path):
        if candidate.model_id == model_id and abs(candidate.fmr - fmr) <= fmr * 1e-6:
            return candidate
    raise NotCalibrated(
        NOT_CALIBRATED.format(model_id=model_id, fmr=f"{fmr:g}"),
        details={"model_id": model_id, "fmr": fmr},
    )

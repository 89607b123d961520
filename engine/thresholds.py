"""Calibrated match thresholds, per model, written by ``benchmarks/calibrate.py``.

A ``match`` must come with how often it is wrong: each entry states the false-match rate its
threshold was calibrated for, on which data set, when, and the false non-match rate measured
there. A model with no entry has no honest threshold, so matching with it is refused.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from optinface.engine.documents import toml_file
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
            a device, a file that is not TOML or not shaped as calibrate.py writes it), or
            figures no calibration gives (:func:`calibration_problem`).
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
    raw = toml_file(path, "thresholds file")
    try:
        thresholds = tuple(
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
    problem = calibration_problem(thresholds)
    if problem is not None:
        raise ManifestUnreadable(f"thresholds file {path} is not a calibration: {problem}")
    return thresholds


def calibration_problem(thresholds: Sequence[Threshold]) -> str | None:
    """Why ``thresholds`` cannot be a calibration of cosine scores, or None.

    A threshold is a cosine similarity, in [-1, 1]; a false-match rate is in (0, 1) and a false
    non-match rate in [0, 1]; and a lower false-match rate needs a strictly higher threshold,
    per model. Without this, a file stating ``fmr = 0.0001, threshold = -0.5`` started fine and,
    once declared, made every stranger a candidate under a rate it never had (red team 4,
    finding 4). NaN fails every range.
    """
    for t in thresholds:
        if not -1.0 <= t.threshold <= 1.0:
            return f"model {t.model_id}: threshold {t.threshold} is not a cosine in [-1, 1]"
        if not 0.0 < t.fmr < 1.0:
            return f"model {t.model_id}: false-match rate {t.fmr} is not in (0, 1)"
        if not 0.0 <= t.fnmr <= 1.0:
            return f"model {t.model_id}: false non-match rate {t.fnmr} is not in [0, 1]"
    for model_id in {t.model_id for t in thresholds}:
        ordered = sorted((t for t in thresholds if t.model_id == model_id),
                         key=lambda t: -t.fmr)
        for looser, stricter in itertools.pairwise(ordered):
            if not (stricter.fmr < looser.fmr and stricter.threshold > looser.threshold):
                return (f"model {model_id}: threshold {stricter.threshold} at false-match rate"
                        f" {stricter.fmr} is not above {looser.threshold} at {looser.fmr}")
    return None


def threshold_for(path: Path, *, model_id: str, fmr: float) -> Threshold:
    """The calibrated threshold for ``model_id`` at ``fmr``, or :class:`NotCalibrated`."""
    for candidate in load_thresholds(path):
        if candidate.model_id == model_id and abs(candidate.fmr - fmr) <= fmr * 1e-6:
            return candidate
    raise NotCalibrated(
        NOT_CALIBRATED.format(model_id=model_id, fmr=f"{fmr:g}"),
        details={"model_id": model_id, "fmr": fmr},
    )

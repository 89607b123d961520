"""Calibrate the service's match thresholds on LFW and write ``models/thresholds.toml``.

The service answers ``match`` only with a threshold whose false-match rate was measured: this
script measures it. On every different-person pair that can be formed from LFW (~87M) it finds
the cosine threshold at each target FMR (:func:`benchmarks.metrics.threshold_for_fmr`) and, on
every same-person pair (~242k), the FNMR paid for it.

Only pairs in which both faces were found are used for calibration: the service refuses an
image without a face instead of comparing it, so such pairs never meet the threshold. (The
evaluation, ``benchmarks/eval_lfw.py``, counts them as non-matches instead, and reports how many.)

Usage::

    python -m benchmarks.calibrate [--lfw PATH] [--thresholds models/thresholds.toml]

Writes (merges) the entry of the pipeline's recognizer in ``--thresholds`` and
``benchmarks/results/calibration.json``. LFW: see ``benchmarks.lfw.CITATION``.
"""

from __future__ import annotations

import datetime
import logging
import os
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tomli_w

from benchmarks.lfw import CITATION, lfw_parser
from benchmarks.metrics import fmr_at_threshold, fnmr_at_threshold, threshold_for_fmr
from benchmarks.output import RESULTS, write_json
from benchmarks.scores import Corpus, PairScores, all_pair_scores, load_corpus
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import DEFAULT_THRESHOLDS, EngineSettings

logger = logging.getLogger(__name__)

FMRS = (1e-3, 1e-4)
HEADER = (
    "# Calibrated match thresholds (score >= threshold means match), per recognizer model.\n"
    "# Written by `python -m benchmarks.calibrate`; do not edit by hand: re-run it.\n\n"
)


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    """One operating point of the service.

    Attributes:
        fmr: Target false-match rate.
        threshold: Lowest observed impostor score whose FMR is ``<= fmr``.
        fnmr: False non-match rate at ``threshold`` over the genuine pairs with both faces found.
        achieved_fmr: FMR actually obtained at ``threshold`` (``<= fmr``).
        fnmr_with_failures: FNMR when the genuine pairs with a face missing count as misses.
    """

    fmr: float
    threshold: float
    fnmr: float
    achieved_fmr: float
    fnmr_with_failures: float


def calibration_points(scores: PairScores, fmrs: Sequence[float] = FMRS) -> list[CalibrationPoint]:
    """The threshold and its FNMR at each target FMR, from the pairs with both faces found.

    Raises:
        ValueError: If a target FMR is not estimable from the number of impostor pairs.
    """
    points = []
    for fmr in fmrs:
        threshold = threshold_for_fmr(scores.impostor_found, fmr)
        points.append(
            CalibrationPoint(
                fmr=fmr,
                threshold=threshold,
                fnmr=fnmr_at_threshold(scores.genuine_found, threshold),
                achieved_fmr=fmr_at_threshold(scores.impostor_found, threshold),
                fnmr_with_failures=fnmr_at_threshold(scores.genuine, threshold),
            )
        )
    return points


def dataset_description(corpus: Corpus, scores: PairScores, *, name: str) -> str:
    """One line saying which pairs the thresholds were measured on."""
    return (
        f"{name}: all pairs of its {len(corpus.paths):,} images of {len(corpus.names):,} people "
        f"in which a face was found ({corpus.failures} images without one left out): "
        f"{scores.impostor_found.size:,} different-person and "
        f"{scores.genuine_found.size:,} same-person pairs"
    )


def write_thresholds(
    path: Path, *, model_id: str, dataset: str, date: str, points: Sequence[CalibrationPoint]
) -> None:
    """Replace ``model_id``'s entry in the thresholds file, keeping the other models' entries.

    The file is written to a temporary sibling and renamed, so the service never reads half of it.
    """
    document: dict[str, Any] = {}
    if path.is_file():
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    document.setdefault("models", {})[model_id] = {
        "dataset": dataset,
        "date": date,
        "points": [
            {"fmr": point.fmr, "threshold": point.threshold, "fnmr": point.fnmr}
            for point in points
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(HEADER + tomli_w.dumps(document))
    os.replace(temporary, path)


def calibrate(
    pipeline: FacePipeline,
    root: Path,
    *,
    thresholds_path: Path,
    fmrs: Sequence[float] = FMRS,
    use_cache: bool = True,
    dataset_name: str = "LFW deep-funneled",
) -> dict[str, Any]:
    """Embed ``root``, calibrate, write ``thresholds_path``; return the report as a dict."""
    corpus = load_corpus(pipeline, root, use_cache=use_cache)
    scores = all_pair_scores(corpus)
    points = calibration_points(scores, fmrs)
    dataset = dataset_description(corpus, scores, name=dataset_name)
    date = datetime.date.today().isoformat()
    write_thresholds(
        thresholds_path, model_id=pipeline.model_id, dataset=dataset, date=date, points=points
    )
    for point in points:
        logger.info(
            "FMR %g: threshold %.4f, FNMR %.4f", point.fmr, point.threshold, point.fnmr
        )
    return {
        "model_id": pipeline.model_id,
        "models": sorted(pipeline.models),
        "dataset": dataset,
        "date": date,
        "images": len(corpus.paths),
        "people": len(corpus.names),
        "images_without_face": corpus.failures,
        "genuine_pairs": int(scores.genuine.size),
        "impostor_pairs": int(scores.impostor.size),
        "genuine_pairs_with_failure": scores.genuine_failed,
        "impostor_pairs_with_failure": scores.impostor_failed,
        "points": [asdict(point) for point in points],
        "thresholds_file": _shown(thresholds_path),
        "citation": CITATION,
    }


def _shown(path: Path) -> str:
    """The path relative to the working directory when it lies below it (no home paths in JSON)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return path.name


def main(argv: Sequence[str] | None = None) -> None:
    parser = lfw_parser("benchmarks.calibrate", __doc__)
    parser.add_argument(
        "--thresholds", type=Path, default=DEFAULT_THRESHOLDS, help="thresholds file to merge into"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for calibration.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    pipeline = FacePipeline.from_settings(EngineSettings())
    report = calibrate(
        pipeline, args.lfw, thresholds_path=args.thresholds, use_cache=not args.no_cache
    )
    written = write_json("calibration", report, folder=args.out)
    logger.info("wrote %s and %s", args.thresholds, written)


if __name__ == "__main__":
    main()

"""Accuracy of the pipeline on LFW: 1:1 verification and 1:N identification, as the service runs.

Every one of the 13,233 images is embedded once, exactly as the service embeds an upload (the
face nearest the centre when there are several). An image with no face found has no template:
each pair or search involving it counts as a failure (score -1, a non-match / a miss), and the
report says how many there were.

Verification (1:1)
    * the standard LFW protocol on the official 6,000 pairs: threshold chosen on 9 folds,
      accuracy on the 10th (mean +- std over the 10 folds), compared with the published figure;
    * ROC, DET, EER and TAR at FAR 1e-3 / 1e-4, both on the official pairs and on every pair
      that can be formed from all images (~242k same-person, ~87M different-person pairs).

Identification (1:N)
    * closed set: gallery = the first image of each of the 1,680 people with >= 2 images plus
      the 4,069 single-image people as distractors; probes = the 7,484 other images; rank-1,
      rank-5 and the CMC curve;
    * open set: gallery = the 1,680 first images only; mated searches = the 7,484 probes,
      non-mated searches = the 4,069 single-image people; FNIR at FPIR 1e-2 and 1e-3;
    * both with an exact numpy search and with the HNSW index the service uses.

Usage::

    python -m benchmarks.eval_lfw [--lfw PATH] [--out benchmarks/results] [--no-cache]
                                  [--det-sizes 160 256 320 480 640]

Writes ``eval_lfw.json`` (every figure), ``eval_lfw.md`` (summary) and the plots
``eval_lfw_{roc,det,scores,cmc}.png`` to ``--out``. LFW: see ``benchmarks.lfw.CITATION``.
"""

from __future__ import annotations

import datetime
import logging
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from benchmarks.calibrate import FMRS, calibration_points
from benchmarks.lfw import CITATION, lfw_parser, read_pairs
from benchmarks.metrics import (
    cmc_curve,
    det_curve,
    equal_error_rate,
    fnir_at_fpir,
    identification_rate,
    kfold_accuracy,
    rank_of_true_match,
    roc_curve,
    tar_at_far,
)
from benchmarks.output import RESULTS, write_json
from benchmarks.plots import plot_cmc, plot_det, plot_roc, plot_score_histograms
from benchmarks.scores import FAILED_SCORE, Corpus, all_pair_scores, load_corpus, pair_scores
from optinface.engine.index import HnswIndex
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings

logger = logging.getLogger(__name__)

# InsightFace model zoo, buffalo_s recognizer (MBF trained on WebFace600K): LFW 99.70 %.
PUBLISHED_ACCURACY = 0.9970
PUBLISHED_SOURCE = "InsightFace model zoo, buffalo_s (MBF@WebFace600K): LFW 99.70%"
TARGET_GAP = 0.002
FARS_OFFICIAL = (1e-2, 1e-3, 1e-4)
FARS_ALL_PAIRS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
FPIRS = (1e-2, 1e-3)
TOP_K = 10
HIGHEST = 10  # how many of the highest non-match scores the report lists


# --- 1:1 verification --------------------------------------------------------------------------


def verification_official(corpus: Corpus, root: Path) -> tuple[dict[str, Any], Any]:
    """The LFW 10-fold protocol and error rates on the official pairs; also the ROC curve."""
    pairs = read_pairs(root)
    scores = pair_scores(corpus, pairs)
    same = np.asarray([pair.same for pair in pairs])
    folds = np.asarray([pair.fold for pair in pairs], dtype=np.int64)
    where = corpus.index_of()
    found = corpus.found
    failed = np.asarray(
        [not (found[where[pair.first]] and found[where[pair.second]]) for pair in pairs]
    )
    kfold = kfold_accuracy(scores, same, folds=folds)
    genuine, impostor = scores[same], scores[~same]
    roc = roc_curve(genuine, impostor)
    report = {
        "pairs": len(pairs),
        "genuine_pairs": int(same.sum()),
        "impostor_pairs": int((~same).sum()),
        "pairs_with_failure": int(failed.sum()),
        "genuine_pairs_with_failure": int((failed & same).sum()),
        "impostor_pairs_with_failure": int((failed & ~same).sum()),
        "kfold": kfold.as_dict(),
        "accuracy_percent": round(100 * kfold.mean, 3),
        "std_percent": round(100 * kfold.std, 3),
        "published_accuracy_percent": round(100 * PUBLISHED_ACCURACY, 2),
        "published_source": PUBLISHED_SOURCE,
        "difference_points": round(100 * (kfold.mean - PUBLISHED_ACCURACY), 3),
        "within_target": bool(abs(kfold.mean - PUBLISHED_ACCURACY) <= TARGET_GAP),
        "eer": equal_error_rate(genuine, impostor).as_dict(),
        "tar_at_far": [tar_at_far(genuine, impostor, far=far).as_dict() for far in FARS_OFFICIAL],
    }
    curves = {"roc": roc, "det": det_curve(genuine, impostor)}
    return report, curves


def verification_all_pairs(scores: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Error rates over every same-person and every different-person pair of the images."""
    genuine, impostor = scores.genuine, scores.impostor
    report = {
        "genuine_pairs": int(genuine.size),
        "impostor_pairs": int(impostor.size),
        "genuine_pairs_with_failure": scores.genuine_failed,
        "impostor_pairs_with_failure": scores.impostor_failed,
        "seconds_to_score": round(scores.seconds, 2),
        # The sorted tail: where FAR 1e-6 (87 pairs) sits, and how far above the bulk it is.
        "highest_impostor_scores": [round(float(v), 4) for v in impostor[::-1][:HIGHEST]],
        "eer": equal_error_rate(genuine, impostor).as_dict(),
        "tar_at_far": [tar_at_far(genuine, impostor, far=far).as_dict() for far in FARS_ALL_PAIRS],
    }
    curves = {"roc": roc_curve(genuine, impostor), "det": det_curve(genuine, impostor)}
    return report, curves


# --- 1:N identification ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Protocol:
    """Image positions (into the corpus) of the identification sets."""

    enrolled: NDArray[np.int64]  # first image of each person with >= 2 images
    probes: NDArray[np.int64]  # their other images (mated searches)
    distractors: NDArray[np.int64]  # the only image of each single-image person


def identification_protocol(corpus: Corpus) -> Protocol:
    """Split the corpus as the LFW identification protocol of this benchmark does."""
    enrolled: list[int] = []
    probes: list[int] = []
    distractors: list[int] = []
    starts = np.flatnonzero(np.r_[True, corpus.identities[1:] != corpus.identities[:-1]])
    stops = np.r_[starts[1:], len(corpus.identities)]
    for start, stop in zip(starts, stops, strict=True):
        if stop - start == 1:
            distractors.append(int(start))
        else:
            enrolled.append(int(start))
            probes.extend(range(start + 1, stop))
    return Protocol(*(np.asarray(part, dtype=np.int64) for part in (enrolled, probes, distractors)))


@dataclass(frozen=True, slots=True, eq=False)
class Searches:
    """Top-k identities and rank-1 score per probe (``-1`` / ``FAILED_SCORE`` where no face)."""

    candidates: NDArray[np.int64]
    top_scores: NDArray[np.float32]
    seconds: float
    backend: str


class ExactSearch:
    """Brute-force cosine search with numpy: the ground truth for the index."""

    name = "exact"
    backend = "numpy float32 matmul"

    def __init__(self, vectors: NDArray[np.float32], **_: Any) -> None:
        self._vectors = vectors

    def search(self, probes: NDArray[np.float32], k: int) -> tuple[NDArray, NDArray]:
        scores = probes @ self._vectors.T
        k = min(k, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order, axis=1)


class IndexSearch:
    """The service's HNSW index (``engine.index.HnswIndex``), one query at a time as it runs."""

    name = "hnsw"

    def __init__(self, vectors: NDArray[np.float32], *, settings: EngineSettings) -> None:
        parameters = {
            "dim": vectors.shape[1],
            "m": settings.index_m,
            "ef_construction": settings.index_ef_construction,
            "ef_search": settings.index_ef_search,
            "max_elements": max(len(vectors), 16),
        }
        self.backend = "optinface.engine.index.HnswIndex"
        self._index = HnswIndex(**parameters)
        self._count = len(vectors)
        self._index.add(list(range(len(vectors))), vectors)

    def search(self, probes: NDArray[np.float32], k: int) -> tuple[NDArray, NDArray]:
        k = min(k, self._count)
        labels = np.full((len(probes), k), -1, dtype=np.int64)
        scores = np.full((len(probes), k), FAILED_SCORE, dtype=np.float32)
        for row, vector in enumerate(probes):
            for column, hit in enumerate(self._index.search(vector, k)):
                labels[row, column], scores[row, column] = hit.label, hit.score
        return labels, scores


def run_searches(
    corpus: Corpus,
    *,
    gallery: NDArray[np.int64],
    probes: NDArray[np.int64],
    method: type[ExactSearch] | type[IndexSearch],
    settings: EngineSettings,
    k: int = TOP_K,
) -> Searches:
    """Enrol the gallery images that have a face, search every probe that has one."""
    found = corpus.found
    enrolled = gallery[found[gallery]]
    started = time.perf_counter()
    searcher = method(corpus.vectors[enrolled], settings=settings)
    searchable = found[probes]
    labels, scores = searcher.search(corpus.vectors[probes[searchable]], k)
    seconds = time.perf_counter() - started
    candidates = np.full((len(probes), k), -1, dtype=np.int64)
    identities = np.where(labels >= 0, corpus.identities[enrolled][np.maximum(labels, 0)], -1)
    candidates[searchable, : identities.shape[1]] = identities
    top_scores = np.full(len(probes), FAILED_SCORE, dtype=np.float32)
    top_scores[searchable] = scores[:, 0]
    return Searches(
        candidates=candidates, top_scores=top_scores, seconds=seconds, backend=searcher.backend
    )


def identification(
    corpus: Corpus, *, settings: EngineSettings, k: int = TOP_K
) -> tuple[dict[str, Any], dict[str, NDArray[np.float64]]]:
    """Closed-set CMC and open-set FNIR@FPIR, exact and with the index, and their difference."""
    protocol = identification_protocol(corpus)
    found = corpus.found
    truth = corpus.identities[protocol.probes]
    closed_gallery = np.sort(np.concatenate([protocol.enrolled, protocol.distractors]))
    report: dict[str, Any] = {
        "enrolled_people": int(protocol.enrolled.size),
        "distractors": int(protocol.distractors.size),
        "closed_set_gallery": int(closed_gallery.size),
        "mated_probes": int(protocol.probes.size),
        "nonmated_probes": int(protocol.distractors.size),
        "gallery_images_without_face": int((~found[closed_gallery]).sum()),
        "mated_probes_without_face": int((~found[protocol.probes]).sum()),
        "nonmated_probes_without_face": int((~found[protocol.distractors]).sum()),
        "k": k,
    }
    curves: dict[str, NDArray[np.float64]] = {}
    runs: dict[str, dict[str, Any]] = {}
    for method in (ExactSearch, IndexSearch):
        closed = run_searches(
            corpus, gallery=closed_gallery, probes=protocol.probes, method=method,
            settings=settings, k=k,
        )
        ranks = rank_of_true_match(closed.candidates, truth)
        mated = run_searches(
            corpus, gallery=protocol.enrolled, probes=protocol.probes, method=method,
            settings=settings, k=k,
        )
        nonmated = run_searches(
            corpus, gallery=protocol.enrolled, probes=protocol.distractors, method=method,
            settings=settings, k=k,
        )
        curves[method.name] = cmc_curve(ranks, k)
        runs[method.name] = {
            "rank_1": identification_rate(ranks, 1),
            "rank_5": identification_rate(ranks, 5),
            "cmc": curves[method.name].tolist(),
            "fnir_at_fpir": [
                fnir_at_fpir(
                    mated_top_scores=mated.top_scores,
                    mated_correct=mated.candidates[:, 0] == truth,
                    nonmated_top_scores=nonmated.top_scores,
                    fpir=fpir,
                ).as_dict()
                for fpir in FPIRS
            ],
            "backend": closed.backend,
            "highest_nonmated_scores": [
                round(float(v), 4) for v in np.sort(nonmated.top_scores)[::-1][:HIGHEST]
            ],
            "seconds": {
                "closed_set": round(closed.seconds, 3),
                "open_set_mated": round(mated.seconds, 3),
                "open_set_nonmated": round(nonmated.seconds, 3),
            },
            "_rank1_identities": closed.candidates[:, 0],
            "_top_scores": np.concatenate([mated.top_scores, nonmated.top_scores]),
        }
    exact, index = runs["exact"], runs["hnsw"]
    report["difference_hnsw_minus_exact"] = {
        "rank_1": index["rank_1"] - exact["rank_1"],
        "rank_5": index["rank_5"] - exact["rank_5"],
        "probes_with_different_rank_1_identity": int(
            (exact.pop("_rank1_identities") != index.pop("_rank1_identities")).sum()
        ),
        "max_abs_top_score_difference": float(
            np.abs(exact.pop("_top_scores") - index.pop("_top_scores")).max()
        ),
    }
    report["exact"], report["hnsw"] = exact, index
    report["hnsw"]["parameters"] = {
        "m": settings.index_m,
        "ef_construction": settings.index_ef_construction,
        "ef_search": settings.index_ef_search,
    }
    return report, curves


# --- report ------------------------------------------------------------------------------------


def evaluate(
    pipeline: FacePipeline,
    root: Path,
    *,
    out: Path,
    settings: EngineSettings,
    use_cache: bool = True,
) -> dict[str, Any]:
    """Run every measurement, write JSON, Markdown and PNGs to ``out``; return the report."""
    started = time.perf_counter()
    corpus = load_corpus(pipeline, root, use_cache=use_cache)
    logger.info(
        "%d images embedded in %.0f s%s, %d without a face",
        len(corpus.paths), corpus.seconds, " (from the cache)" if corpus.cached else "",
        corpus.failures,
    )
    official, official_curves = verification_official(corpus, root)
    logger.info("official pairs: accuracy %.2f %%", official["accuracy_percent"])
    scores = all_pair_scores(corpus)
    all_pairs, all_curves = verification_all_pairs(scores)
    # Only the FMRs these pairs can support (all of them on LFW; not on a tiny test folder).
    points = calibration_points(
        scores, [fmr for fmr in FMRS if fmr * scores.impostor_found.size >= 1]
    )
    logger.info("all pairs scored in %.0f s", scores.seconds)
    ident, cmc = identification(corpus, settings=settings)
    logger.info("identification: rank-1 %.4f exact", ident["exact"]["rank_1"])

    out.mkdir(parents=True, exist_ok=True)
    label_official = f"official pairs ({official['pairs']:,})"
    label_all = (
        f"all pairs ({all_pairs['genuine_pairs']:,} genuine, "
        f"{all_pairs['impostor_pairs']:,} impostor)"
    )
    plot_roc(
        {label_official: official_curves["roc"], label_all: all_curves["roc"]},
        path=out / "eval_lfw_roc.png", title=f"LFW verification ROC, {pipeline.model_id}",
    )
    plot_det(
        {label_official: official_curves["det"], label_all: all_curves["det"]},
        path=out / "eval_lfw_det.png", title=f"LFW verification DET, {pipeline.model_id}",
    )
    plot_score_histograms(
        scores.genuine, scores.impostor, path=out / "eval_lfw_scores.png",
        thresholds={f"FMR {point.fmr:g}": point.threshold for point in points},
        title=f"LFW all-pairs cosine scores, {pipeline.model_id}",
    )
    plot_cmc(
        {"exact (numpy)": cmc["exact"], "HNSW index": cmc["hnsw"]},
        path=out / "eval_lfw_cmc.png",
        title=f"LFW closed-set identification (gallery {ident['closed_set_gallery']:,})",
    )
    report = {
        "benchmark": "eval_lfw",
        "date": datetime.date.today().isoformat(),
        "dataset": "LFW deep-funneled",
        "citation": CITATION,
        "models": {
            "recognizer": pipeline.model_id,
            "all": sorted(pipeline.models),
            "providers": pipeline.active_providers,
        },
        "det_sizes": list(settings.det_sizes),
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
        "images": len(corpus.paths),
        "people": len(corpus.names),
        "images_without_face": corpus.failures,
        "embedding": {
            "seconds": round(corpus.seconds, 1),
            "images_per_second": round(len(corpus.paths) / corpus.seconds, 2),
            "from_cache": corpus.cached,
        },
        "verification_official": official,
        "verification_all_pairs": all_pairs,
        "calibration_points": [
            {"fmr": p.fmr, "threshold": p.threshold, "fnmr": p.fnmr} for p in points
        ],
        "identification": ident,
        "seconds_total": round(time.perf_counter() - started, 1),
    }
    write_json("eval_lfw", report, folder=out)
    (out / "eval_lfw.md").write_text(render_markdown(report))
    return report


def _percent(value: float | None, digits: int = 2) -> str:
    return "not estimable" if value is None else f"{100 * value:.{digits}f} %"


def _score(value: float | None) -> str:
    return "none" if value is None else f"{value:.3f}"


def render_markdown(report: dict[str, Any]) -> str:
    """The human summary of ``eval_lfw.json``."""
    official, all_pairs = report["verification_official"], report["verification_all_pairs"]
    ident = report["identification"]
    lines = [
        f"# LFW evaluation: {report['models']['recognizer']} ({report['date']})",
        "",
        f"Dataset: {CITATION}",
        "",
        f"{report['images']:,} images of {report['people']:,} people; "
        f"{report['images_without_face']} images without a detected face (every pair or search "
        f"involving one counts as a non-match / miss). Embedding: {report['embedding']['seconds']}"
        f" s ({report['embedding']['images_per_second']} images/s, "
        f"{', '.join(report['models']['providers']['recognizer'])}, det sizes "
        f"{report['det_sizes']}).",
        "",
        "## Verification (1:1)",
        "",
        f"Standard 10-fold protocol on the {official['pairs']:,} official pairs "
        f"({official['pairs_with_failure']} involve an image without a face): "
        f"**{official['accuracy_percent']:.2f} % ± {official['std_percent']:.2f}** "
        f"(published: {official['published_accuracy_percent']:.2f} %, "
        f"{PUBLISHED_SOURCE.split(':')[0]}; difference "
        f"{official['difference_points']:+.2f} points, target ±{100 * TARGET_GAP:.1f}).",
        "",
        "| pairs | genuine | impostor | EER | " + " | ".join(
            f"TAR@FAR {far:g}" for far in FARS_ALL_PAIRS
        ) + " |",
        "|---|---|---|---|" + "---|" * len(FARS_ALL_PAIRS),
    ]
    for name, part in (("official", official), ("all cross pairs", all_pairs)):
        by_far = {entry["far"]: entry for entry in part["tar_at_far"]}
        cells = [
            _percent(by_far[far]["tar"]) if far in by_far else "—" for far in FARS_ALL_PAIRS
        ]
        lines.append(
            f"| {name} | {part['genuine_pairs']:,} | {part['impostor_pairs']:,} | "
            f"{_percent(part['eer']['rate'], 3)} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "Thresholds (all cross-identity pairs with both faces found; written to "
        "`models/thresholds.toml` by `benchmarks.calibrate`):",
        "",
        "| FMR | threshold | FNMR |",
        "|---|---|---|",
        *(
            f"| {p['fmr']:g} | {p['threshold']:.4f} | {_percent(p['fnmr'])} |"
            for p in report["calibration_points"]
        ),
        "",
        "## Identification (1:N)",
        "",
        f"Closed set: gallery {ident['closed_set_gallery']:,} (first image of "
        f"{ident['enrolled_people']:,} people + {ident['distractors']:,} single-image "
        f"distractors), {ident['mated_probes']:,} probes. Open set: gallery "
        f"{ident['enrolled_people']:,}, {ident['mated_probes']:,} mated and "
        f"{ident['nonmated_probes']:,} non-mated searches.",
        "",
        "| search | rank-1 | rank-5 | " + " | ".join(f"FNIR@FPIR {f:g}" for f in FPIRS) + " |",
        "|---|---|---|" + "---|" * len(FPIRS),
    ]
    for name in ("exact", "hnsw"):
        run = ident[name]
        fnirs = [_percent(entry["fnir"]) for entry in run["fnir_at_fpir"]]
        lines.append(
            f"| {name} | {_percent(run['rank_1'])} | {_percent(run['rank_5'])} | "
            + " | ".join(fnirs) + " |"
        )
    difference = ident["difference_hnsw_minus_exact"]
    exact = ident["exact"]
    lowest_fpir = exact["fnir_at_fpir"][-1]
    lines += [
        "",
        f"HNSW minus exact: rank-1 {100 * difference['rank_1']:+.3f} points, "
        f"{difference['probes_with_different_rank_1_identity']} probes with a different rank-1 "
        f"identity.",
        "",
        "## Reading the low-error end",
        "",
        f"FPIR {lowest_fpir['fpir']:g} lets {int(lowest_fpir['fpir'] * ident['nonmated_probes'])} "
        f"of the {ident['nonmated_probes']:,} non-mated searches through, so its threshold "
        f"({_score(lowest_fpir['threshold'])}) is set by the few highest non-mated rank-1 scores: "
        f"{', '.join(f'{v:.3f}' for v in exact['highest_nonmated_scores'])}. Likewise FAR 1e-6 "
        f"over all pairs allows {int(1e-6 * all_pairs['impostor_pairs'])} impostor pairs; the "
        f"highest impostor scores are "
        f"{', '.join(f'{v:.3f}' for v in all_pairs['highest_impostor_scores'])}. LFW files some "
        "people under two spellings of their name and holds relatives and some mislabelled "
        "photos, so such pairs are partly label errors of the data set rather than errors of "
        "the model: read the FPIR 1e-3 and FAR 1e-6 figures as lower bounds on accuracy.",
        "",
        "Plots: `eval_lfw_roc.png`, `eval_lfw_det.png`, `eval_lfw_scores.png`, `eval_lfw_cmc.png`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = lfw_parser("benchmarks.eval_lfw", __doc__)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the results")
    parser.add_argument(
        "--det-sizes", type=int, nargs="+", metavar="PX",
        help="detector input sizes (default: the service's EngineSettings.det_sizes)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    settings = EngineSettings(**({"det_sizes": args.det_sizes} if args.det_sizes else {}))
    pipeline = FacePipeline.from_settings(settings)
    evaluate(pipeline, args.lfw, out=args.out, settings=settings, use_cache=not args.no_cache)


if __name__ == "__main__":
    main()

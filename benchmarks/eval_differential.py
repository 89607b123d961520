"""Does the calibrated threshold err more for some groups than for others (GDPR art. 5(1)(d))?

For the deployed recognizer and each of its calibrated thresholds (``models/thresholds.toml``),
every pair of images of an LFW-shaped folder (one folder per identity) in which a face was found
is compared once, as calibration compares them, and counted per group: each group's genuine
comparisons and FNMR, its impostor comparisons and FMR (both images in the group), with Wilson
95 % intervals; the comparisons between two groups in cells of their own; the worst group's
rate against the calibrated one and against the best group's. The rules (minimum comparisons,
intervals) are those of :mod:`benchmarks.differential`. Every pair, no sampling: nothing is
random, so no seed is needed.

Groups come from:

* ``--groups FILE``: the operator's labels, a CSV mapping identities to groups (format:
  :mod:`benchmarks.group_labels`). The project ships none and never should: a demographic
  label on a real person is itself sensitive data.
* ``--strata inter-eye det-score`` (the default without ``--groups``): capture conditions
  measured on the images themselves by the service's detector, in quantile bins (``--bins``,
  tertiles by default) of the inter-eye distance (resolution) and of the detector's score.
  A pair belongs to a stratum when both images do.

Usage::

    python -m benchmarks.eval_differential [--lfw PATH] [--no-cache] [--groups FILE]
        [--strata inter-eye det-score] [--bins 3] [--thresholds models/thresholds.toml]
        [--out benchmarks/results] [--name STEM]

Writes ``STEM.json`` and ``STEM.png`` to ``--out`` (``eval_differential`` by default,
``eval_differential_groups`` with ``--groups``). Input it cannot use ends in one line,
``refused: CODE: message``, exit status 1 (codes: :class:`benchmarks.group_labels.RefusalCode`;
a model without a calibrated threshold: ``error: not_calibrated: ...``).
"""

from __future__ import annotations

import datetime
import logging
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from benchmarks.differential import RESAMPLES, SEED, Z95, minimum_comparisons
from benchmarks.group_labels import DifferentialRefused, RefusalCode, read_group_labels
from benchmarks.group_tally import OperatingPoint, PointRates, Tally, rates_at
from benchmarks.lfw import CITATION, lfw_parser, people
from benchmarks.output import RESULTS, write_results
from benchmarks.plots import RatePanel, plot_group_rates
from benchmarks.scores import Corpus, load_corpus, pair_blocks
from optinface.engine.errors import EngineError
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings
from optinface.engine.thresholds import NotCalibrated, Threshold, load_thresholds

logger = logging.getLogger(__name__)

DEFAULT_BINS = 3
METHOD = {
    "comparisons": "every unordered pair of images of the folder in which a face was found "
                   "(the face nearest the centre, as the service picks it), scored once; "
                   "a match is score >= threshold",
    "within_group": "a comparison belongs to a group when both of its images are in the group; "
                    "comparisons between two groups are reported in across_groups, in no group",
    "interval": f"ci95: Wilson score interval, 95 % (z = {Z95:.4f}), per group. It assumes "
                "independent comparisons; pairs sharing an image or a person are not "
                "independent, so the true uncertainty is wider than stated",
    "interval_by_identity": f"ci95_by_identity (a group's own rates): the 2.5th-97.5th "
                            f"percentiles of the rate over {RESAMPLES} resamples of the "
                            f"group's people with replacement (seed {SEED}). FNMR: each drawn "
                            "person brings all of their genuine comparisons in the group; FMR "
                            "(two-way): the impostor comparisons and false matches between the "
                            "drawn people, copies of one person not compared with each other. "
                            "differs_by_identity compares these intervals",
    "minimum_comparisons": "rule of three: a group's rate is stated only with at least "
                           "ceil(3 / reference) comparisons (with none wrong, the 95 % upper "
                           "bound is then at the reference); fewer is too_few_comparisons, "
                           "with counts and interval but no rate",
    "references": "FMR: the threshold's target FMR; FNMR: the FNMR measured at calibration "
                  "(the target FMR where calibration missed no genuine pair)",
    "differential": "worst and best measured group; worst_to_best_at_least is the worst "
                    "group's interval low over the best group's interval high; differs: the "
                    "two intervals do not overlap",
    "in_sample": "the shipped thresholds were calibrated on all LFW pairs: on LFW the pooled "
                 "FMR is the target by construction, and what this measures is how the groups "
                 "differ around it",
}


class Stratum(StrEnum):
    """A capture condition measured on each image's face, needing no label."""

    INTER_EYE = "inter-eye"
    DET_SCORE = "det-score"


@dataclass(frozen=True, slots=True, eq=False)
class Grouping:
    """One way of putting the images in groups.

    Attributes:
        name: ``groups`` (the operator's labels) or the stratum.
        basis: ``identity`` (all of a person's images in one group) or ``image``.
        labels: The groups' labels, in report order.
        image_groups: Per image of the corpus, an index into ``labels``; ``-1``: in none.
        ranges: Per group, the lowest and highest measure of its images (strata only).
    """

    name: str
    basis: str
    labels: list[str]
    image_groups: NDArray[np.int64]
    ranges: list[tuple[float, float]] | None = None


def identity_grouping(corpus: Corpus, labels: dict[str, str]) -> Grouping:
    """Every image of a labelled identity in its identity's group; the others in none."""
    names = sorted(set(labels.values()))
    number = {label: index for index, label in enumerate(names)}
    of_identity = np.asarray(
        [number[labels[name]] if name in labels else -1 for name in corpus.names], dtype=np.int64
    )
    return Grouping("groups", "identity", names, of_identity[corpus.identities])


def stratum_grouping(corpus: Corpus, stratum: Stratum, bins: int) -> Grouping:
    """Quantile bins of a face measure; an image where no face was found is in none.

    Images on an inner bin edge go to the upper bin, so equal measures share a bin.
    """
    values, unit, digits = {
        Stratum.INTER_EYE: (corpus.inter_eye_px, " px", 1),
        Stratum.DET_SCORE: (corpus.det_scores, "", 3),
    }[stratum]
    found = ~np.isnan(values)
    edges = np.quantile(values[found], np.linspace(0, 1, bins + 1))
    groups = np.full(len(values), -1, dtype=np.int64)
    groups[found] = np.searchsorted(edges[1:-1], values[found], side="right")
    ranges, labels = [], []
    for index in range(bins):
        members = values[groups == index]
        low, high = (float(members.min()), float(members.max())) if members.size else (0.0, 0.0)
        ranges.append((low, high))
        labels.append(f"{stratum} {index + 1}/{bins}: {low:.{digits}f}-{high:.{digits}f}{unit}")
    return Grouping(str(stratum), "image", labels, groups, ranges)


def tally_pairs(
    corpus: Corpus, groupings: Sequence[Grouping], points: Sequence[OperatingPoint]
) -> list[Tally]:
    """Count every pair of found images once, for every grouping in the same pass."""
    found = corpus.found
    vectors = np.ascontiguousarray(corpus.vectors[found])
    identities = corpus.identities[found]
    thresholds = [point.threshold for point in points]
    tallies = [Tally(g.labels, thresholds, people=len(corpus.names)) for g in groupings]
    image_groups = [grouping.image_groups[found] for grouping in groupings]
    for tally, groups in zip(tallies, image_groups, strict=True):
        tally.count_images(groups, identities)
    for block in pair_blocks(vectors, identities):
        scores, same = block.scores[block.upper], block.same[block.upper]
        people = block.of_pairs(identities)
        for tally, groups in zip(tallies, image_groups, strict=True):
            tally.add(scores, same, *block.of_pairs(groups), people)
    return tallies


def calibrated_thresholds(path: Path, model_id: str) -> list[Threshold]:
    """The model's calibrated thresholds, highest FMR first.

    Raises:
        NotCalibrated: The file holds none for the model.
    """
    found = sorted((t for t in load_thresholds(path) if t.model_id == model_id),
                   key=lambda threshold: -threshold.fmr)
    if not found:
        raise NotCalibrated(f"model {model_id} has no calibrated threshold in {path.name}",
                            details={"model_id": model_id})
    return found


def require_comparisons(groupings: Sequence[Grouping], results: Sequence[list[PointRates]]
                        ) -> None:
    """Refuse when no rate of any grouping can be compared between two groups."""
    comparable = any(
        len(rates.fmr_differential.measured) >= 2 or len(rates.fnmr_differential.measured) >= 2
        for per_point in results
        for rates in per_point
    )
    if comparable:
        return
    rates = results[0][-1]
    largest = max(rates.fmr.values(), key=lambda rate: rate.comparisons)
    largest_genuine = max(rates.fnmr.values(), key=lambda rate: rate.comparisons)
    raise DifferentialRefused(
        RefusalCode.TOO_FEW_COMPARISONS,
        f"in no grouping ({', '.join(g.name for g in groupings)}) do two groups reach the "
        f"minimum at any threshold (at FMR {rates.point.fmr:g}: "
        f"{rates.fmr_differential.minimum_comparisons:,} impostor or "
        f"{rates.fnmr_differential.minimum_comparisons:,} genuine comparisons a group; a group "
        f"has at most {largest.comparisons:,} impostor and {largest_genuine.comparisons:,} "
        "genuine)",
    )


def group_facts(corpus: Corpus, grouping: Grouping, tally: Tally,
                settings: EngineSettings) -> list[dict[str, Any]]:
    """Who and what is in each group: images, identities, faces not found, images the
    enrolment gate would refuse, and how much of the group's genuine comparisons one person
    makes (LFW's genuine pairs are dominated by a few people with hundreds of images)."""
    found = corpus.found
    below_gate = found & (
        (corpus.det_scores < settings.min_det_score)
        | (corpus.inter_eye_px < settings.min_inter_eye_px)
    )
    facts = []
    for index, label in enumerate(grouping.labels):
        members = grouping.image_groups == index
        by_owner = tally.genuine_by_person[index]
        genuine = int(by_owner.sum())
        facts.append({
            "label": label,
            "images": int(members.sum()),
            "identities": int(np.unique(corpus.identities[members]).size),
            "images_without_face": int((members & ~found).sum()),
            "images_below_enrolment_gate": int((members & below_gate).sum()),
            "identities_with_genuine_comparisons": int(np.count_nonzero(by_owner)),
            "largest_identity_share_of_genuine": (
                round(float(by_owner.max()) / genuine, 4) if genuine else None),
            **({"range": list(grouping.ranges[index])} if grouping.ranges else {}),
        })
    return facts


def false_match_spread(tally: Tally, index: int) -> dict[str, dict[str, Any]]:
    """Per group, how many pairs of people its false matches at threshold ``index`` are
    between, and the largest pair's share: LFW's come largely from relatives and from one
    person filed under two names."""
    spread = {}
    for group, label in enumerate(tally.groups):
        counts = tally.false_match_pairs(index, group)[2]
        total = int(counts.sum())
        spread[label] = {
            "false_match_person_pairs": int(counts.size),
            "largest_person_pair_share": round(int(counts.max()) / total, 4) if total else None,
        }
    return spread


def point_report(rates: PointRates, tally: Tally, index: int, *, service_fmr: float
                 ) -> dict[str, Any]:
    """The figures of operating point number ``index`` as JSON-ready values."""
    point = rates.point
    spread = false_match_spread(tally, index)
    return {
        "fmr": point.fmr,
        "threshold": point.threshold,
        "calibrated_fnmr": point.fnmr,
        "fnmr_reference": point.fnmr_reference,
        "used_by_service": abs(point.fmr - service_fmr) <= service_fmr * 1e-6,
        "minimum_comparisons": {"fmr": minimum_comparisons(point.fmr),
                                "fnmr": minimum_comparisons(point.fnmr_reference)},
        "groups": {label: {"fmr": asdict(rates.fmr[label]), "fnmr": asdict(rates.fnmr[label]),
                           **spread[label]}
                   for label in rates.fmr},
        "across_groups": [{"groups": [a, b], "fmr": asdict(fmr), "fnmr": asdict(fnmr)}
                          for a, b, fmr, fnmr in rates.across],
        "all_groups": {"fmr": asdict(rates.pooled_fmr), "fnmr": asdict(rates.pooled_fnmr)},
        "fmr_differential": asdict(rates.fmr_differential),
        "fnmr_differential": asdict(rates.fnmr_differential),
    }


def panels(grouping: Grouping, per_point: Sequence[PointRates]) -> list[RatePanel]:
    """The figure's panels of one grouping: FMR and FNMR at each operating point."""
    made = []
    for rates in per_point:
        for kind, by_group, reference in (
            ("FMR", rates.fmr, rates.point.fmr),
            ("FNMR", rates.fnmr, rates.point.fnmr_reference),
        ):
            made.append(RatePanel(
                title=f"{grouping.name}: {kind} at threshold {rates.point.threshold:.4f} "
                      f"(FMR {rates.point.fmr:g})",
                reference=reference,
                groups=grouping.labels,
                rates=[by_group[label].rate for label in grouping.labels],
                intervals=[by_group[label].ci95 for label in grouping.labels],
                by_identity=[by_group[label].ci95_by_identity for label in grouping.labels],
            ))
    return made


def evaluate(
    pipeline: FacePipeline,
    root: Path,
    *,
    out: Path,
    name: str,
    settings: EngineSettings,
    groups_file: Path | None = None,
    strata: Sequence[Stratum] = (),
    bins: int = DEFAULT_BINS,
    thresholds_path: Path | None = None,
    use_cache: bool = True,
) -> dict[str, Any]:
    """Group, tally, compare; write ``name``.json and .png to ``out``; return the report.

    Raises:
        DifferentialRefused: The data set or the labels cannot be used, or no two groups have
            enough comparisons to compare.
        NotCalibrated: No calibrated threshold for the pipeline's recognizer.
    """
    started = time.perf_counter()
    if not root.is_dir() or not any(path.is_dir() for path in root.iterdir()):
        raise DifferentialRefused(RefusalCode.DATASET_MISSING,
                                  f"{root.name or root}: no folder of identities there")
    calibrated = calibrated_thresholds(thresholds_path or settings.thresholds_path,
                                       pipeline.model_id)
    points = [OperatingPoint(t.fmr, t.threshold, t.fnmr) for t in calibrated]
    labels = read_group_labels(groups_file, people(root)) if groups_file else None
    corpus = load_corpus(pipeline, root, use_cache=use_cache)
    groupings = [identity_grouping(corpus, labels)] if labels is not None else []
    groupings += [stratum_grouping(corpus, stratum, bins) for stratum in strata]
    tallies = tally_pairs(corpus, groupings, points)
    results = [[rates_at(tally, index, point) for index, point in enumerate(points)]
               for tally in tallies]
    require_comparisons(groupings, results)

    report = {
        "benchmark": "eval_differential",
        "date": datetime.date.today().isoformat(),
        "dataset": root.name,
        **({"citation": CITATION} if "lfw" in root.name.lower() else {}),
        "models": {"recognizer": pipeline.model_id, "all": sorted(pipeline.models),
                   "providers": pipeline.active_providers},
        "det_sizes": list(settings.det_sizes),
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
        "images": len(corpus.paths),
        "identities": len(corpus.names),
        "images_without_face": corpus.failures,
        "labelled_identities": len(labels) if labels is not None else None,
        "method": METHOD,
        "thresholds_calibrated_on": sorted({t.dataset for t in calibrated}),
        "groupings": [
            {
                "name": grouping.name,
                "basis": grouping.basis,
                **({"bins": bins} if grouping.basis == "image" else {}),
                "groups": group_facts(corpus, grouping, tally, settings),
                "points": [point_report(rates, tally, index, service_fmr=settings.match_fmr)
                           for index, rates in enumerate(per_point)],
            }
            for grouping, tally, per_point in zip(groupings, tallies, results, strict=True)
        ],
        "seconds_total": round(time.perf_counter() - started, 1),
    }
    write_results(name, report, lambda _, path: plot_group_rates(
        [panel for grouping, per_point in zip(groupings, results, strict=True)
         for panel in panels(grouping, per_point)],
        path=path,
        title=f"Error rates per group at the calibrated thresholds, {pipeline.model_id}, "
              f"{root.name}: 95 % Wilson intervals, and (thin, right) resampling people",
    ), folder=out)
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = lfw_parser("benchmarks.eval_differential", __doc__)
    parser.add_argument("--groups", type=Path, metavar="FILE",
                        help="CSV of identity,group (the operator's labels; none ship)")
    parser.add_argument("--strata", nargs="+", type=Stratum, choices=list(Stratum),
                        help="capture-condition strata (default without --groups: both)")
    parser.add_argument("--bins", type=int, default=DEFAULT_BINS, choices=range(2, 11),
                        metavar="2-10", help="quantile bins per stratum (default: tertiles)")
    parser.add_argument("--thresholds", type=Path,
                        help="thresholds file (default: the service's models/thresholds.toml)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the results")
    parser.add_argument("--name", help="file stem (default: eval_differential[_groups])")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    strata = args.strata if args.strata is not None else ([] if args.groups else list(Stratum))
    name = args.name or ("eval_differential_groups" if args.groups else "eval_differential")
    settings = EngineSettings()
    try:
        evaluate(FacePipeline.from_settings(settings), args.lfw, out=args.out, name=name,
                 settings=settings, groups_file=args.groups, strata=strata, bins=args.bins,
                 thresholds_path=args.thresholds, use_cache=not args.no_cache)
    except DifferentialRefused as refusal:
        sys.exit(f"refused: {refusal.code}: {refusal.message}")
    except EngineError as error:
        sys.exit(f"error: {error.code}: {error.message}")
    logger.info("wrote %s", args.out / f"{name}.json")


if __name__ == "__main__":
    main()

"""Verification and identification metrics for the face-recognition benchmarks.

Pure numpy, no model code: every function takes scores (cosine similarities, higher means more
alike) and returns numbers, so the metrics can be tested on synthetic scores whose answers are
known by hand before they are trusted on real embeddings.

Conventions shared by every function, following ISO/IEC 19795-1 and the NIST FRVT reports:

* A comparison is a **match decision when ``score >= threshold``**; the service applies the
  same rule, so a threshold calibrated here means the same thing there.
* ``genuine`` (mated) scores come from pairs of the same person, ``impostor`` (non-mated) scores
  from pairs of different people. FAR/FMR is the fraction of impostor scores ``>= t``, TAR the
  fraction of genuine scores ``>= t`` and FNMR ``= 1 - TAR``.
* An operating point "at FAR ``f``" uses the lowest threshold whose FAR is **at most** ``f``
  (see :func:`threshold_for_fmr`). With ``n`` impostor scores that allows ``k = floor(f * n)``
  accepted impostors; when ``k == 0`` the rate is below the resolution of the data and the
  result says it is not estimable instead of reporting a number that only looks precise.
* Thresholds are compared in the scores' own floating dtype: pass float32 scores (4 bytes each)
  and tens of millions of impostor scores cost a few hundred MB, never a float64 copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.floating[Any]]

# A rate times a count can land just below an integer in binary floating point
# (0.29 * 100 == 28.999999999999996): a product this close to an integer is that integer, so
# floor() does not lose a whole score to rounding. Relative, because counts reach 10**8.
_COUNT_REL_TOLERANCE = 1e-12


# eq=False so that subclasses without their own __eq__ fall back to identity, not to
# comparing this base's empty field list (which would make every pair of results equal).
@dataclass(frozen=True, slots=True, eq=False)
class _JsonResult:
    """Base of the result types: one ``as_dict`` that turns numpy values into JSON-ready ones."""

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as plain Python values (lists, floats, ``None``) for ``json.dumps``."""
        return {field.name: _to_json(getattr(self, field.name)) for field in fields(self)}


@dataclass(frozen=True, slots=True)
class KFoldResult(_JsonResult):
    """Cross-validated verification accuracy (the LFW protocol).

    Attributes:
        mean: Mean of the held-out fold accuracies.
        std: Population standard deviation (``ddof=0``) of the fold accuracies, as the reference
            LFW evaluation scripts report it.
        accuracies: Held-out accuracy of each fold, in ascending fold-id order.
        thresholds: Threshold chosen on the other folds for each fold, same order.
    """

    mean: float
    std: float
    accuracies: tuple[float, ...]
    thresholds: tuple[float, ...]


# eq=False: comparing dataclasses of arrays with == would raise, not compare.
@dataclass(frozen=True, slots=True, eq=False)
class RocCurve(_JsonResult):
    """The vertices of the ROC staircase, ordered by ascending threshold.

    Attributes:
        far: Fraction of impostor scores ``>= thresholds[i]`` (non-increasing).
        tar: Fraction of genuine scores ``>= thresholds[i]`` (non-increasing).
        thresholds: Ascending thresholds; the first accepts every score (FAR = TAR = 1), the last
            rejects every score (FAR = TAR = 0).
    """

    far: NDArray[np.float64]
    tar: NDArray[np.float64]
    thresholds: FloatArray


@dataclass(frozen=True, slots=True)
class TarAtFar(_JsonResult):
    """TAR at the lowest threshold whose FAR does not exceed the requested FAR.

    Attributes:
        far: The requested FAR.
        tar: Fraction of genuine scores ``>= threshold``; ``None`` when not estimable.
        threshold: See :func:`threshold_for_fmr`; ``None`` when not estimable.
        achieved_far: The FAR actually obtained at ``threshold`` (``<= far``, lower when ties or
            the rounding of ``far * n_impostor`` force it down); ``None`` when not estimable.
        estimable: ``False`` when ``far * n_impostor < 1``: no impostor may be accepted, so the
            data cannot tell FAR ``far`` from FAR 0.
    """

    far: float
    tar: float | None
    threshold: float | None
    achieved_far: float | None
    estimable: bool


@dataclass(frozen=True, slots=True)
class Eer(_JsonResult):
    """Equal error rate: where the interpolated ROC crosses FAR = FNMR.

    Attributes:
        rate: The common value of FAR and FNMR at the crossing.
        threshold: Threshold linearly interpolated between the two ROC vertices around it.
    """

    rate: float
    threshold: float


@dataclass(frozen=True, slots=True)
class FnirAtFpir(_JsonResult):
    """Open-set identification error at a false-positive identification rate (NIST FRVT 1:N).

    Attributes:
        fpir: The requested FPIR.
        fnir: Fraction of mated probes not identified at rank 1 with score ``>= threshold``;
            ``None`` when not estimable.
        threshold: Lowest threshold whose FPIR is ``<= fpir``; ``None`` when not estimable.
        achieved_fpir: The FPIR actually obtained at ``threshold``; ``None`` when not estimable.
        estimable: ``False`` when ``fpir * n_nonmated < 1``.
    """

    fpir: float
    fnir: float | None
    threshold: float | None
    achieved_fpir: float | None
    estimable: bool


# --- 1:1 verification: accuracy and the LFW protocol -------------------------------------------


def verification_accuracy(scores: ArrayLike, same: ArrayLike, *, threshold: float) -> float:
    """Fraction of pairs decided correctly when ``score >= threshold`` means "same person".

    Args:
        scores: One similarity per pair.
        same: ``True`` where the pair shows the same person.
        threshold: Decision threshold.

    Returns:
        Accuracy in ``[0, 1]``.
    """
    values = _as_scores(scores, "scores")
    labels = _as_labels(same, values.size)
    accepted = values >= values.dtype.type(threshold)
    return float(np.mean(accepted == labels))


def best_threshold(scores: ArrayLike, same: ArrayLike) -> float:
    """Threshold that maximises :func:`verification_accuracy` on these pairs.

    Candidates are the midpoints between consecutive distinct scores (they sit as far as possible
    from the training scores, so they transfer best to held-out pairs), the lowest score (accept
    everything) and the value just above the highest (reject everything). Ties go to the lowest
    maximising candidate, so the choice is deterministic.

    Args:
        scores: One similarity per pair.
        same: ``True`` where the pair shows the same person.

    Returns:
        The chosen threshold.
    """
    values = _as_scores(scores, "scores")
    labels = _as_labels(same, values.size)
    distinct = np.unique(values)
    candidates = np.concatenate(
        [distinct[:1], (distinct[:-1] + distinct[1:]) / 2, _just_above(distinct[-1:])]
    )
    genuine = np.sort(values[labels])
    impostor = np.sort(values[~labels])
    correct = _count_at_or_above(genuine, candidates) + (
        impostor.size - _count_at_or_above(impostor, candidates)
    )
    return float(candidates[np.argmax(correct)])


def kfold_accuracy(scores: ArrayLike, same: ArrayLike, *, folds: ArrayLike) -> KFoldResult:
    """Cross-validated accuracy: the standard LFW 10-fold protocol.

    For each fold the threshold is chosen with :func:`best_threshold` on the pairs of all the
    other folds and the accuracy is measured on the held-out fold only, so no pair ever helps
    choose the threshold it is judged by.

    Args:
        scores: One similarity per pair.
        same: ``True`` where the pair shows the same person.
        folds: Integer fold id of each pair (LFW: 0..9, 600 pairs each); at least two folds.

    Returns:
        Mean, standard deviation, per-fold accuracies and thresholds.

    Raises:
        ValueError: If ``folds`` is not integer, has the wrong length or a single fold.
    """
    values = _as_scores(scores, "scores")
    labels = _as_labels(same, values.size)
    fold_ids = _as_integers(folds, "folds", size=values.size)
    unique_folds = np.unique(fold_ids)
    if unique_folds.size < 2:
        raise ValueError("kfold_accuracy needs at least two folds")
    thresholds: list[float] = []
    accuracies: list[float] = []
    for fold in unique_folds:
        held_out = fold_ids == fold
        threshold = best_threshold(values[~held_out], labels[~held_out])
        thresholds.append(threshold)
        accuracies.append(
            verification_accuracy(values[held_out], labels[held_out], threshold=threshold)
        )
    return KFoldResult(
        mean=float(np.mean(accuracies)),
        std=float(np.std(accuracies)),
        accuracies=tuple(accuracies),
        thresholds=tuple(thresholds),
    )


# --- 1:1 verification: error-rate curves and operating points ---------------------------------


def roc_curve(genuine: ArrayLike, impostor: ArrayLike) -> RocCurve:
    """ROC curve from one sort of each score set: O(n log n) time, O(n) memory.

    Only the vertices of the ROC staircase are returned, at these thresholds: the lowest score,
    every distinct genuine score, the value just above each of them, and the value just above the
    highest score. Between two consecutive vertices TAR is constant, so the omitted points lie on
    the straight segment joining them (the same points ``drop_intermediate`` removes in
    scikit-learn): the curve is exact yet has at most ``2 * n_genuine + 2`` points however many
    impostor scores there are (LFW-style all-pairs impostors reach tens of millions).

    Args:
        genuine: Same-person scores; float32 keeps memory at 4 bytes per score.
        impostor: Different-person scores; use the same dtype as ``genuine`` to avoid a copy.

    Returns:
        The ROC vertices by ascending threshold.
    """
    genuine_sorted, impostor_sorted = _sorted_pair(genuine, impostor)
    distinct_genuine = np.unique(genuine_sorted)
    lowest = min(genuine_sorted[0], impostor_sorted[0])
    highest = max(genuine_sorted[-1], impostor_sorted[-1])
    thresholds = np.unique(
        np.concatenate(
            [
                np.asarray([lowest], dtype=genuine_sorted.dtype),
                distinct_genuine,
                _just_above(distinct_genuine),
                _just_above(np.asarray([highest], dtype=genuine_sorted.dtype)),
            ]
        )
    )
    return RocCurve(
        far=_fraction_at_or_above(impostor_sorted, thresholds),
        tar=_fraction_at_or_above(genuine_sorted, thresholds),
        thresholds=thresholds,
    )


def det_curve(genuine: ArrayLike, impostor: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """DET curve (FMR, FNMR) at the vertices of :func:`roc_curve`, by ascending threshold.

    Args:
        genuine: Same-person scores.
        impostor: Different-person scores.

    Returns:
        ``(fmr, fnmr)``: FMR non-increasing, FNMR non-decreasing.
    """
    roc = roc_curve(genuine, impostor)
    return roc.far, 1.0 - roc.tar


def equal_error_rate(genuine: ArrayLike, impostor: ArrayLike) -> Eer:
    """Equal error rate: where the ROC, joined by straight segments, crosses FAR = FNMR.

    ``FNMR - FAR`` is non-decreasing in the threshold, from -1 (accept all) to +1 (reject all),
    so it changes sign exactly once; the crossing is interpolated linearly between the two ROC
    vertices around it, which is exact in ROC space because the staircase is piecewise linear.

    Args:
        genuine: Same-person scores.
        impostor: Different-person scores.

    Returns:
        The rate and the (interpolated) threshold.
    """
    roc = roc_curve(genuine, impostor)
    gap = (1.0 - roc.tar) - roc.far
    upper = int(np.searchsorted(gap, 0.0, side="left"))  # >= 1: gap[0] == -1
    lower = upper - 1
    weight = -gap[lower] / (gap[upper] - gap[lower])
    thresholds = roc.thresholds.astype(np.float64)
    return Eer(
        rate=float(roc.far[lower] + weight * (roc.far[upper] - roc.far[lower])),
        threshold=float(thresholds[lower] + weight * (thresholds[upper] - thresholds[lower])),
    )


def threshold_for_fmr(impostor: ArrayLike, fmr: float) -> float:
    """Lowest threshold at which at most a fraction ``fmr`` of the impostor scores match.

    With ``n`` impostor scores, ``k = floor(fmr * n)`` of them may be accepted, and the threshold
    is the ``k``-th highest impostor score. When ties make that score accept more than ``k``
    impostors, the threshold moves up to the next distinct impostor score (or just above the
    highest one), so the achieved FMR never exceeds ``fmr``. It is the lowest *observed* score
    with FMR ``<= fmr``: thresholds between it and the next lower impostor score share its FMR
    and would only add the genuine scores in that gap, so the choice is slightly conservative on
    TAR, in exchange for a threshold that is a real score and reproducible from the data.

    Args:
        impostor: Different-person scores.
        fmr: Target false match rate, in ``(0, 1]``.

    Returns:
        The threshold, for decisions ``score >= threshold``.

    Raises:
        ValueError: If ``fmr * n_impostor < 1``: the data cannot support that rate, and the
            service must not be calibrated on it.
    """
    impostor_sorted = np.sort(_as_scores(impostor, "impostor"))
    threshold = _threshold_at_rate(impostor_sorted, fmr)
    if threshold is None:
        raise ValueError(
            f"FMR {fmr:g} is not estimable from {impostor_sorted.size} impostor scores: "
            f"at least {math.ceil(1 / fmr)} are needed"
        )
    return threshold


def fmr_at_threshold(impostor: ArrayLike, threshold: float) -> float:
    """Fraction of impostor scores that match (``score >= threshold``).

    Args:
        impostor: Different-person scores.
        threshold: Decision threshold.

    Returns:
        The false match rate in ``[0, 1]``.
    """
    values = _as_scores(impostor, "impostor")
    return float(np.count_nonzero(values >= values.dtype.type(threshold)) / values.size)


def fnmr_at_threshold(genuine: ArrayLike, threshold: float) -> float:
    """Fraction of genuine scores that fail to match (``score < threshold``).

    Args:
        genuine: Same-person scores.
        threshold: Decision threshold.

    Returns:
        The false non-match rate in ``[0, 1]``.
    """
    values = _as_scores(genuine, "genuine")
    return float(np.count_nonzero(values < values.dtype.type(threshold)) / values.size)


def tar_at_far(genuine: ArrayLike, impostor: ArrayLike, *, far: float) -> TarAtFar:
    """TAR at the threshold :func:`threshold_for_fmr` picks for ``far``.

    Args:
        genuine: Same-person scores.
        impostor: Different-person scores.
        far: Target false accept rate, in ``(0, 1]``.

    Returns:
        TAR, threshold and achieved FAR, or ``estimable=False`` with ``None`` values when
        ``far * n_impostor < 1``.
    """
    genuine_sorted, impostor_sorted = _sorted_pair(genuine, impostor)
    threshold = _threshold_at_rate(impostor_sorted, far)
    if threshold is None:
        return TarAtFar(far=far, tar=None, threshold=None, achieved_far=None, estimable=False)
    return TarAtFar(
        far=far,
        tar=float(_fraction_at_or_above(genuine_sorted, threshold)),
        threshold=threshold,
        achieved_far=float(_fraction_at_or_above(impostor_sorted, threshold)),
        estimable=True,
    )


# --- 1:N identification ------------------------------------------------------------------------


def rank_of_true_match(candidate_ids: ArrayLike, true_ids: ArrayLike) -> NDArray[np.int64]:
    """1-based rank of each mated probe's true identity in its candidate list.

    Works for a full sort of the gallery and for an index's top-k results alike; when an
    identity appears several times (several templates), its first position counts.

    Args:
        candidate_ids: ``(n_probe, k)`` identity ids, best candidate first.
        true_ids: ``(n_probe,)`` identity id of each probe.

    Returns:
        Ranks in ``1..k``, ``0`` where the true identity is not among the candidates.

    Raises:
        ValueError: If the shapes do not line up.
    """
    candidates = np.asarray(candidate_ids)
    truth = np.asarray(true_ids)
    if candidates.ndim != 2 or truth.shape != (candidates.shape[0],):
        raise ValueError("candidate_ids must be (n_probe, k) and true_ids (n_probe,)")
    hits = candidates == truth[:, None]
    return np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0).astype(np.int64)


def cmc_curve(ranks: ArrayLike, max_rank: int) -> NDArray[np.float64]:
    """Cumulative match characteristic: identification rate at ranks ``1..max_rank``.

    Args:
        ranks: 1-based rank of the true identity per mated probe; ``<= 0`` means not returned
            (see :func:`rank_of_true_match`).
        max_rank: Last rank of the curve.

    Returns:
        ``curve[r - 1]`` is the fraction of probes with the true identity at rank ``<= r``.

    Raises:
        ValueError: If ``ranks`` is not a non-empty integer vector or ``max_rank < 1``.
    """
    rank_values = _as_integers(ranks, "ranks")
    if max_rank < 1:
        raise ValueError("max_rank must be at least 1")
    found = rank_values[(rank_values >= 1) & (rank_values <= max_rank)]
    counts = np.bincount(found, minlength=max_rank + 1)[1:]
    return np.cumsum(counts) / rank_values.size


def identification_rate(ranks: ArrayLike, rank: int) -> float:
    """Fraction of mated probes whose true identity is returned at rank ``<= rank``.

    Args:
        ranks: As for :func:`cmc_curve`.
        rank: Rank cut-off (1 for rank-1 accuracy).

    Returns:
        The identification rate in ``[0, 1]``.
    """
    return float(cmc_curve(ranks, rank)[-1])


def fnir_at_fpir(
    *,
    mated_top_scores: ArrayLike,
    mated_correct: ArrayLike,
    nonmated_top_scores: ArrayLike,
    fpir: float,
) -> FnirAtFpir:
    """Open-set FNIR at a target FPIR, at rank 1 (NIST FRVT 1:N, ISO/IEC 19795-1).

    The threshold is the lowest one at which at most a fraction ``fpir`` of the non-mated probes
    (people not enrolled) get a top-1 candidate with score ``>= threshold``, chosen exactly as
    :func:`threshold_for_fmr` chooses it. A mated probe is a miss when its rank-1 candidate is
    the wrong identity or scores below the threshold.

    Args:
        mated_top_scores: Rank-1 score of each mated probe (person enrolled).
        mated_correct: ``True`` where that rank-1 candidate is the probe's true identity.
        nonmated_top_scores: Rank-1 score of each non-mated probe.
        fpir: Target false positive identification rate, in ``(0, 1]``.

    Returns:
        FNIR, threshold and achieved FPIR, or ``estimable=False`` with ``None`` values when
        ``fpir * n_nonmated < 1``.
    """
    mated = _as_scores(mated_top_scores, "mated_top_scores")
    correct = _as_labels(mated_correct, mated.size)
    nonmated_sorted = np.sort(_as_scores(nonmated_top_scores, "nonmated_top_scores"))
    threshold = _threshold_at_rate(nonmated_sorted, fpir)
    if threshold is None:
        return FnirAtFpir(fpir=fpir, fnir=None, threshold=None, achieved_fpir=None, estimable=False)
    hits = correct & (mated >= mated.dtype.type(threshold))
    return FnirAtFpir(
        fpir=fpir,
        fnir=1.0 - float(np.mean(hits)),
        threshold=threshold,
        achieved_fpir=float(_fraction_at_or_above(nonmated_sorted, threshold)),
        estimable=True,
    )


# --- helpers -------------------------------------------------------------------------------------


def _threshold_at_rate(negatives_sorted: FloatArray, rate: float) -> float | None:
    """Threshold of :func:`threshold_for_fmr` on ascending negatives; ``None`` if not estimable."""
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"rate must be in (0, 1], got {rate!r}")
    n = negatives_sorted.size
    allowed = _allowed_count(rate, n)
    if allowed == 0:
        return None
    index = n - allowed
    if index > 0 and negatives_sorted[index - 1] == negatives_sorted[index]:
        index = int(np.searchsorted(negatives_sorted, negatives_sorted[index], side="right"))
    if index == n:
        return float(_just_above(negatives_sorted[-1:])[0])
    return float(negatives_sorted[index])


def _allowed_count(rate: float, n: int) -> int:
    """``floor(rate * n)``: how many negatives a rate lets through, read as the decimal meant."""
    product = rate * n
    nearest = round(product)
    if math.isclose(product, nearest, rel_tol=_COUNT_REL_TOLERANCE):
        return nearest
    return math.floor(product)


def _sorted_pair(genuine: ArrayLike, impostor: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Both score sets sorted ascending in one common dtype, so searchsorted never copies."""
    genuine_values = _as_scores(genuine, "genuine")
    impostor_values = _as_scores(impostor, "impostor")
    dtype = np.result_type(genuine_values, impostor_values)
    return np.sort(genuine_values.astype(dtype, copy=False)), np.sort(
        impostor_values.astype(dtype, copy=False)
    )


def _count_at_or_above(sorted_scores: FloatArray, thresholds: ArrayLike) -> NDArray[np.intp]:
    """How many sorted scores are ``>= threshold``, for each threshold, in O(log n) each."""
    # The thresholds take the scores' dtype: a float64 threshold would make searchsorted
    # convert the whole (possibly 70-million-element) score array first.
    cast = np.asarray(thresholds, dtype=sorted_scores.dtype)
    return sorted_scores.size - np.searchsorted(sorted_scores, cast, side="left")


def _fraction_at_or_above(sorted_scores: FloatArray, thresholds: ArrayLike) -> NDArray[np.float64]:
    """Fraction of sorted scores ``>= threshold``, for each threshold."""
    return _count_at_or_above(sorted_scores, thresholds) / sorted_scores.size


def _just_above(values: FloatArray) -> FloatArray:
    """The next representable value above each one: the lowest threshold that rejects it."""
    return np.nextafter(values, values.dtype.type(np.inf))


def _as_scores(values: ArrayLike, name: str) -> FloatArray:
    """A non-empty, finite, 1-D floating array; float32 input stays float32 (no copy)."""
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite scores")
    return array


def _as_labels(values: ArrayLike, size: int) -> NDArray[np.bool_]:
    """Boolean labels, one per score."""
    labels = np.asarray(values, dtype=bool)
    if labels.shape != (size,):
        raise ValueError(f"expected {size} labels, got shape {labels.shape}")
    return labels


def _as_integers(values: ArrayLike, name: str, *, size: int | None = None) -> NDArray[np.int64]:
    """A non-empty 1-D integer array (of ``size`` elements when given)."""
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.integer) or array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D integer array")
    if size is not None and array.size != size:
        raise ValueError(f"expected {size} {name}, got {array.size}")
    return array.astype(np.int64, copy=False)


def _to_json(value: object) -> object:
    """Numpy arrays, numpy scalars and tuples as plain Python values."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    return value

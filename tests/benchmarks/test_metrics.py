"""Known-answer and property tests for the benchmark metrics and plots.

Every expected value below is worked out by hand in the test or its docstring, so a metric that
passes here can be trusted on real scores whose answers nobody knows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from benchmarks.metrics import (
    best_threshold,
    cmc_curve,
    det_curve,
    equal_error_rate,
    fmr_at_threshold,
    fnir_at_fpir,
    fnmr_at_threshold,
    identification_rate,
    kfold_accuracy,
    rank_of_true_match,
    roc_curve,
    tar_at_far,
    threshold_for_fmr,
    verification_accuracy,
)
from benchmarks.plots import plot_bars, plot_cmc, plot_det, plot_roc, plot_score_histograms

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Hand-built set. Merged in score order (g = genuine, i = impostor):
# .05i .10i .15i .22i .28i .33i .35g .40i .45g .48i .55g .58i .62g .68g .70i .72g .78g ...
GENUINE = np.array([0.35, 0.45, 0.55, 0.62, 0.68, 0.72, 0.78, 0.83, 0.88, 0.95])
IMPOSTOR = np.array([0.05, 0.10, 0.15, 0.22, 0.28, 0.33, 0.40, 0.48, 0.58, 0.70])

SEPARABLE_GENUINE = np.array([0.6, 0.7, 0.8, 0.9])
SEPARABLE_IMPOSTOR = np.array([0.1, 0.2, 0.3, 0.4])

score_sets = arrays(
    np.float64,
    st.integers(1, 40),
    elements=st.floats(-1.0, 1.0, allow_nan=False).map(lambda x: round(x, 2)),
)


def pairs(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores and same-person labels of a genuine and an impostor set, concatenated."""
    scores = np.concatenate([genuine, impostor])
    same = np.concatenate([np.ones(genuine.size, bool), np.zeros(impostor.size, bool)])
    return scores, same


# --- verification accuracy and the LFW protocol ------------------------------------------------


def test_accuracy_at_a_threshold_counts_both_kinds_of_error() -> None:
    # >= 0.5 accepts 8 genuine (not .35, .45) and 2 impostors (.58, .70): 16 of 20 correct.
    scores, same = pairs(GENUINE, IMPOSTOR)
    assert verification_accuracy(scores, same, threshold=0.5) == pytest.approx(0.8)


def test_best_threshold_separates_separable_scores_at_the_midpoint() -> None:
    scores, same = pairs(SEPARABLE_GENUINE, SEPARABLE_IMPOSTOR)
    threshold = best_threshold(scores, same)
    assert threshold == pytest.approx(0.5)
    assert verification_accuracy(scores, same, threshold=threshold) == 1.0


def test_best_threshold_breaks_ties_towards_the_lowest_candidate() -> None:
    # 16/20 correct at the midpoints .34, .425, .515 and .60; nothing scores higher.
    scores, same = pairs(GENUINE, IMPOSTOR)
    assert best_threshold(scores, same) == pytest.approx(0.34)


@settings(max_examples=60, deadline=None)
@given(genuine=score_sets, impostor=score_sets)
def test_best_threshold_is_at_least_as_accurate_as_any_score(
    genuine: np.ndarray, impostor: np.ndarray
) -> None:
    scores, same = pairs(genuine, impostor)
    best = verification_accuracy(scores, same, threshold=best_threshold(scores, same))
    brute_force = max(verification_accuracy(scores, same, threshold=t) for t in scores)
    assert best >= brute_force


def test_kfold_never_lets_a_fold_choose_its_own_threshold() -> None:
    """Folds 1-9 hold one pair each (genuine .6, impostor .4); fold 0 three genuine at .45.

    Held out, fold 0 gets the threshold .5 from folds 1-9 and rejects all its pairs: accuracy 0.
    Had it leaked into training, .425 would separate everything and it would score 1. Every other
    fold is trained with fold 0's .45s present, so .425 (accuracy 1 on training) wins and the
    held-out (.6, .4) pair is classified right: accuracies [0, 1 x 9], mean .9, std .3.
    """
    scores = np.array([0.45, 0.45, 0.45] + [0.6, 0.4] * 9)
    same = np.array([True] * 3 + [True, False] * 9)
    folds = np.array([0, 0, 0] + [fold for fold in range(1, 10) for _ in range(2)])

    result = kfold_accuracy(scores, same, folds=folds)

    assert result.accuracies == (0.0,) + (1.0,) * 9
    assert result.thresholds == pytest.approx((0.5,) + (0.425,) * 9)
    assert result.mean == pytest.approx(0.9)
    assert result.std == pytest.approx(0.3)


def test_kfold_accuracy_of_a_fold_with_one_outlier() -> None:
    """Ten folds of the separable set; fold 3 also has a genuine pair scoring .05.

    Every training split is best split at .5 (the outlier cannot be rescued without accepting
    all impostors), so fold 3 scores 8/9 and the others 1.
    """
    genuine = np.tile(SEPARABLE_GENUINE, 10)
    impostor = np.tile(SEPARABLE_IMPOSTOR, 10)
    scores, same = pairs(np.append(genuine, 0.05), impostor)
    folds = np.concatenate([np.repeat(np.arange(10), 4), [3], np.repeat(np.arange(10), 4)])

    result = kfold_accuracy(scores, same, folds=folds)

    expected = [1.0] * 10
    expected[3] = 8 / 9
    assert result.accuracies == pytest.approx(expected)
    assert result.thresholds == pytest.approx((0.5,) * 10)
    assert result.mean == pytest.approx(np.mean(expected))
    assert result.std == pytest.approx(np.std(expected))


def test_kfold_refuses_a_single_fold() -> None:
    scores, same = pairs(GENUINE, IMPOSTOR)
    with pytest.raises(ValueError, match="two folds"):
        kfold_accuracy(scores, same, folds=np.zeros(scores.size, dtype=int))


# --- ROC, DET, EER, TAR@FAR -----------------------------------------------------------------------


def test_separable_scores_have_perfect_operating_points() -> None:
    assert equal_error_rate(SEPARABLE_GENUINE, SEPARABLE_IMPOSTOR).rate == 0.0
    result = tar_at_far(SEPARABLE_GENUINE, SEPARABLE_IMPOSTOR, far=0.25)
    assert (result.tar, result.threshold, result.achieved_far) == (1.0, 0.4, 0.25)
    roc = roc_curve(SEPARABLE_GENUINE, SEPARABLE_IMPOSTOR)
    assert any((far == 0.0 and tar == 1.0) for far, tar in zip(roc.far, roc.tar, strict=True))


def test_roc_runs_from_accept_all_to_reject_all() -> None:
    roc = roc_curve(GENUINE, IMPOSTOR)
    assert (roc.far[0], roc.tar[0]) == (1.0, 1.0)
    assert (roc.far[-1], roc.tar[-1]) == (0.0, 0.0)
    assert roc.thresholds[0] == 0.05
    assert roc.thresholds[-1] > 0.95


def test_roc_vertices_match_direct_counts() -> None:
    roc = roc_curve(GENUINE, IMPOSTOR)
    for threshold, far, tar in zip(roc.thresholds, roc.far, roc.tar, strict=True):
        assert far == fmr_at_threshold(IMPOSTOR, threshold)
        assert tar == pytest.approx(1.0 - fnmr_at_threshold(GENUINE, threshold))


def test_tar_at_far_takes_the_kth_highest_impostor_score() -> None:
    # FAR .1 allows one impostor: threshold .70 keeps .72 .78 .83 .88 .95 -> TAR .5.
    # FAR .2 allows two: threshold .58 keeps .62 and up -> TAR .7.
    at_10 = tar_at_far(GENUINE, IMPOSTOR, far=0.1)
    at_20 = tar_at_far(GENUINE, IMPOSTOR, far=0.2)
    assert (at_10.tar, at_10.threshold, at_10.achieved_far) == (0.5, 0.70, 0.1)
    assert (at_20.tar, at_20.threshold, at_20.achieved_far) == (0.7, 0.58, 0.2)


def test_tar_at_far_rounds_the_allowed_impostors_down() -> None:
    # FAR .15 of 10 impostors allows 1.5: only one may be accepted, so it equals FAR .1.
    result = tar_at_far(GENUINE, IMPOSTOR, far=0.15)
    assert (result.threshold, result.achieved_far, result.far) == (0.70, 0.1, 0.15)


def test_tar_at_far_below_one_impostor_is_not_estimable() -> None:
    result = tar_at_far(GENUINE, IMPOSTOR, far=0.05)
    assert not result.estimable
    assert (result.tar, result.threshold, result.achieved_far) == (None, None, None)
    assert json.loads(json.dumps(result.as_dict()))["tar"] is None


def test_calibration_refuses_an_unsupported_fmr() -> None:
    with pytest.raises(ValueError, match="not estimable"):
        threshold_for_fmr(IMPOSTOR, 0.05)


def test_tied_impostors_push_the_threshold_up_not_the_rate() -> None:
    # The two .9s straddle the one allowed acceptance: the threshold must clear both.
    impostor = np.array([0.1] * 8 + [0.9, 0.9])
    threshold = threshold_for_fmr(impostor, 0.1)
    assert threshold > 0.9
    assert fmr_at_threshold(impostor, threshold) == 0.0


@settings(max_examples=100, deadline=None)
@given(impostor=score_sets, fmr=st.floats(0.01, 1.0))
def test_threshold_for_fmr_is_the_lowest_observed_score_within_the_target(
    impostor: np.ndarray, fmr: float
) -> None:
    # Products within rounding of an integer are read as that integer: their own test below.
    assume(abs(fmr * impostor.size - round(fmr * impostor.size)) > 1e-6)
    if fmr * impostor.size < 1:
        with pytest.raises(ValueError):
            threshold_for_fmr(impostor, fmr)
        return
    threshold = threshold_for_fmr(impostor, fmr)
    assert fmr_at_threshold(impostor, threshold) <= fmr
    for lower in impostor[impostor < threshold]:
        assert fmr_at_threshold(impostor, lower) > fmr


def test_a_rate_times_a_count_is_read_as_the_decimal_meant() -> None:
    # 0.29 * 100 == 28.999999999999996 in binary floating point; 29 impostors are allowed.
    impostor = np.arange(100) / 100
    assert threshold_for_fmr(impostor, 0.29) == 0.71
    assert fmr_at_threshold(impostor, 0.71) == 0.29


def test_fnmr_and_fmr_use_the_score_at_or_above_rule() -> None:
    assert fnmr_at_threshold(GENUINE, 0.55) == 0.2  # .35 and .45 fall below; .55 matches
    assert fmr_at_threshold(IMPOSTOR, 0.58) == 0.2  # .58 and .70 match


def test_eer_of_the_hand_built_set() -> None:
    # Any threshold in (.48, .55] rejects .35, .45 and accepts .58, .70: FNMR = FAR = .2.
    eer = equal_error_rate(GENUINE, IMPOSTOR)
    assert eer.rate == pytest.approx(0.2)
    assert 0.48 < eer.threshold <= 0.55


def test_eer_interpolates_along_a_roc_segment() -> None:
    """Genuine .4 .6 .8, impostor .2 .5: above .4 and up to .5, FNMR is 1/3 while FAR falls
    from 1/2 to 0 on the way to the vertex at .6, so the segment crosses FAR = FNMR at 1/3."""
    eer = equal_error_rate(np.array([0.4, 0.6, 0.8]), np.array([0.2, 0.5]))
    assert eer.rate == pytest.approx(1 / 3)
    assert 0.4 < eer.threshold < 0.6


def test_identical_distributions_have_eer_one_half() -> None:
    scores = np.random.default_rng(0).normal(size=1000)
    assert equal_error_rate(scores, scores).rate == pytest.approx(0.5)


def test_same_distribution_samples_have_eer_near_one_half() -> None:
    rng = np.random.default_rng(1)
    eer = equal_error_rate(rng.normal(size=20_000), rng.normal(size=20_000))
    assert eer.rate == pytest.approx(0.5, abs=0.02)


def test_det_is_the_roc_as_error_rates() -> None:
    roc = roc_curve(GENUINE, IMPOSTOR)
    fmr, fnmr = det_curve(GENUINE, IMPOSTOR)
    np.testing.assert_array_equal(fmr, roc.far)
    np.testing.assert_allclose(fnmr, 1.0 - roc.tar)


@settings(max_examples=100, deadline=None)
@given(genuine=score_sets, impostor=score_sets)
def test_roc_rates_never_increase_with_the_threshold(
    genuine: np.ndarray, impostor: np.ndarray
) -> None:
    roc = roc_curve(genuine, impostor)
    assert np.all(np.diff(roc.thresholds) > 0)
    assert np.all(np.diff(roc.far) <= 0)
    assert np.all(np.diff(roc.tar) <= 0)
    assert roc.far.size <= 2 * genuine.size + 2
    assert 0.0 <= equal_error_rate(genuine, impostor).rate <= 1.0


def test_ten_million_float32_impostors_stay_linear() -> None:
    """All-pairs impostor sets are huge: the ROC must scale with the genuine count only."""
    rng = np.random.default_rng(2)
    impostor = rng.random(10_000_000, dtype=np.float32)
    genuine = rng.random(6_000, dtype=np.float32) * np.float32(0.5) + np.float32(0.5)

    roc = roc_curve(genuine, impostor)
    result = tar_at_far(genuine, impostor, far=1e-6)

    assert roc.far.size <= 2 * genuine.size + 2
    assert roc.thresholds.dtype == np.float32
    tenth_highest = np.partition(impostor, impostor.size - 10)[impostor.size - 10]
    assert result.threshold == float(tenth_highest)
    assert result.achieved_far == pytest.approx(1e-6)
    assert result.tar == pytest.approx(np.mean(genuine >= tenth_highest))


def test_rejects_malformed_scores() -> None:
    with pytest.raises(ValueError, match="NaN"):
        roc_curve(np.array([0.5, np.nan]), IMPOSTOR)
    with pytest.raises(ValueError, match="non-empty"):
        equal_error_rate(np.array([]), IMPOSTOR)
    with pytest.raises(ValueError, match="labels"):
        verification_accuracy(GENUINE, [True], threshold=0.5)
    with pytest.raises(ValueError, match="rate"):
        tar_at_far(GENUINE, IMPOSTOR, far=0.0)


# --- identification ------------------------------------------------------------------------------


def test_cmc_on_given_ranks() -> None:
    ranks = np.array([1, 1, 2, 5, 0])
    np.testing.assert_allclose(cmc_curve(ranks, 5), [0.4, 0.6, 0.6, 0.6, 0.8])
    assert identification_rate(ranks, 1) == pytest.approx(0.4)
    assert identification_rate(ranks, 5) == pytest.approx(0.8)


def test_negative_rank_means_not_found() -> None:
    assert identification_rate(np.array([1, -1]), 10) == 0.5


def test_rank_of_true_match_uses_the_first_occurrence() -> None:
    candidates = np.array([[3, 1, 2], [1, 3, 1], [5, 6, 7]])
    np.testing.assert_array_equal(rank_of_true_match(candidates, np.array([1, 1, 9])), [2, 1, 0])


@settings(max_examples=100, deadline=None)
@given(
    ranks=arrays(np.int64, st.integers(1, 50), elements=st.integers(-1, 30)),
    max_rank=st.integers(1, 40),
)
def test_cmc_never_decreases(ranks: np.ndarray, max_rank: int) -> None:
    curve = cmc_curve(ranks, max_rank)
    assert curve.shape == (max_rank,)
    assert np.all(np.diff(curve) >= 0)
    assert curve[-1] == pytest.approx(np.mean((ranks >= 1) & (ranks <= max_rank)))


def test_fnir_at_fpir_on_a_hand_built_open_set() -> None:
    """Ten non-mated probes: FPIR .1 allows one false alarm, so the threshold is their top score
    .62; FPIR .2 allows two, threshold .5. Mated probes: .9 .8 .7 .6 correct, .95 wrong identity.
    At .62 the hits are .9 .8 .7 (FNIR 2/5); at .5 also .6 (FNIR 1/5). The wrong .95 never counts.
    """
    mated = {
        "mated_top_scores": np.array([0.9, 0.8, 0.7, 0.6, 0.95]),
        "mated_correct": np.array([True, True, True, True, False]),
        "nonmated_top_scores": np.array([0.05, 0.12, 0.2, 0.25, 0.3, 0.33, 0.38, 0.41, 0.5, 0.62]),
    }
    at_10 = fnir_at_fpir(**mated, fpir=0.1)
    at_20 = fnir_at_fpir(**mated, fpir=0.2)
    at_5 = fnir_at_fpir(**mated, fpir=0.05)

    assert (at_10.fnir, at_10.threshold, at_10.achieved_fpir) == (
        pytest.approx(0.4),
        0.62,
        0.1,
    )
    assert (at_20.fnir, at_20.threshold, at_20.achieved_fpir) == (
        pytest.approx(0.2),
        0.5,
        0.2,
    )
    assert not at_5.estimable
    assert at_5.fnir is None


# --- results and plots ---------------------------------------------------------------------------


def test_every_result_serialises_to_json() -> None:
    scores, same = pairs(GENUINE, IMPOSTOR)
    results = [
        kfold_accuracy(scores, same, folds=np.arange(scores.size) % 4),
        roc_curve(GENUINE.astype(np.float32), IMPOSTOR.astype(np.float32)),
        tar_at_far(GENUINE, IMPOSTOR, far=0.1),
        equal_error_rate(GENUINE, IMPOSTOR),
        fnir_at_fpir(
            mated_top_scores=GENUINE,
            mated_correct=np.ones(GENUINE.size, bool),
            nonmated_top_scores=IMPOSTOR,
            fpir=0.1,
        ),
    ]
    for result in results:
        assert json.loads(json.dumps(result.as_dict())) == result.as_dict()


def test_every_plot_helper_writes_a_png(tmp_path: Path) -> None:
    roc = roc_curve(GENUINE, IMPOSTOR)
    paths = [
        plot_roc({"model": roc}, path=tmp_path / "roc.png"),
        plot_det({"model": det_curve(GENUINE, IMPOSTOR)}, path=tmp_path / "det.png"),
        plot_score_histograms(
            GENUINE,
            IMPOSTOR,
            path=tmp_path / "hist.png",
            thresholds={"EER": equal_error_rate(GENUINE, IMPOSTOR).threshold, "FMR .1": 0.7},
        ),
        plot_cmc({"model": cmc_curve(np.array([1, 1, 2, 5, 0]), 5)}, path=tmp_path / "cmc.png"),
        plot_bars(
            {"cpu": 12.5, "cuda": 1.5},
            path=tmp_path / "nested" / "speed.png",
            title="Embedding time",
            ylabel="ms per face",
            errors={"cpu": 0.4, "cuda": 0.1},
        ),
    ]
    for path in paths:
        assert path.read_bytes().startswith(PNG_SIGNATURE)

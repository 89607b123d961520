"""Known answers for the statistics of the per-group evaluation (``benchmarks/differential.py``):
the intervals, the minimum number of comparisons, and what a differential says. Every expected
value is worked out by hand in the test or its comments."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.differential import (
    RateStatus,
    differential,
    fmr_by_identity,
    fnmr_by_identity,
    group_rate,
    minimum_comparisons,
    wilson_interval,
)


def test_the_wilson_interval_matches_hand_worked_values() -> None:
    z2 = 1.959963984540054**2
    # No error in 10: [0, z^2 / (n + z^2)]; all 10 wrong: the mirror image.
    assert wilson_interval(0, 10) == (0.0, pytest.approx(z2 / (10 + z2)))
    assert wilson_interval(0, 10)[1] == pytest.approx(0.27753, abs=1e-5)
    assert wilson_interval(10, 10) == (pytest.approx(1 - z2 / (10 + z2)), 1.0)
    # 5 in 10: the textbook [0.2366, 0.7634], symmetric about 0.5.
    low, high = wilson_interval(5, 10)
    assert (low, high) == (pytest.approx(0.23659, abs=1e-5), pytest.approx(0.76341, abs=1e-5))
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_the_rule_of_three_sets_the_minimum_comparisons() -> None:
    assert minimum_comparisons(1e-3) == 3_000
    assert minimum_comparisons(1e-4) == 30_000
    # 1 miss in 1,997 genuine pairs: 3 / (1 / 1997) is 5991.000000000001 in binary floating
    # point, and 5,991 comparisons are what the rule asks, not 5,992.
    assert minimum_comparisons(1 / 1997) == 5_991
    assert minimum_comparisons(0.1) == 30
    assert minimum_comparisons(0.000743012585807634) == 4_038  # 4037.6..., the LFW FNMR at 1e-3
    with pytest.raises(ValueError):
        minimum_comparisons(0.0)


def test_a_gap_inside_the_intervals_is_reported_but_not_said_to_differ() -> None:
    # 12 and 10 false matches in 1,000: a ratio of 1.2, and intervals that overlap.
    rates = {"A": group_rate(12, 1000, reference=0.01, minimum=300),
             "B": group_rate(10, 1000, reference=0.01, minimum=300)}
    verdict = differential(rates, reference=0.01, minimum=300)
    assert (verdict.worst, verdict.best) == ("A", "B")
    assert verdict.worst_to_best == pytest.approx(1.2)
    assert not verdict.differs and verdict.worst_to_best_at_least < 1
    assert verdict.differs_by_identity is None  # no interval by person was given


def test_a_small_group_with_many_errors_is_flagged_not_hidden() -> None:
    rate = group_rate(20, 100, reference=0.01, minimum=300)
    assert rate.rate is None and rate.status is RateStatus.TOO_FEW
    assert rate.exceeds_reference  # 20 in 100: the interval [0.13, 0.29] is far above 0.01
    verdict = differential({"small": rate}, reference=0.01, minimum=300)
    assert verdict.exceeding_reference == ["small"] and verdict.too_few_comparisons == ["small"]
    assert verdict.worst is None and verdict.worst_to_best is None  # one group: no comparison


def test_a_group_without_comparisons_has_no_rate_and_no_interval() -> None:
    rate = group_rate(0, 0, reference=0.01, minimum=300)
    assert (rate.rate, rate.ci95, rate.status) == (None, None, RateStatus.NONE)


def test_resampling_people_widens_the_fnmr_interval_when_one_person_makes_the_misses() -> None:
    # Two people, 100 genuine comparisons each; the first misses 10, the second none. Drawing
    # two people again: both the first (1/4) gives 0.1, one of each (1/2) 0.05, both the second
    # (1/4) 0: the 2.5th and 97.5th percentiles are 0 and 0.1.
    comparisons, errors = np.asarray([100, 100]), np.asarray([10, 0])
    assert fnmr_by_identity(comparisons, errors) == (0.0, pytest.approx(0.1))
    low, high = wilson_interval(10, 200)  # [0.027, 0.090]: as if 200 independent comparisons
    assert 0 < low and high < 0.1
    # Ten people missing 1 in 10 each: every resample gives 0.1, so does the interval.
    assert fnmr_by_identity(np.full(10, 10), np.ones(10)) == (pytest.approx(0.1),) * 2
    # People without a comparison are left out; none at all: no interval.
    assert fnmr_by_identity(np.asarray([0, 100, 100]), np.asarray([5, 10, 0])) == (
        0.0, pytest.approx(0.1))
    assert fnmr_by_identity(np.zeros(3, dtype=int), np.zeros(3, dtype=int)) is None


def test_resampling_people_widens_the_fmr_interval_when_two_people_make_the_false_matches(
) -> None:
    # Three people with 10 images each: 3 x 100 impostor comparisons; all 30 false matches are
    # between people 0 and 1 (relatives, say), so the FMR is 0.1. Drawing three people again
    # (27 equally likely ordered draws): once each (6 draws) 30 / 300 = 0.1; two copies of 0 or
    # 1 and one of the other (6) 60 / 200 = 0.3; no 0 or no 1 but two people (12) 0; one person
    # thrice (3) compares nobody and is left out. Of 24 draws: 0 half, 0.1 and 0.3 a quarter.
    images = np.asarray([10, 10, 10])
    pairs = (np.asarray([0]), np.asarray([1]), np.asarray([30]))
    assert fmr_by_identity(images, pairs) == (0.0, pytest.approx(0.3))
    low, high = wilson_interval(30, 300)  # [0.071, 0.139]
    assert 0 < low and high < 0.3
    # Only people 0 and 1: their 100 comparisons hold the 30 false matches, and every usable
    # draw is one of each, so the rate, 0.3, never moves.
    assert fmr_by_identity(np.asarray([10, 10, 0]), pairs) == (pytest.approx(0.3),) * 2
    # A person in another group (0 images here) is not drawn; one person alone: no interval.
    assert fmr_by_identity(np.asarray([10, 0, 0]), pairs) is None


def test_the_intervals_by_person_are_the_same_every_run() -> None:
    rng = np.random.default_rng(1)
    comparisons = rng.integers(1, 50, size=40)
    errors = rng.integers(0, 2, size=40)
    assert fnmr_by_identity(comparisons, errors) == fnmr_by_identity(comparisons, errors)
    assert fnmr_by_identity(comparisons, errors, seed=1) != fnmr_by_identity(comparisons, errors)

"""Known answers for the per-group counts and rates (``benchmarks/group_tally.py``).

Every score set below is built so that its rates are counted by hand: scores 0.9 match and 0.1
do not at the threshold 0.5, so a group's errors are the number of scores put on the wrong side.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.differential import RateStatus, wilson_interval
from benchmarks.group_tally import OperatingPoint, Tally, rates_at

THRESHOLD = 0.5
# Target FMR 0.01: at least 3 / 0.01 = 300 impostor comparisons a group. Calibrated FNMR 0.1:
# at least 3 / 0.1 = 30 genuine comparisons a group.
POINT = OperatingPoint(fmr=0.01, threshold=THRESHOLD, fnmr=0.1)
GROUPS = ("A", "B", "C")
A, B, C = range(3)


def comparisons(tally: Tally, *, first: int, second: int, same: bool, right: int, wrong: int,
                people: tuple[int, int] | None = None) -> None:
    """Add ``right`` correctly decided and ``wrong`` wrongly decided comparisons between an
    image of group ``first`` and one of group ``second`` (of the two ``people``, if given)."""
    if same:
        scores = [0.9] * right + [0.1] * wrong  # a genuine 0.1 is a false non-match
    else:
        scores = [0.1] * right + [0.9] * wrong  # an impostor 0.9 is a false match
    count = right + wrong
    tally.add(
        np.asarray(scores, dtype=np.float32),
        np.full(count, same),
        np.full(count, first),
        np.full(count, second),
        None if people is None else (np.full(count, people[0]), np.full(count, people[1])),
    )


@pytest.fixture
def tally() -> Tally:
    """A: FMR 100/1000, FNMR 5/50. B: FMR 10/1000, FNMR 5/50. C: 100 impostor and 20 genuine
    comparisons, fewer than the minimums. Between A and B: 200 impostors, 2 false matches."""
    made = Tally(GROUPS, [THRESHOLD])
    comparisons(made, first=A, second=A, same=False, right=900, wrong=100)
    comparisons(made, first=A, second=A, same=True, right=45, wrong=5)
    comparisons(made, first=B, second=B, same=False, right=990, wrong=10)
    comparisons(made, first=B, second=B, same=True, right=45, wrong=5)
    comparisons(made, first=C, second=C, same=False, right=100, wrong=0)
    comparisons(made, first=C, second=C, same=True, right=20, wrong=0)
    comparisons(made, first=B, second=A, same=False, right=198, wrong=2)
    return made


def test_a_group_whose_fmr_is_clearly_worse_is_named_with_its_ratios(tally: Tally) -> None:
    rates = rates_at(tally, 0, POINT)
    a, b = rates.fmr["A"], rates.fmr["B"]
    assert (a.comparisons, a.errors, a.rate, a.status) == (1000, 100, 0.1, RateStatus.MEASURED)
    assert (b.comparisons, b.errors, b.rate, b.status) == (1000, 10, 0.01, RateStatus.MEASURED)
    assert a.ci95 == wilson_interval(100, 1000) and b.ci95 == wilson_interval(10, 1000)

    fmr = rates.fmr_differential
    assert (fmr.worst, fmr.best) == ("A", "B")
    assert fmr.worst_to_best == pytest.approx(10.0)
    assert fmr.worst_to_reference == pytest.approx(10.0)  # 0.1 against the target 0.01
    # A's interval [0.0829, 0.1203] lies above B's [0.0054, 0.0183]: the data show the gap.
    assert fmr.differs
    assert fmr.worst_to_best_at_least == pytest.approx(a.ci95[0] / b.ci95[1])
    assert 4 < fmr.worst_to_best_at_least < 5
    assert fmr.exceeding_reference == ["A"]  # B's interval holds the target 0.01
    assert fmr.measured == ["A", "B"] and fmr.minimum_comparisons == 300


def test_groups_that_err_alike_are_not_said_to_differ(tally: Tally) -> None:
    fnmr = rates_at(tally, 0, POINT).fnmr_differential
    assert (fnmr.worst_rate, fnmr.best_rate) == (0.1, 0.1)
    assert fnmr.worst_to_best == pytest.approx(1.0)
    assert fnmr.worst_to_reference == pytest.approx(1.0)
    assert not fnmr.differs
    assert fnmr.exceeding_reference == []


def test_a_group_with_too_few_comparisons_has_no_rate_not_a_zero(tally: Tally) -> None:
    rates = rates_at(tally, 0, POINT)
    c = rates.fmr["C"]
    # 100 impostor comparisons, none wrong: fewer than 300, so no rate, only what was counted.
    assert (c.comparisons, c.errors, c.rate, c.status) == (100, 0, None, RateStatus.TOO_FEW)
    assert c.ci95 == wilson_interval(0, 100) and not c.exceeds_reference
    assert rates.fnmr["C"].rate is None and rates.fnmr["C"].status is RateStatus.TOO_FEW
    for kind in (rates.fmr_differential, rates.fnmr_differential):
        assert kind.too_few_comparisons == ["C"]
        assert "C" not in (kind.worst, kind.best)  # a perfect small group is not "the best"


def test_comparisons_between_two_groups_count_in_neither_group(tally: Tally) -> None:
    rates = rates_at(tally, 0, POINT)
    across = {(a, b): (fmr, fnmr) for a, b, fmr, fnmr in rates.across}
    fmr, fnmr = across[("A", "B")]
    assert (fmr.comparisons, fmr.errors, fmr.rate) == (200, 2, None)  # 200 < 300: too few
    assert fnmr.status is RateStatus.NONE and fnmr.ci95 is None
    assert across[("A", "C")][0].status is RateStatus.NONE
    assert rates.fmr["A"].comparisons == 1000 and rates.fmr["B"].comparisons == 1000
    # Everything together: 1000 + 1000 + 100 + 200 impostors, 100 + 10 + 0 + 2 false matches.
    assert (rates.pooled_fmr.comparisons, rates.pooled_fmr.errors) == (2300, 112)
    assert (rates.pooled_fnmr.comparisons, rates.pooled_fnmr.errors) == (120, 10)


def test_an_image_in_no_group_leaves_its_comparisons_out() -> None:
    tally = Tally(("A",), [THRESHOLD])
    comparisons(tally, first=A, second=-1, same=False, right=5, wrong=5)
    comparisons(tally, first=-1, second=-1, same=True, right=5, wrong=5)
    assert tally.impostor.sum() == tally.genuine.sum() == 0


def test_a_score_equal_to_the_threshold_is_a_match_in_the_scores_own_precision() -> None:
    threshold = float(np.float32(0.3))  # as thresholds.toml stores a float32 score
    tally = Tally(("A",), [threshold])
    scores = np.asarray([0.3, 0.3, np.nextafter(np.float32(0.3), np.float32(0))],
                        dtype=np.float32)
    zeros = np.zeros(3, dtype=np.int64)
    tally.add(scores, np.asarray([False, True, True]), zeros, zeros)
    assert tally.false_matches[0, 0, 0] == 1  # the impostor at the threshold matches
    assert tally.false_non_matches[0, 0, 0] == 1  # only the genuine just below it misses


def test_a_groups_own_comparisons_are_counted_per_person_and_pair_of_people() -> None:
    tally = Tally(("A", "B"), [THRESHOLD], people=4)
    tally.count_images(np.asarray([0, 0, 0, 1, -1]), np.asarray([2, 2, 0, 1, 3]))
    comparisons(tally, first=A, second=A, same=True, right=1, wrong=1, people=(2, 2))
    comparisons(tally, first=B, second=B, same=True, right=1, wrong=0, people=(1, 1))
    comparisons(tally, first=A, second=A, same=False, right=3, wrong=2, people=(2, 0))
    comparisons(tally, first=A, second=A, same=False, right=0, wrong=1, people=(0, 3))
    comparisons(tally, first=A, second=B, same=False, right=0, wrong=4, people=(0, 1))
    assert tally.images_by_person.tolist() == [[1, 0, 2, 0], [0, 1, 0, 0]]
    assert tally.genuine_by_person.tolist() == [[0, 0, 2, 0], [0, 1, 0, 0]]
    assert tally.false_non_matches_by_person[0].tolist() == [[0, 0, 1, 0], [0, 0, 0, 0]]
    first, second, counts = tally.false_match_pairs(0, A)  # the lower person first
    assert (first.tolist(), second.tolist(), counts.tolist()) == ([0, 0], [2, 3], [2, 1])
    assert tally.false_match_pairs(0, B)[2].size == 0  # A-B false matches are in neither


def test_a_groups_rates_carry_the_interval_by_person_and_its_verdict() -> None:
    tally = Tally(("A", "B"), [THRESHOLD], people=4)
    tally.count_images(np.asarray([0, 0, 1, 1]), np.arange(4))
    # A: people 0 and 1, 50 genuine comparisons each; person 0 misses 20, person 1 none.
    # B: people 2 and 3, 50 each, one miss each.
    for person, group, wrong in ((0, A, 20), (1, A, 0), (2, B, 1), (3, B, 1)):
        comparisons(tally, first=group, second=group, same=True, right=50 - wrong, wrong=wrong,
                    people=(person, person))
    rates = rates_at(tally, 0, POINT)
    a, b = rates.fnmr["A"], rates.fnmr["B"]
    assert (a.rate, b.rate) == (0.2, 0.02)
    assert a.ci95_by_identity == (0.0, pytest.approx(0.4))  # one person's misses
    assert b.ci95_by_identity == (pytest.approx(0.02),) * 2  # both people alike
    verdict = rates.fnmr_differential
    assert verdict.differs  # Wilson: [0.133, 0.289] against [0.0055, 0.070]
    assert verdict.differs_by_identity is False  # but A's rate rests on one person
    assert rates.across[0][2].ci95_by_identity is None  # across groups: not resampled


def test_a_calibration_that_missed_no_genuine_pair_holds_fnmr_against_the_target_fmr() -> None:
    point = OperatingPoint(fmr=0.1, threshold=THRESHOLD, fnmr=0.0)
    assert point.fnmr_reference == 0.1
    tally = Tally(("A",), [THRESHOLD])
    comparisons(tally, first=A, second=A, same=True, right=30, wrong=0)
    assert rates_at(tally, 0, point).fnmr["A"].rate == 0.0  # 30 >= 3 / 0.1: stated, as 0

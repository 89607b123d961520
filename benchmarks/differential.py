"""Error rates per group of people (or of images) at a calibrated threshold, and how far apart.

Pure numpy, no model code, so the arithmetic is tested on score sets whose answers are worked
out by hand (``tests/benchmarks/test_differential.py``) before it is trusted on embeddings.

Conventions, those of :mod:`benchmarks.metrics` (ISO/IEC 19795-1): a comparison is a match when
``score >= threshold``; a false match is an impostor (different-person) comparison that matches,
a false non-match a genuine (same-person) one that does not. A comparison belongs to group ``g``
when both of its images are in ``g``; a comparison between two groups belongs to neither and is
counted in its own cell (``across``), so a group's rate never mixes in another group's people.

What a group's figures can say depends on how many comparisons it has, never on its result:

* **minimum comparisons** (the rule of three): with ``n`` comparisons and no error the 95 %
  upper bound of the rate is about ``3 / n``, so fewer than ``3 / reference`` comparisons
  cannot show even a perfect group to be as good as the reference rate (the calibrated FMR, or
  the FNMR measured at calibration). Such a group is ``too_few_comparisons``: its counts and
  interval are given, its rate is not (``None``, never a 0 that only looks like a result);
* **interval**: the Wilson score interval at 95 % (:func:`wilson_interval`). It treats
  comparisons as independent; pairs sharing an image or a person are not, so the true
  uncertainty is wider than stated. Where the comparisons' people are known (a group's own
  comparisons), a second interval resamples the people instead (:func:`fnmr_by_identity`,
  :func:`fmr_by_identity`): LFW's genuine pairs are mostly a few people's with hundreds of
  images, its false matches often the same two people's (relatives, one person under two
  names), and this interval says how much a rate rests on them;
* **exceeds reference**: the interval's lower end lies above the reference rate. It is given for
  every group with comparisons, too few included: a small group with many errors is reported,
  not hidden behind its size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95 % interval
RULE_OF_THREE = 3.0
# A quotient a rounding error above an integer is that integer (as metrics.py counts): a
# calibrated FNMR of 1 in 1,997 gives 3 / (1 / 1997) = 5991.000000000001, and 5,991 suffice.
_REL_TOLERANCE = 1e-12
RESAMPLES = 2000
SEED = 20261201  # fixed: the same tally always gives the same bootstrap interval
_RESAMPLE_CELLS = 2_000_000  # people x resamples drawn at once (16 MB of float64)


class RateStatus(StrEnum):
    """What a group's comparisons allow one to say about its rate."""

    MEASURED = "measured"
    TOO_FEW = "too_few_comparisons"
    NONE = "no_comparisons"


@dataclass(frozen=True, slots=True)
class GroupRate:
    """One error rate of one group (or one pair of groups).

    Attributes:
        comparisons: Genuine comparisons (for an FNMR) or impostor comparisons (for an FMR).
        errors: False non-matches, or false matches, among them.
        rate: ``errors / comparisons``; ``None`` unless ``status`` is ``measured``.
        ci95: Wilson 95 % interval ``(low, high)``; ``None`` without comparisons.
        status: Whether there are enough comparisons to state the rate.
        exceeds_reference: The Wilson interval lies wholly above the reference rate.
        ci95_by_identity: 95 % interval from resampling the people whose comparisons these
            are; ``None`` where they are not known (the cells across groups).
    """

    comparisons: int
    errors: int
    rate: float | None
    ci95: tuple[float, float] | None
    status: RateStatus
    exceeds_reference: bool
    ci95_by_identity: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Differential:
    """How the measured groups' rates differ, from one another and from the reference.

    Attributes:
        reference: The rate the groups are held against (the calibrated FMR, or the FNMR
            measured at calibration).
        minimum_comparisons: Comparisons a group needs for its rate to be stated.
        measured: Groups whose rate is stated.
        too_few_comparisons: Groups with comparisons, but fewer than the minimum.
        exceeding_reference: Groups whose interval lies wholly above the reference (any size).
        worst, best: The measured groups with the highest and the lowest rate (``None`` when
            fewer than two groups are measured: there is nothing to compare).
        worst_rate, best_rate: Their rates.
        worst_to_reference: ``worst_rate / reference``.
        worst_to_best: ``worst_rate / best_rate``; ``None`` when the best group made no error.
        worst_to_best_at_least: The worst group's interval low over the best group's interval
            high: the ratio the data support at the least (conservative).
        differs: The two Wilson intervals do not overlap: the worst group is worse than the
            best, beyond the sampling error the intervals state.
        differs_by_identity: The same with the intervals that resample people; ``None`` where
            they are not known.
    """

    reference: float
    minimum_comparisons: int
    measured: list[str]
    too_few_comparisons: list[str]
    exceeding_reference: list[str]
    worst: str | None = None
    worst_rate: float | None = None
    best: str | None = None
    best_rate: float | None = None
    worst_to_reference: float | None = None
    worst_to_best: float | None = None
    worst_to_best_at_least: float | None = None
    differs: bool = False
    differs_by_identity: bool | None = None


def wilson_interval(errors: int, comparisons: int, *, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (E. B. Wilson, JASA 22, 1927).

    Unlike the normal approximation it stays inside ``[0, 1]`` and gives zero errors an upper
    bound above zero (``z**2 / (n + z**2)``), which is what a low error rate needs.

    Raises:
        ValueError: Without comparisons, or with errors outside ``0..comparisons``.
    """
    if comparisons <= 0 or not 0 <= errors <= comparisons:
        raise ValueError(f"no interval for {errors} errors in {comparisons} comparisons")
    n, p = comparisons, errors / comparisons
    squared = z * z
    centre = (p + squared / (2 * n)) / (1 + squared / n)
    half = z * math.sqrt(p * (1 - p) / n + squared / (4 * n * n)) / (1 + squared / n)
    # At the ends the formula is exactly 0 or 1; floating point may miss by an ulp.
    low = 0.0 if errors == 0 else max(0.0, centre - half)
    high = 1.0 if errors == comparisons else min(1.0, centre + half)
    return low, high


def fnmr_by_identity(
    comparisons: NDArray[np.integer], errors: NDArray[np.integer], *,
    resamples: int = RESAMPLES, seed: int = SEED,
) -> tuple[float, float] | None:
    """95 % interval of a group's FNMR when its people are drawn again, with replacement.

    Each drawn person brings all of their genuine comparisons and misses: the comparisons of
    one person are not independent of each other (the same face, the same photographer), and
    resampling whole people keeps that, where the Wilson interval cannot.

    Args:
        comparisons: Genuine comparisons per person; people with none are left out.
        errors: False non-matches per person, same order.
        resamples: How many resamples.
        seed: The generator's seed.

    Returns:
        The 2.5th and 97.5th percentiles; ``None`` without a comparison.
    """
    counted = comparisons > 0
    sizes, wrong = comparisons[counted].astype(np.float64), errors[counted].astype(np.float64)
    if sizes.size == 0:
        return None
    rates = [drawn @ wrong / (drawn @ sizes)
             for drawn in _multiplicities(sizes.size, resamples=resamples, seed=seed)]
    return _percentiles(np.concatenate(rates))


def fmr_by_identity(
    images: NDArray[np.integer], pairs: tuple[NDArray[np.int64], NDArray[np.int64],
                                              NDArray[np.int64]], *,
    resamples: int = RESAMPLES, seed: int = SEED,
) -> tuple[float, float] | None:
    """95 % interval of a group's FMR when its people are drawn again, with replacement.

    An impostor comparison joins two people, so both are resampled (a two-way bootstrap):
    with ``m`` copies of each person, the group holds ``sum(m_a m_b n_a n_b)`` impostor
    comparisons over the pairs of different people (``n``: their images) and
    ``sum(m_a m_b k_ab)`` false matches (``k_ab``: between people ``a`` and ``b``); copies of one
    person are not compared with each other. A resample of copies of a single person holds no
    impostor comparison and is left out. Relatives or one person filed under two names make
    many false matches between the same two people; this interval shows how much the rate
    rests on them.

    Args:
        images: The group's images per person (all people of the data set; 0: not in it).
        pairs: ``(a, b, k_ab)``: the pairs of people with false matches, and how many.
        resamples: How many resamples.
        seed: The generator's seed.

    Returns:
        The 2.5th and 97.5th percentiles; ``None`` with fewer than two people.
    """
    present = np.flatnonzero(images > 0)
    if present.size < 2:
        return None
    position = np.full(images.size, -1, dtype=np.int64)
    position[present] = np.arange(present.size)
    first, second, counts = position[pairs[0]], position[pairs[1]], pairs[2].astype(np.float64)
    sizes = images[present].astype(np.float64)
    rates = []
    for drawn in _multiplicities(present.size, resamples=resamples, seed=seed):
        weighted = drawn * sizes
        compared = (weighted.sum(axis=1) ** 2 - (weighted**2).sum(axis=1)) / 2
        wrong = (drawn[:, first] * drawn[:, second] * counts).sum(axis=1)
        rates.append(wrong[compared > 0] / compared[compared > 0])
    return _percentiles(np.concatenate(rates))


def _multiplicities(people: int, *, resamples: int, seed: int) -> Iterator[NDArray[np.float64]]:
    """How often each of ``people`` is drawn in each resample (``people`` draws with
    replacement), a chunk of resamples at a time so a large group never holds them all."""
    generator = np.random.default_rng(seed)
    chunk = max(1, _RESAMPLE_CELLS // people)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        yield generator.multinomial(people, np.full(people, 1 / people), size=size).astype(
            np.float64)


def _percentiles(rates: NDArray[np.float64]) -> tuple[float, float]:
    low, high = np.percentile(rates, [2.5, 97.5])
    return float(low), float(high)


def minimum_comparisons(reference: float) -> int:
    """Comparisons needed before a group's rate can be held against ``reference`` (rule of 3).

    Raises:
        ValueError: If ``reference`` is not in ``(0, 1]``.
    """
    if not 0 < reference <= 1:
        raise ValueError(f"a reference rate must be in (0, 1], not {reference}")
    quotient = RULE_OF_THREE / reference
    return math.ceil(quotient * (1 - _REL_TOLERANCE))


def group_rate(
    errors: int, comparisons: int, *, reference: float, minimum: int,
    by_identity: tuple[float, float] | None = None,
) -> GroupRate:
    """The rate of ``errors`` in ``comparisons``, stated only with ``minimum`` comparisons;
    ``by_identity``: the interval from resampling people, where known."""
    if comparisons == 0:
        return GroupRate(0, 0, None, None, RateStatus.NONE, False)
    low, high = wilson_interval(errors, comparisons)
    measured = comparisons >= minimum
    return GroupRate(
        comparisons=comparisons,
        errors=errors,
        rate=errors / comparisons if measured else None,
        ci95=(low, high),
        status=RateStatus.MEASURED if measured else RateStatus.TOO_FEW,
        exceeds_reference=low > reference,
        ci95_by_identity=by_identity,
    )


def differential(
    rates: Mapping[str, GroupRate], *, reference: float, minimum: int
) -> Differential:
    """The worst and the best measured group, and their ratios to each other and the reference.

    Ties go to the group listed first, so the answer does not depend on a sort's stability.
    """
    measured = [name for name, rate in rates.items() if rate.status is RateStatus.MEASURED]
    base = Differential(
        reference=reference,
        minimum_comparisons=minimum,
        measured=measured,
        too_few_comparisons=[
            name for name, rate in rates.items() if rate.status is RateStatus.TOO_FEW
        ],
        exceeding_reference=[name for name, rate in rates.items() if rate.exceeds_reference],
    )
    if len(measured) < 2:
        return base
    worst = max(measured, key=lambda name: _rate(rates[name]))
    best = min(measured, key=lambda name: _rate(rates[name]))
    worst_rate, best_rate = _rate(rates[worst]), _rate(rates[best])
    worst_low, best_high = _interval(rates[worst])[0], _interval(rates[best])[1]
    worst_people, best_people = rates[worst].ci95_by_identity, rates[best].ci95_by_identity
    return replace(
        base,
        worst=worst,
        worst_rate=worst_rate,
        best=best,
        best_rate=best_rate,
        worst_to_reference=worst_rate / reference,
        worst_to_best=worst_rate / best_rate if best_rate > 0 else None,
        worst_to_best_at_least=worst_low / best_high,
        differs=worst_low > best_high,
        differs_by_identity=(
            worst_people[0] > best_people[1] if worst_people and best_people else None),
    )


def _rate(rate: GroupRate) -> float:
    if rate.rate is None:
        raise ValueError("only a measured rate can be compared")
    return rate.rate


def _interval(rate: GroupRate) -> tuple[float, float]:
    if rate.ci95 is None:
        raise ValueError("only a rate with comparisons has an interval")
    return rate.ci95

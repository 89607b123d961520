"""Counting comparisons per group, and per person, at each calibrated threshold.

Counts only, so all 87M LFW pairs are tallied block by block without keeping a score; the rates,
intervals and differentials are then computed from the counts by :mod:`benchmarks.differential`
(:func:`rates_at`). Tested on hand-built score sets in ``tests/benchmarks/test_differential.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from benchmarks.differential import (
    Differential,
    GroupRate,
    differential,
    fmr_by_identity,
    fnmr_by_identity,
    group_rate,
    minimum_comparisons,
)

FalseMatchPairs = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]
"""``(a, b, k)``: pairs of people (``a < b``) with false matches between them, and how many."""


@dataclass(eq=False)
class Tally:
    """Comparisons and errors per cell (an unordered pair of groups) at each threshold.

    Cell ``[a, b]`` with ``a <= b`` holds the comparisons between an image of group ``a`` and
    one of group ``b``; the diagonal is each group's own. With ``people`` set, each group's own
    comparisons are also counted per person (genuine) and per pair of people (false matches),
    for the intervals that resample people.

    Attributes:
        groups: Group labels; an image's group is an index into them (``-1``: in none).
        thresholds: Decision thresholds, ``score >= threshold`` a match.
        people: Number of identities (0: nothing is counted per person).
    """

    groups: Sequence[str]
    thresholds: Sequence[float]
    people: int = 0
    genuine: NDArray[np.int64] = field(init=False)
    impostor: NDArray[np.int64] = field(init=False)
    false_non_matches: NDArray[np.int64] = field(init=False)
    false_matches: NDArray[np.int64] = field(init=False)
    images_by_person: NDArray[np.int64] = field(init=False)
    genuine_by_person: NDArray[np.int64] = field(init=False)
    false_non_matches_by_person: NDArray[np.int64] = field(init=False)
    _false_match_keys: list[list[NDArray[np.int64]]] = field(init=False)

    def __post_init__(self) -> None:
        size, count = len(self.groups), len(self.thresholds)
        self.genuine = np.zeros((size, size), dtype=np.int64)
        self.impostor = np.zeros((size, size), dtype=np.int64)
        self.false_non_matches = np.zeros((count, size, size), dtype=np.int64)
        self.false_matches = np.zeros((count, size, size), dtype=np.int64)
        self.images_by_person = np.zeros((size, self.people), dtype=np.int64)
        self.genuine_by_person = np.zeros((size, self.people), dtype=np.int64)
        self.false_non_matches_by_person = np.zeros((count, size, self.people), dtype=np.int64)
        self._false_match_keys = [[] for _ in self.thresholds]

    def count_images(self, groups: NDArray[np.integer], people: NDArray[np.integer]) -> None:
        """Count each group's images per person (``-1``: in no group), once, before the pairs:
        the FMR resampled by people needs how many images each person brings."""
        kept = groups >= 0
        self.images_by_person += _count(
            groups[kept] * self.people + people[kept], (len(self.groups), self.people))

    def add(
        self,
        scores: NDArray[np.floating],
        same: NDArray[np.bool_],
        first: NDArray[np.integer],
        second: NDArray[np.integer],
        people: tuple[NDArray[np.integer], NDArray[np.integer]] | None = None,
    ) -> None:
        """Count comparisons: one score each, whether it is same-person, its two images'
        groups (``-1``: left out) and, with ``people`` counted, its two images' people.

        Thresholds are compared in the scores' own dtype, as :mod:`benchmarks.metrics` does, so
        a threshold calibrated on float32 scores splits them exactly as calibration did.
        """
        size = len(self.groups)
        kept = (first >= 0) & (second >= 0)
        low = np.minimum(first, second)[kept].astype(np.int64)
        high = np.maximum(first, second)[kept].astype(np.int64)
        cells, values, genuine = low * size + high, scores[kept], same[kept]
        square, grid = (size, size), (size, self.people)
        own = low == high
        # A group's own comparisons by person, (group, person) cells, and by pair of people,
        # (group, person, person) keys: the persons of each comparison, the lower first.
        persons = keys = None
        if people is not None and self.people:
            one, other = people[0][kept][own], people[1][kept][own]
            persons = low[own] * self.people + one
            pair_low, pair_high = np.minimum(one, other), np.maximum(one, other)
            keys = (low[own] * self.people + pair_low) * self.people + pair_high
        self.genuine += _count(cells[genuine], square)
        self.impostor += _count(cells[~genuine], square)
        if persons is not None:
            self.genuine_by_person += _count(persons[genuine[own]], grid)
        for index, threshold in enumerate(self.thresholds):
            matched = values >= values.dtype.type(threshold)
            self.false_non_matches[index] += _count(cells[genuine & ~matched], square)
            self.false_matches[index] += _count(cells[~genuine & matched], square)
            if persons is not None and keys is not None:
                missed, wrongly = (genuine & ~matched)[own], (~genuine & matched)[own]
                self.false_non_matches_by_person[index] += _count(persons[missed], grid)
                self._false_match_keys[index].append(keys[wrongly])

    def false_match_pairs(self, index: int, group: int) -> FalseMatchPairs:
        """The pairs of people of ``group`` with false matches at threshold ``index``."""
        keys = np.concatenate([np.zeros(0, dtype=np.int64), *self._false_match_keys[index]])
        pairs, counts = np.unique(keys, return_counts=True)
        in_group = pairs // (self.people * self.people) == group
        pairs = pairs[in_group] % (self.people * self.people)
        return pairs // self.people, pairs % self.people, counts[in_group]


def _count(keys: NDArray[np.integer], shape: tuple[int, int]) -> NDArray[np.int64]:
    """How many of ``keys`` (flat positions) fall in each cell of an array of ``shape``."""
    return np.bincount(keys, minlength=shape[0] * shape[1]).reshape(shape)


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """A calibrated threshold: its target FMR and the FNMR measured when it was calibrated."""

    fmr: float
    threshold: float
    fnmr: float

    @property
    def fnmr_reference(self) -> float:
        """The FNMR groups are held against; a calibration that missed no genuine pair gives
        no scale for it, so the target FMR stands in (stated in the report)."""
        return self.fnmr if self.fnmr > 0 else self.fmr


@dataclass(frozen=True, slots=True)
class PointRates:
    """Every group's FMR and FNMR at one operating point, the cells across groups, and the
    differentials."""

    point: OperatingPoint
    fmr: dict[str, GroupRate]
    fnmr: dict[str, GroupRate]
    across: list[tuple[str, str, GroupRate, GroupRate]]  # (a, b, fmr, fnmr)
    pooled_fmr: GroupRate
    pooled_fnmr: GroupRate
    fmr_differential: Differential
    fnmr_differential: Differential


def rates_at(tally: Tally, index: int, point: OperatingPoint) -> PointRates:
    """The rates of ``tally`` at its threshold number ``index``, which is ``point``'s."""
    fmr_minimum = minimum_comparisons(point.fmr)
    fnmr_minimum = minimum_comparisons(point.fnmr_reference)
    matches, misses = tally.false_matches[index], tally.false_non_matches[index]

    def fmr(errors: int, comparisons: int, group: int | None = None) -> GroupRate:
        people = None
        if group is not None and tally.people:
            people = fmr_by_identity(tally.images_by_person[group],
                                     tally.false_match_pairs(index, group))
        return group_rate(errors, comparisons, reference=point.fmr, minimum=fmr_minimum,
                          by_identity=people)

    def fnmr(errors: int, comparisons: int, group: int | None = None) -> GroupRate:
        people = None
        if group is not None and tally.people:
            people = fnmr_by_identity(tally.genuine_by_person[group],
                                      tally.false_non_matches_by_person[index, group])
        return group_rate(errors, comparisons, reference=point.fnmr_reference,
                          minimum=fnmr_minimum, by_identity=people)

    fmrs = {g: fmr(int(matches[i, i]), int(tally.impostor[i, i]), i)
            for i, g in enumerate(tally.groups)}
    fnmrs = {g: fnmr(int(misses[i, i]), int(tally.genuine[i, i]), i)
             for i, g in enumerate(tally.groups)}
    across = [
        (a, b, fmr(int(matches[i, j]), int(tally.impostor[i, j])),
         fnmr(int(misses[i, j]), int(tally.genuine[i, j])))
        for i, a in enumerate(tally.groups)
        for j, b in enumerate(tally.groups)
        if i < j
    ]
    return PointRates(
        point=point,
        fmr=fmrs,
        fnmr=fnmrs,
        across=across,
        pooled_fmr=fmr(int(matches.sum()), int(tally.impostor.sum())),
        pooled_fnmr=fnmr(int(misses.sum()), int(tally.genuine.sum())),
        fmr_differential=differential(fmrs, reference=point.fmr, minimum=fmr_minimum),
        fnmr_differential=differential(fnmrs, reference=point.fnmr_reference,
                                       minimum=fnmr_minimum),
    )

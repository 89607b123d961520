"""A change measured before and after in one run, on one machine.

The modes (``before``, ``after``) alternate round by round, so a load that drifts over the run
weighs on each alike, and each mode's figure is the median of its rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from statistics import median

from benchmarks.output import measured

Samples = dict[str, list[dict[str, float]]]
"""Per mode, one sample a round: the sample's figures by name."""


def alternated(modes: Sequence[str], *, rounds: int,
               measure: Callable[[str], dict[str, float]]) -> Samples:
    """``rounds`` samples of each mode, taken in turn (before, after, before, after...)."""
    samples: Samples = {mode: [] for mode in modes}
    for _ in range(rounds):
        for mode in modes:
            samples[mode].append(measure(mode))
    return samples


def medians(samples: Samples) -> dict[str, dict[str, float]]:
    """Per mode, each figure's median over the rounds (to the millisecond, for seconds)."""
    return {mode: {key: round(median(sample[key] for sample in taken), 3)
                   for key in taken[0]} for mode, taken in samples.items()}


def summary(samples: Samples, *, rounds: int, seed: int,
            populate_seconds: float) -> dict[str, object]:
    """What a before/after result holds beside its size: the rounds, the population's seed and
    how long it took to make, each mode's medians and samples, and the machine (measured)."""
    return {"rounds": rounds, "seed": seed, "populate_seconds": round(populate_seconds, 1),
            "median_s": medians(samples), "samples": samples, **measured()}

"""What the benchmark tests read from a bench's result, checked as they read it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from benchmarks.modes import Samples


def samples_by_mode(result: Mapping[str, object], modes: Sequence[str]) -> Samples:
    """A before/after bench's samples (:func:`benchmarks.modes.summary`), checked to hold each
    of ``modes`` and no other: the rounds of each, as measured."""
    samples = result["samples"]
    assert isinstance(samples, dict) and set(samples) == set(modes)
    return samples

"""Value types and protocols shared across the engine.

The :class:`VectorIndex` protocol is what the consent core programs against, so an index
backend (hnswlib today, a distributed engine later) can be swapped without touching it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

Vector = NDArray[np.float32]
"""One L2-normalised embedding (shape ``(dim,)``) or a stack of them (``(n, dim)``)."""


class FacePick(StrEnum):
    """How to choose among several detected faces."""

    SINGLE = "single"  # exactly one face or a refusal: the enrolment rule
    LARGEST = "largest"
    CENTER = "center"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class DetectedFace:
    """One detection: box (x0, y0, x1, y1) in pixels, five landmarks and the detector score."""

    box: tuple[float, float, float, float]
    landmarks: NDArray[np.float32]
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def inter_eye_distance(self) -> float:
        """Distance between the eye landmarks: the resolution that actually matters for ArcFace."""
        return float(np.linalg.norm(self.landmarks[0] - self.landmarks[1]))


@dataclass(frozen=True, slots=True)
class FaceEmbedding:
    """A detected face and its L2-normalised embedding, tagged with the model that made it."""

    face: DetectedFace
    vector: Vector
    model_id: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    """An index answer: the label the caller stored and the exact cosine similarity."""

    label: int
    score: float


@runtime_checkable
class VectorIndex(Protocol):
    """An approximate nearest-neighbour index whose removals are physical.

    Labels are non-negative integers chosen by the caller (the ledger's template ids).
    Vectors are L2-normalised float32 rows; scores are exact cosine similarities.
    """

    @property
    def dim(self) -> int: ...

    def add(self, labels: Sequence[int], vectors: Vector) -> None:
        """Insert or replace the vectors stored under ``labels``."""

    def remove(self, labels: Collection[int]) -> None:
        """Erase the vectors: never searchable again, and their bytes overwritten in memory."""

    def differing(self, labels: Sequence[int], vectors: Vector) -> list[int]:
        """Those of ``labels`` not held with exactly these vectors (absent, or another)."""

    def search(
        self, vector: Vector, k: int, allowed: Collection[int] | None = None
    ) -> list[SearchHit]:
        """The ``k`` nearest labels by cosine, restricted to ``allowed`` when given."""

    def save(self, path: Path | None = None, *, whole: bool = False) -> None:
        """Write atomically (temporary file + rename) to ``path`` or the index's own path;
        after removals only, scrub the file in place unless its key was destroyed or
        ``whole`` is asked (then written whole under a new key, the old one destroyed)."""

    def save_later(self) -> None:
        """Save in the background if the file's key was destroyed; coalesced."""

    def settle(self) -> None:
        """Wait until no background save is owed or running, nor any save begun."""

    def key_destroyed(self) -> bool:
        """Whether the file last saved or loaded lost its key since (it no longer opens, and
        the next :meth:`save` writes it whole); False when there is none."""

    def flush_removals(self) -> None:
        """Make every removal so far physical in the index's own saved file, at once.

        The file may lag memory by additions (the ledger holds them), never by removals.
        """

    def additions_since_save(self) -> int:
        """Vectors added since the file was last written whole: what a crash would lose."""

    def load(self, path: Path | None = None) -> None:
        """Replace the in-memory content by the saved file."""

    def count(self) -> int:
        """Number of live (not removed) vectors."""

    def labels(self) -> set[int]:
        """The live labels, for reconciliation with the ledger."""

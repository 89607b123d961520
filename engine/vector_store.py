"""The exact float32 copy of an index's live vectors, kept beside its graph.

It serves the exact pass over small galleries and the scoring of the graph's answers, so both
paths score with the same float32 products. It is never written to disk, and a removal zeroes
the row at once: the copy must not outlive the template it holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

_CHUNK_ROWS = 1024  # gather this many rows at a time: a 2 MiB scratch stays in cache


class VectorStore:
    """The exact float32 copy of the live vectors: one row per label, zeroed on removal."""

    def __init__(self, dim: int, capacity: int) -> None:
        self._matrix = np.zeros((capacity, dim), dtype=np.float32)
        self._row_labels = np.full(capacity, -1, dtype=np.int64)
        self._row_of: dict[int, int] = {}
        self._free = list(range(capacity - 1, -1, -1))
        # Reused for every gathered chunk and zeroed after use, so gathering leaves no copies.
        self._scratch = np.zeros((_CHUNK_ROWS, dim), dtype=np.float32)

    @classmethod
    def adopt(cls, row_labels: NDArray[np.int64], matrix: NDArray[np.float32]) -> VectorStore:
        """A store over ``matrix`` itself (no copy); rows labelled -1 are zeroed and free."""
        store = cls(matrix.shape[1], 0)
        free = row_labels < 0
        matrix[free] = 0
        store._matrix, store._row_labels = matrix, row_labels
        store._row_of = {int(label): row for row, label in enumerate(row_labels) if label >= 0}
        store._free = np.flatnonzero(free)[::-1].tolist()
        return store

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, label: int) -> bool:
        return label in self._row_of

    def labels(self) -> set[int]:
        return set(self._row_of)

    def holds(self, row: NDArray[np.float32]) -> bool:
        """Whether any row, live or freed, still holds these exact bytes (an erasure audit)."""
        return bool((self._matrix == row).all(axis=1).any())

    def same(self, labels: Sequence[int], rows: NDArray[np.float32]) -> list[bool]:
        """For each label, whether it is live and holds exactly that row (compared in place,
        one view at a time: no gathered copy of the vectors is left behind)."""
        row_of, matrix = self._row_of, self._matrix
        return [label in row_of and bool(np.array_equal(matrix[row_of[label]], row))
                for label, row in zip(labels, rows, strict=True)]

    def put(self, labels: Sequence[int], vectors: NDArray[np.float32]) -> None:
        rows = np.fromiter((self._row_for(label) for label in labels), dtype=np.int64,
                           count=len(labels))
        self._matrix[rows] = vectors
        self._row_labels[rows] = labels

    def erase(self, labels: Iterable[int]) -> None:
        rows = [self._row_of.pop(label) for label in labels]
        self._matrix[rows] = 0
        self._row_labels[rows] = -1
        self._free.extend(rows)

    def rows(self, labels: Iterable[int]) -> NDArray[np.int64]:
        """The rows of the live labels among ``labels``; others are skipped."""
        row_of = self._row_of
        return np.fromiter((row_of[label] for label in labels if label in row_of),
                           dtype=np.int64)

    def live_rows(self) -> NDArray[np.int64]:
        return np.flatnonzero(self._row_labels >= 0)

    def labels_at(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        return self._row_labels[rows]

    def scores(self, rows: NDArray[np.int64], query: NDArray[np.float32]) -> NDArray[np.float32]:
        """Exact inner products of ``query`` with the given rows, gathered chunk by chunk."""
        scores = np.empty(len(rows), dtype=np.float32)
        scratch = self._scratch
        for start in range(0, len(rows), _CHUNK_ROWS):
            chunk = rows[start:start + _CHUNK_ROWS]
            gathered = scratch[: len(chunk)]
            np.take(self._matrix, chunk, axis=0, out=gathered)
            np.matmul(gathered, query, out=scores[start:start + len(chunk)])
        scratch[: min(len(rows), _CHUNK_ROWS)] = 0
        return scores

    def _row_for(self, label: int) -> int:
        row = self._row_of.get(label)
        if row is None:
            if not self._free:
                self._grow()
            row = self._row_of[label] = self._free.pop()
        return row

    def _grow(self) -> None:
        old_matrix, old_labels = self._matrix, self._row_labels
        capacity = max(2 * len(old_matrix), _CHUNK_ROWS)
        self._matrix = np.zeros((capacity, old_matrix.shape[1]), dtype=np.float32)
        self._matrix[: len(old_matrix)] = old_matrix
        self._row_labels = np.full(capacity, -1, dtype=np.int64)
        self._row_labels[: len(old_labels)] = old_labels
        self._free.extend(range(capacity - 1, len(old_matrix) - 1, -1))
        old_matrix.fill(0)

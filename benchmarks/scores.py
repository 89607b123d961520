"""Embeddings of a whole LFW-shaped folder and the similarity scores built from them.

One module shared by ``eval_lfw`` (which reports the scores) and ``calibrate`` (which turns them
into the service's thresholds), so the two can never disagree on how a score is computed.

Scores are cosine similarities of the L2-normalised templates (a dot product, as the service
computes them). An image in which no face was found has no template: every pair involving it
gets the score ``FAILED_SCORE`` (-1, the lowest cosine), i.e. it counts as a non-match, which is
what the service would answer for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from benchmarks.lfw import Pair, embed_paths, people
from optinface.engine.pipeline import FacePipeline

FAILED_SCORE = np.float32(-1.0)
# Rows per block of the all-pairs matmul: 512 x 13,233 float32 scores (27 MB) plus two boolean
# masks of the same shape keep the peak small next to the 350 MB of impostor scores.
BLOCK_ROWS = 512


@dataclass(frozen=True, slots=True, eq=False)
class Corpus:
    """Every image of the folder, its person and its template (NaN row: no face found).

    Attributes:
        paths: Images, person by person (sorted by name), each person's by image number.
        identities: Index into ``names`` of each image's person.
        names: Person names, sorted.
        vectors: ``(n_images, dim)`` float32 templates; NaN rows where no face was found.
        det_scores: Detector score of the face each template was made from (NaN: none).
        inter_eye_px: Inter-eye distance in pixels of that face (NaN: none).
        seconds: Time the pipeline took to embed them (the first, uncached run).
        cached: Whether the vectors came from the embedding cache.
    """

    paths: list[Path]
    identities: NDArray[np.int64]
    names: list[str]
    vectors: NDArray[np.float32]
    det_scores: NDArray[np.float32]
    inter_eye_px: NDArray[np.float32]
    seconds: float
    cached: bool

    @property
    def found(self) -> NDArray[np.bool_]:
        """``True`` where a face was found."""
        return ~np.isnan(self.vectors[:, 0])

    @property
    def failures(self) -> int:
        return int((~self.found).sum())

    def index_of(self) -> dict[Path, int]:
        return {path: position for position, path in enumerate(self.paths)}


def load_corpus(pipeline: FacePipeline, root: Path, *, use_cache: bool = True) -> Corpus:
    """Embed every image under ``root`` once (or read the cache outside the repository)."""
    everyone = people(root)
    names = sorted(everyone)
    paths = [path for name in names for path in everyone[name]]
    identities = np.asarray(
        [number for number, name in enumerate(names) for _ in everyone[name]], dtype=np.int64
    )
    embedded = embed_paths(pipeline, paths, use_cache=use_cache)
    return Corpus(
        paths=paths,
        identities=identities,
        names=names,
        vectors=np.ascontiguousarray(embedded.vectors, dtype=np.float32),
        det_scores=np.asarray(embedded.det_scores, dtype=np.float32),
        inter_eye_px=np.asarray(embedded.inter_eye_px, dtype=np.float32),
        seconds=embedded.seconds,
        cached=embedded.from_cache,
    )


def pair_scores(corpus: Corpus, pairs: Sequence[Pair]) -> NDArray[np.float32]:
    """Score of each listed pair; ``FAILED_SCORE`` where either image has no face."""
    where = corpus.index_of()
    first = np.asarray([where[pair.first] for pair in pairs], dtype=np.int64)
    second = np.asarray([where[pair.second] for pair in pairs], dtype=np.int64)
    vectors = corpus.vectors
    scores = np.einsum("ij,ij->i", vectors[first], vectors[second]).astype(np.float32)
    scores[~(corpus.found[first] & corpus.found[second])] = FAILED_SCORE
    return scores


@dataclass(frozen=True, slots=True, eq=False)
class PairScores:
    """Every same-person and every different-person pair of a corpus, each scored once.

    Both arrays are sorted ascending and begin with the pairs that involve an image with no
    face (``FAILED_SCORE``), so the pairs the service would actually compare are a view of the
    tail, not a copy of hundreds of MB.

    Attributes:
        genuine: Scores of all same-person pairs (LFW: ~242k).
        impostor: Scores of all different-person pairs (LFW: ~87M, float32 ~350 MB).
        genuine_failed: Leading genuine entries that are failures.
        impostor_failed: Leading impostor entries that are failures.
        seconds: Time spent computing and sorting the scores.
    """

    genuine: NDArray[np.float32]
    impostor: NDArray[np.float32]
    genuine_failed: int
    impostor_failed: int
    seconds: float

    @property
    def genuine_found(self) -> NDArray[np.float32]:
        """Same-person pairs where both faces were found."""
        return self.genuine[self.genuine_failed :]

    @property
    def impostor_found(self) -> NDArray[np.float32]:
        """Different-person pairs where both faces were found."""
        return self.impostor[self.impostor_failed :]


def all_pair_scores(corpus: Corpus, *, block_rows: int = BLOCK_ROWS) -> PairScores:
    """Score every unordered pair of distinct images, split into genuine and impostor.

    Scores are computed block by block with float32 matmuls and written straight into
    preallocated float32 arrays, so the peak memory is the impostor array plus one block.
    """
    started = time.perf_counter()
    found = corpus.found
    total_genuine = _same_person_pairs(corpus.identities)
    found_genuine = _same_person_pairs(corpus.identities[found])
    n_all, n_found = len(corpus.paths), int(found.sum())
    total_impostor = n_all * (n_all - 1) // 2 - total_genuine
    found_impostor = n_found * (n_found - 1) // 2 - found_genuine

    genuine = np.empty(total_genuine, dtype=np.float32)
    impostor = np.empty(total_impostor, dtype=np.float32)
    genuine_failed, impostor_failed = total_genuine - found_genuine, total_impostor - found_impostor
    genuine[:genuine_failed] = FAILED_SCORE
    impostor[:impostor_failed] = FAILED_SCORE

    vectors = np.ascontiguousarray(corpus.vectors[found])
    genuine_at, impostor_at = genuine_failed, impostor_failed
    for block in pair_blocks(vectors, corpus.identities[found], block_rows=block_rows):
        genuine_values = block.scores[block.upper & block.same]
        impostor_values = block.scores[block.upper & ~block.same]
        genuine[genuine_at : genuine_at + genuine_values.size] = genuine_values
        impostor[impostor_at : impostor_at + impostor_values.size] = impostor_values
        genuine_at += genuine_values.size
        impostor_at += impostor_values.size
    if genuine_at != total_genuine or impostor_at != total_impostor:
        raise RuntimeError("pair counts do not add up")  # a bug in this module, not bad data
    genuine[genuine_failed:].sort()
    impostor[impostor_failed:].sort()
    return PairScores(
        genuine=genuine,
        impostor=impostor,
        genuine_failed=genuine_failed,
        impostor_failed=impostor_failed,
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True, slots=True, eq=False)
class PairBlock:
    """Images ``start:stop`` (rows) scored against every image from ``start`` on (columns).

    Attributes:
        start, stop: The rows' image positions; column ``j`` is image ``start + j``.
        scores: ``(stop - start, n - start)`` float32 cosine scores.
        upper: ``True`` where the column's image comes after the row's: each pair once.
        same: ``True`` where the two images show the same person.
    """

    start: int
    stop: int
    scores: NDArray[np.float32]
    upper: NDArray[np.bool_]
    same: NDArray[np.bool_]

    def of_pairs(self, values: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Per-image ``values`` (one per row of the vectors) of each pair's two images, the
        pairs in the order of ``scores[upper]``."""
        shape = self.scores.shape
        return (np.broadcast_to(values[self.start : self.stop, None], shape)[self.upper],
                np.broadcast_to(values[None, self.start :], shape)[self.upper])


def pair_blocks(
    vectors: NDArray[np.float32], identities: NDArray[np.int64], *, block_rows: int = BLOCK_ROWS
) -> Iterator[PairBlock]:
    """Every unordered pair of distinct rows of ``vectors``, scored a block of rows at a time
    with float32 matmuls, so no more than one block of scores is ever held."""
    count = len(vectors)
    for start in range(0, count, block_rows):
        stop = min(start + block_rows, count)
        yield PairBlock(
            start=start,
            stop=stop,
            scores=vectors[start:stop] @ vectors[start:].T,
            upper=np.arange(count - start)[None, :] > np.arange(stop - start)[:, None],
            same=identities[start:stop, None] == identities[None, start:],
        )


def _same_person_pairs(identities: NDArray[np.int64]) -> int:
    counts = np.bincount(identities) if identities.size else np.zeros(0, dtype=np.int64)
    return int((counts * (counts - 1) // 2).sum())

"""Micro-benchmarks of :meth:`engine.index.HnswIndex.search` against numpy brute force.

Run with ``pytest benchmarks -m micro --benchmark-enable``. The index holds 20,000 clustered
vectors by default: building 100,000 (M=32, ef_construction=200) takes about four minutes on
two cores, too long for a micro-benchmark. Set ``BENCH_INDEX_N=100000`` for the full size;
``python -m benchmarks.bench_index`` has the complete figures.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from benchmarks.bench_index import SEED, Dataset, brute_force, clustered
from optinface.engine.index import HnswIndex

pytestmark = pytest.mark.micro

SIZE = int(os.environ.get("BENCH_INDEX_N", "20000"))


@pytest.fixture(scope="module")
def data() -> Dataset:
    return clustered(SIZE, 256, np.random.default_rng(SEED))


@pytest.fixture(scope="module")
def index(data: Dataset) -> HnswIndex:
    index = HnswIndex(dim=data.vectors.shape[1], max_elements=SIZE)
    index.add(range(SIZE), data.vectors)
    return index


def test_search_unfiltered(benchmark, index: HnswIndex, data: Dataset) -> None:
    queries = itertools.cycle(data.queries)
    hits = benchmark(lambda: index.search(next(queries), 10))
    assert len(hits) == 10


@pytest.mark.parametrize("fraction", [0.01, 0.10])
def test_search_within_allowed_gallery(
    benchmark, index: HnswIndex, data: Dataset, fraction: float
) -> None:
    gallery = set(range(0, SIZE, round(1 / fraction)))
    queries = itertools.cycle(data.queries)
    hits = benchmark(lambda: index.search(next(queries), 10, allowed=gallery))
    assert {hit.label for hit in hits} <= gallery


def test_numpy_brute_force_baseline(benchmark, data: Dataset) -> None:
    search = brute_force(data.vectors)
    queries = itertools.cycle(data.queries)
    assert len(benchmark(lambda: search(next(queries)))) == 10

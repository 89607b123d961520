"""1:N index variants the field uses, against exact search and the service's HnswIndex, one run.

The question (issue 15): at 1M templates on one core, can a search find every neighbour above
the match threshold (match recall >= 0.999), return the exact rank-1 on >= 99.9% of queries,
and stay within 5 ms at p99? Every variant is measured against exact numpy search of the same
queries. A 1M hnswlib graph took 22-63 minutes to build on two shared cores, so the other
variants were measured at 30k and 100k, hnswlib and usearch i8 also at 1M
(``benchmarks/README.md``).

Variants (each search single-threaded; "rerank" = the top ``RERANK`` candidates of the coarse
pass re-scored exactly with the float32 copy that :class:`engine.index.HnswIndex` already keeps):

* ``hnswlib``: the service's :class:`HnswIndex` (M=32, ef_construction=200), per ``ef``.
* ``hnswlib-shuffled``: the same, rows inserted in a seeded random order instead of LFW's
  templates first (at 1M, gallery order lost the person searched for far more often).
* ``faiss-ivf-sq8``: an inverted file (``4 sqrt(N)`` k-means lists) of 8-bit scalar-quantized
  vectors, per ``nprobe``, + rerank. Builds in seconds, not minutes.
* ``faiss-hnsw-sq8``: faiss's HNSW graph over 8-bit vectors (4x less memory read per hop),
  per ``efSearch``, + rerank.
* ``usearch-i8``: usearch's HNSW over int8 vectors (SIMD kernels), per expansion, + rerank.

Data: ``synthetic`` are the clustered 512-d vectors of ``bench_index.py``. ``lfw`` are real
templates: a seeded subset of LFW deep-funneled (people with at least two images, read by path,
never copied, never enrolled; embeddings cached outside the repository by ``benchmarks.lfw``),
one image per person held out as the query, the rest in the gallery, filled up to the size with
distractors drawn from a Gaussian with the mean and covariance of one LFW template per person
(normalised),
whose score distribution against LFW is reported next to LFW's own impostor scores.

Recall: ``match_recall`` is the issue's measure, the share of the exact top-10 scoring at least
the FMR 1e-3 threshold (0.233) that a variant returns; ``genuine_match_recall`` (LFW only)
counts only those that are the query's own person. They differ on real data: at FMR 1e-3 one
stranger in a thousand passes the threshold, so a 100k gallery holds ~80 strangers above it
for every query, in the thin tail of the score distribution where a graph search is weakest;
``rank1_identical`` is whether the best answer equals exact search's.

Latency is reported as wall time and as the thread's CPU time per query: on two cores shared
with other agents (load average 10-17), a wall p99 mostly measures how long the scheduler kept
the thread off a core, so the targets are judged on the CPU-time p99 and both are recorded.

Build time is measured with the threads the machine has; ``build_scaling`` re-times the
hnswlib build of the first ``SCALING_ROWS`` vectors with 1 and with 2 threads.

Usage::

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.bench_index_variants --size 100000 \\
        [--data synthetic lfw] [--queries 300] [--lfw PATH] [--lfw-images 3000] \\
        [--only faiss-ivf-sq8 ...] [--out benchmarks/results]

Writes ``bench_index_variants_<size>.json`` and ``.png`` (match recall against p99 latency).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter
from numpy.typing import NDArray

from benchmarks.bench_index import MATCH_SCORE, clustered, exact_top, rss_mib, unit
from benchmarks.lfw import DEFAULT_LFW, embed_paths, people
from benchmarks.output import RESULTS, write_results
from optinface.engine.index import HnswIndex

SEED = 20261130
DIM = 512
K = 10
RERANK = 64
SCALING_ROWS = 20_000
TARGETS = {"match_recall": 0.999, "rank1_identical": 0.999, "p99_ms": 5.0}
EFS = (64, 128, 256, 512)
BUILD_CHUNK = 50_000  # rows per add(): progress and build time per chunk on long builds
BRUTE_FORCE_QUERIES = 200  # exact search is timed on these; its recall is 1 by definition
# Stricter thresholds, for a gallery so large that N x FMR strangers pass FMR 1e-3: the cosine
# at each FMR on all 87M impostor pairs of LFW (results/eval_lfw.json, tar_at_far). FMR 1e-6
# rests on 87 pairs, several of them one person filed under two names (benchmarks/README.md).
STRICT_THRESHOLDS = {"1e-4": 0.2954, "1e-5": 0.3579, "1e-6": 0.5390}

Searcher = Callable[[NDArray[np.float32]], NDArray[np.int64]]


@dataclass(frozen=True)
class Data:
    name: str
    vectors: NDArray[np.float32]
    queries: NDArray[np.float32]
    top: NDArray[np.int64]
    scores: NDArray[np.float32]
    notes: dict[str, Any]
    # Per gallery row, its person (LFW) or -1 (a distractor or synthetic); per query, its person.
    row_person: NDArray[np.int64] | None = None
    query_person: NDArray[np.int64] | None = None


# Data -------------------------------------------------------------------------------------------
def synthetic(size: int, queries: int, rng: np.random.Generator) -> Data:
    data = clustered(size, queries, rng)
    return Data("synthetic", data.vectors, data.queries, data.truth.top, data.truth.scores,
                {"kind": "clustered synthetic, ~10 samples per identity (bench_index.py)"})


def lfw_subset(root: Path, images: int, rng: np.random.Generator) -> tuple[list[Path], list[int]]:
    """Every image (``images`` >= LFW's 13,233: the order ``benchmarks.scores`` caches), or a
    seeded subset of whole people with at least two images, about ``images`` in all."""
    everyone = people(root)
    if images >= sum(len(paths) for paths in everyone.values()):
        names = sorted(everyone)
        order: Sequence[int] = range(len(names))
    else:
        names = sorted(name for name, paths in everyone.items() if len(paths) >= 2)
        order = rng.permutation(len(names)).tolist()
    paths: list[Path] = []
    owners: list[int] = []
    for number in order:
        paths += everyone[names[number]]
        owners += [number] * len(everyone[names[number]])
        if len(paths) >= images:
            break
    return paths, owners


def lfw(size: int, queries: int, root: Path, images: int, rng: np.random.Generator) -> Data:
    from optinface.engine.pipeline import FacePipeline
    from optinface.engine.settings import EngineSettings

    paths, owners = lfw_subset(root, images, np.random.default_rng(SEED))
    embedded = embed_paths(FacePipeline.from_settings(EngineSettings()), paths)
    found = ~np.isnan(embedded.vectors[:, 0])
    templates = np.ascontiguousarray(embedded.vectors[found], dtype=np.float32)
    person = np.asarray(owners)[found]
    # One held-out image per person with two or more (up to ``queries``) probes a gallery
    # holding the others: every query has at least one true mate.
    _, firsts, counts = np.unique(person, return_index=True, return_counts=True)
    firsts = firsts[counts >= 2]
    held = np.sort(rng.choice(firsts, min(queries, len(firsts)), replace=False))
    kept = np.setdiff1d(np.arange(len(templates)), held)
    # Fitted on one template per person: a distractor is a new identity, and fitting on every
    # image let the many photos of a few people pull distractors towards them (2.8x LFW's own
    # impostor scores above the threshold in a first run).
    distractors = gaussian_like(templates[np.unique(person, return_index=True)[1]],
                                size - len(kept), rng)
    vectors = np.concatenate([templates[kept], distractors])
    probes = templates[held]
    truth = exact_top(vectors, probes)
    notes = {
        "kind": "LFW deep-funneled templates + Gaussian distractors fitted to them",
        "lfw_images": len(paths), "lfw_templates": len(templates), "lfw_in_gallery": len(kept),
        "queries_held_out": len(held), "distractors": len(distractors),
        "score_distributions": score_distributions(templates, person, distractors, rng),
        "queries_with_a_match_above_threshold": int((truth.scores[:, 0] >= MATCH_SCORE).sum()),
    }
    row_person = np.concatenate([person[kept], np.full(len(distractors), -1)])
    notes["above_thresholds_per_query"] = above_thresholds(vectors, probes, row_person,
                                                           person[held])
    return Data("lfw", vectors, probes, truth.top, truth.scores, notes,
                row_person=row_person, query_person=person[held])


def gaussian_like(templates: NDArray[np.float32], count: int,
                  rng: np.random.Generator) -> NDArray[np.float32]:
    """``count`` unit vectors from a Gaussian with the templates' mean and covariance."""
    mean = templates.mean(axis=0, dtype=np.float64)
    centred = templates - mean
    # sqrt of the covariance through the SVD of the centred data: no 512x512 Cholesky to fail.
    _, singular, basis = np.linalg.svd(centred, full_matrices=False)
    scale = (singular / math.sqrt(len(templates) - 1))[:, None] * basis
    out = np.empty((count, templates.shape[1]), dtype=np.float32)
    for start in range(0, count, 65_536):
        n = min(65_536, count - start)
        out[start:start + n] = mean + rng.standard_normal((n, len(scale))) @ scale
    return unit(out)


def score_distributions(templates: NDArray[np.float32], person: NDArray[np.int64],
                        distractors: NDArray[np.float32],
                        rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """Cosine quantiles of LFW impostor pairs against distractor-to-LFW pairs (same count)."""
    pairs = 200_000
    a, b = rng.integers(0, len(templates), (2, pairs))
    impostor = (a != b) & (person[a] != person[b])
    lfw_scores = np.einsum("ij,ij->i", templates[a[impostor]], templates[b[impostor]])
    d = rng.integers(0, len(distractors), impostor.sum())
    mixed = np.einsum("ij,ij->i", distractors[d], templates[b[impostor]])
    genuine_a, genuine_b = same_person_pairs(person, rng)
    genuine = np.einsum("ij,ij->i", templates[genuine_a], templates[genuine_b])

    def describe(scores: NDArray[np.float32]) -> dict[str, float]:
        return {"mean": round(float(scores.mean()), 4), "std": round(float(scores.std()), 4),
                **{f"q{q}": round(float(np.quantile(scores, q / 1000)), 4)
                   for q in (1, 500, 999)},
                "above_match_threshold": round(float((scores >= MATCH_SCORE).mean()), 6)}

    return {"lfw_impostor": describe(lfw_scores), "distractor_vs_lfw": describe(mixed),
            "lfw_genuine": describe(genuine)}


def above_thresholds(vectors: NDArray[np.float32], probes: NDArray[np.float32],
                     row_person: NDArray[np.int64],
                     query_person: NDArray[np.int64]) -> dict[str, dict[str, float]]:
    """Per query, how many gallery rows score at or above each threshold, over the whole
    gallery (not only the top 10): the query's mates, other LFW people and distractors, beside
    what a gallery of real strangers would give at that FMR (``N x FMR``)."""
    thresholds = {"1e-3": MATCH_SCORE, **STRICT_THRESHOLDS}
    counts = {fmr: np.zeros(3) for fmr in thresholds}
    distractor = row_person < 0
    for start in range(0, len(probes), 64):
        scores = probes[start:start + 64] @ vectors.T
        mate = row_person[None, :] == query_person[start:start + 64, None]
        for fmr, threshold in thresholds.items():
            above = scores >= threshold
            counts[fmr] += [(above & mate).sum(), (above & ~mate & ~distractor).sum(),
                            (above & distractor).sum()]
    strangers = len(vectors) - 1
    return {fmr: {"threshold": thresholds[fmr],
                  **dict(zip(("mates", "lfw_strangers", "distractors"),
                             (round(float(c) / len(probes), 3) for c in counts[fmr]),
                             strict=True)),
                  "strangers_expected_at_fmr": round(strangers * float(fmr), 3)}
            for fmr in thresholds}


def same_person_pairs(person: NDArray[np.int64],
                      rng: np.random.Generator) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    order = np.argsort(person, kind="stable")
    same = person[order[1:]] == person[order[:-1]]
    return order[:-1][same], order[1:][same]


# Variants ---------------------------------------------------------------------------------------
def rerank(store: NDArray[np.float32], candidates: NDArray[np.int64],
           query: NDArray[np.float32]) -> NDArray[np.int64]:
    candidates = candidates[candidates >= 0]
    scores = store[candidates] @ query
    return candidates[np.argsort(-scores)[:K]]


def hnswlib_variant(data: Data, efs: Sequence[int]) -> Iterator[tuple[dict[str, Any], Searcher]]:
    """The service's index, rows inserted in gallery order (LFW's templates first)."""
    return hnswlib_in_order(data, efs, np.arange(len(data.vectors)))


def hnswlib_shuffled(data: Data, efs: Sequence[int]) -> Iterator[tuple[dict[str, Any], Searcher]]:
    """The same, rows inserted in a seeded random order: a real gallery enrols people in no
    particular order, where gallery order builds LFW's links before any distractor exists."""
    return hnswlib_in_order(data, efs, np.random.default_rng(SEED).permutation(len(data.vectors)))


def hnswlib_in_order(data: Data, efs: Sequence[int],
                     order: NDArray[np.int64]) -> Iterator[tuple[dict[str, Any], Searcher]]:
    before = rss_mib()
    index = HnswIndex(dim=DIM, max_elements=len(data.vectors))
    started, started_cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(data.vectors), BUILD_CHUNK):
        labels = order[start:start + BUILD_CHUNK]
        index.add(labels.tolist(), data.vectors[labels])
        if len(data.vectors) > BUILD_CHUNK:
            print(f"    hnswlib build {start + len(labels):,} rows: "
                  f"{time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f}",
                  flush=True)
    build = {"build_s": time.perf_counter() - started,
             "build_cpu_s": time.process_time() - started_cpu,
             "build_threads": len(os.sched_getaffinity(0)),
             "rss_delta_mib": rss_mib() - before}
    # Per vector: the graph's float32 row and level-0 links (2M ints), label, and our exact copy.
    memory = DIM * 4 + 2 * 32 * 4 + 12 + DIM * 4
    for ef in efs:
        index.ef_search = ef
        yield ({"params": {"m": 32, "ef_construction": 200, "ef": ef}, **build,
                "bytes_per_vector": memory},
               lambda q: np.asarray([h.label for h in index.search(q, K)], dtype=np.int64))


def faiss_ivf_sq8(data: Data, efs: Sequence[int]) -> Iterator[tuple[dict[str, Any], Searcher]]:
    import faiss

    del efs  # swept by nprobe instead
    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))
    lists = int(4 * math.sqrt(len(data.vectors)))
    quantizer = faiss.IndexFlatIP(DIM)
    index = faiss.IndexIVFScalarQuantizer(quantizer, DIM, lists, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    started = time.perf_counter()
    sample = np.random.default_rng(SEED).choice(len(data.vectors), min(len(data.vectors),
                                                                     40 * lists), replace=False)
    index.train(data.vectors[np.sort(sample)])
    index.add(data.vectors)
    build = time.perf_counter() - started
    faiss.omp_set_num_threads(1)
    memory = DIM + 8 + DIM * 4  # code + id in its list, + the float32 copy for the rerank
    for nprobe in (8, 16, 32, 64, 128):
        index.nprobe = nprobe
        yield ({"params": {"lists": lists, "nprobe": nprobe, "rerank": RERANK},
                "build_s": build, "bytes_per_vector": memory},
               lambda q: rerank(data.vectors, index.search(q[None, :], RERANK)[1][0], q))


def faiss_hnsw_sq8(data: Data, efs: Sequence[int]) -> Iterator[tuple[dict[str, Any], Searcher]]:
    import faiss

    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))
    index = faiss.IndexHNSWSQ(DIM, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 200
    started = time.perf_counter()
    index.train(data.vectors[: min(len(data.vectors), 50_000)])
    index.add(data.vectors)
    build = time.perf_counter() - started
    faiss.omp_set_num_threads(1)
    memory = DIM + 2 * 32 * 4 + DIM * 4
    for ef in efs:
        index.hnsw.efSearch = ef
        yield ({"params": {"m": 32, "ef_construction": 200, "ef": ef, "rerank": RERANK},
                "build_s": build, "bytes_per_vector": memory},
               lambda q: rerank(data.vectors, index.search(q[None, :], RERANK)[1][0], q))


def usearch_i8(data: Data, efs: Sequence[int]) -> Iterator[tuple[dict[str, Any], Searcher]]:
    from usearch.index import Index

    index = Index(ndim=DIM, metric="cos", dtype="i8", connectivity=32, expansion_add=200)
    started = time.perf_counter()
    index.add(np.arange(len(data.vectors)), data.vectors,
              threads=len(os.sched_getaffinity(0)))
    build = time.perf_counter() - started
    memory = DIM + 2 * 32 * 4 + DIM * 4
    for ef in efs:
        index.expansion_search = ef
        yield ({"params": {"connectivity": 32, "expansion_add": 200, "expansion_search": ef,
                           "rerank": RERANK}, "build_s": build, "bytes_per_vector": memory},
               lambda q: rerank(data.vectors,
                                np.asarray(index.search(q, RERANK, threads=1).keys,
                                           dtype=np.int64), q))


Variant = Callable[[Data, Sequence[int]], Iterator[tuple[dict[str, Any], Searcher]]]
VARIANTS: dict[str, Variant] = {
    "hnswlib": hnswlib_variant, "hnswlib-shuffled": hnswlib_shuffled,
    "faiss-ivf-sq8": faiss_ivf_sq8, "faiss-hnsw-sq8": faiss_hnsw_sq8, "usearch-i8": usearch_i8}


# Measuring --------------------------------------------------------------------------------------
def measure(search: Searcher, data: Data) -> dict[str, Any]:
    latencies, cpu, results = [], [], []
    for query in data.queries:
        started, started_cpu = time.perf_counter(), time.thread_time()
        results.append(search(query))
        cpu.append(time.thread_time() - started_cpu)
        latencies.append(time.perf_counter() - started)
    ms, cpu_ms = np.asarray(latencies) * 1000, np.asarray(cpu) * 1000
    found = wanted = mates_found = mates_wanted = 0
    for number, (result, top, scores) in enumerate(zip(results, data.top, data.scores,
                                                       strict=True)):
        matches = top[scores >= MATCH_SCORE]
        returned = set(result[:K].tolist())
        found += len(set(matches.tolist()) & returned)
        wanted += len(matches)
        if data.row_person is not None and data.query_person is not None:
            mates = matches[data.row_person[matches] == data.query_person[number]]
            mates_found += len(set(mates.tolist()) & returned)
            mates_wanted += len(mates)
    genuine = {"genuine_match_recall": mates_found / mates_wanted} if mates_wanted else {}
    return {
        **genuine,
        "match_recall": found / wanted if wanted else 1.0,
        "strict": {f"fmr_{fmr}": strict_recall(results, data, threshold)
                   for fmr, threshold in STRICT_THRESHOLDS.items()},
        "rank1_identical": float(np.mean([len(r) and r[0] == t[0]
                                          for r, t in zip(results, data.top, strict=True)])),
        "recall_at_10": float(np.mean([len(set(r[:K].tolist()) & set(t.tolist())) / K
                                       for r, t in zip(results, data.top, strict=True)])),
        "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
        "cpu_p50_ms": float(np.percentile(cpu_ms, 50)),
        "cpu_p99_ms": float(np.percentile(cpu_ms, 99)),
    }


def strict_recall(results: list[NDArray[np.int64]], data: Data,
                  threshold: float) -> dict[str, float]:
    """Match recall and its genuine share at a stricter ``threshold``, with what it counts."""
    found = wanted = mates_found = mates_wanted = 0
    for number, (result, top, scores) in enumerate(zip(results, data.top, data.scores,
                                                       strict=True)):
        matches = top[scores >= threshold]
        hits = np.isin(matches, result[:K])
        found, wanted = found + int(hits.sum()), wanted + len(matches)
        if data.row_person is not None and data.query_person is not None:
            mate = data.row_person[matches] == data.query_person[number]
            mates_found, mates_wanted = mates_found + int(hits[mate].sum()), mates_wanted + int(
                mate.sum())
    row = {"threshold": threshold, "match_recall": found / wanted if wanted else 1.0,
           "neighbours_above": wanted}
    if mates_wanted:
        row |= {"genuine_match_recall": mates_found / mates_wanted, "mates_above": mates_wanted}
    return row


def brute_force(data: Data) -> dict[str, Any]:
    """Exact search timed on the first BRUTE_FORCE_QUERIES queries (a 1M scan is ~0.2 s)."""
    def search(query: NDArray[np.float32]) -> NDArray[np.int64]:
        scores = data.vectors @ query
        top = np.argpartition(-scores, K - 1)[:K]
        return top[np.argsort(-scores[top])]

    n = BRUTE_FORCE_QUERIES
    subset = Data(data.name, data.vectors, data.queries[:n], data.top[:n], data.scores[:n], {},
                  data.row_person, None if data.query_person is None else data.query_person[:n])
    return measure(search, subset)


def build_scaling(data: Data, rows_wanted: int = SCALING_ROWS) -> dict[str, float]:
    """hnswlib build of the first ``rows_wanted`` vectors with 1 thread, then with 2.

    The process CPU time is recorded too: on a shared machine the wall-time ratio moves with
    the load, while equal CPU seconds for both mean the work divides between threads without
    loss, so the build speeds up with free cores.
    """
    import hnswlib

    rows = data.vectors[:rows_wanted]
    seconds: dict[str, float] = {"rows": len(rows)}
    for threads in (1, 2):
        graph = hnswlib.Index(space="ip", dim=DIM)
        graph.init_index(max_elements=len(rows), M=32, ef_construction=200)
        started, started_cpu = time.perf_counter(), time.process_time()
        graph.add_items(rows, np.arange(len(rows)), num_threads=threads)
        seconds[f"{threads}_thread_s"] = time.perf_counter() - started
        seconds[f"{threads}_thread_cpu_s"] = time.process_time() - started_cpu
        print(f"  build of {len(rows):,} rows, {threads} thread(s): "
              f"{seconds[f'{threads}_thread_s']:.0f} s", flush=True)
    seconds["speedup_2_threads"] = seconds["1_thread_s"] / seconds["2_thread_s"]
    return seconds


def run(data: Data, only: Sequence[str],
        saved: Callable[[dict[str, Any]], None] = lambda report: None,
        efs: Sequence[int] = EFS) -> dict[str, Any]:
    """Every variant in ``only`` on ``data`` (graphs searched at each of ``efs``); ``saved`` gets
    the report after each row, so a run stopped on a busy machine still leaves what it
    measured."""
    report: dict[str, Any] = {"data": data.name, "size": len(data.vectors),
                              "queries": len(data.queries), "notes": data.notes,
                              "load_average_start": os.getloadavg(),
                              "brute_force": brute_force(data), "variants": {}}
    print(f"{data.name} N={len(data.vectors)}: brute force {report['brute_force']}", flush=True)
    for name in only:
        rows: list[dict[str, Any]] = []
        report["variants"][name] = rows
        for config, search in VARIANTS[name](data, efs):
            row = {**config, **measure(search, data)}
            row["meets_targets"] = (row["match_recall"] >= TARGETS["match_recall"]
                                    and row["rank1_identical"] >= TARGETS["rank1_identical"]
                                    and row["cpu_p99_ms"] <= TARGETS["p99_ms"])
            rows.append(row)
            print(f"  {name} {row['params']}: build {row['build_s']:.1f}s match "
                  f"{row['match_recall']:.4f} genuine {row.get('genuine_match_recall', '-')} "
                  f"rank1 {row['rank1_identical']:.4f} p50 "
                  f"{row['p50_ms']:.2f} p99 {row['p99_ms']:.2f} ms, cpu p50 "
                  f"{row['cpu_p50_ms']:.2f} p99 {row['cpu_p99_ms']:.2f} ms; strict "
                  f"{ {fmr: round(r['match_recall'], 4) for fmr, r in row['strict'].items()} }",
                  flush=True)
            report["load_average_end"] = os.getloadavg()
            saved(report)
    return report


def plot(reports: list[dict[str, Any]], path: Path) -> None:
    figure = Figure(figsize=(6.4 * len(reports), 4.8), dpi=110, layout="tight")
    for ax, report in zip(np.atleast_1d(figure.subplots(1, len(reports))), reports, strict=True):
        for name, rows in report["variants"].items():
            cpu = [r["cpu_p99_ms"] for r in rows]
            (line,) = ax.plot(cpu, [r["match_recall"] for r in rows], "o-",
                              label=f"{name}, FMR 1e-3 ({MATCH_SCORE})")
            strictest = list(STRICT_THRESHOLDS)[-1]
            ax.plot(cpu, [r["strict"][f"fmr_{strictest}"]["match_recall"] for r in rows],
                    "s--", color=line.get_color(),
                    label=f"{name}, FMR {strictest} ({STRICT_THRESHOLDS[strictest]})")
            for row in rows:
                knob = next(value for key, value in row["params"].items()
                            if key in ("ef", "nprobe", "expansion_search"))
                ax.annotate(str(knob),
                            (row["cpu_p99_ms"], row["match_recall"]), fontsize=7,
                            textcoords="offset points", xytext=(3, -9))
        brute = report["brute_force"]
        ax.scatter([brute["cpu_p99_ms"]], [brute["match_recall"]], marker="*", s=150,
                   color="black", label="numpy exact", zorder=3)
        ax.axhline(TARGETS["match_recall"], color="grey", linestyle=":")
        ax.axvline(TARGETS["p99_ms"], color="grey", linestyle=":")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(xlabel="p99 CPU time per query, one thread (ms)", ylabel="match recall",
               title=f"{report['data']} N={report['size']:,}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    figure.savefig(path, format="png")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--data", nargs="+", default=["synthetic", "lfw"],
                        choices=["synthetic", "lfw"])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--lfw", type=Path, default=DEFAULT_LFW)
    parser.add_argument("--lfw-images", type=int, default=3000)
    parser.add_argument("--only", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--efs", type=int, nargs="+", default=list(EFS),
                        help="search list sizes of the graph variants")
    parser.add_argument("--scaling", action="store_true", help="time 1 vs 2 build threads")
    parser.add_argument("--scaling-rows", type=int, default=SCALING_ROWS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(SEED)
    reports: list[dict[str, Any]] = []
    kinds = "" if set(args.data) == {"synthetic", "lfw"} else "_" + "_".join(args.data)

    def save(current: dict[str, Any]) -> None:
        done = [*reports, current]
        write_results(f"bench_index_variants_{args.size}{kinds}", {
            "seed": SEED, "k": K, "rerank": RERANK, "match_score": MATCH_SCORE,
            "targets": TARGETS, "strict_thresholds": STRICT_THRESHOLDS,
            "machine": platform.platform(),
            "cpus": len(os.sched_getaffinity(0)),
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "numpy default"),
            "note": "2 cores shared with other agents: compare variants within this run",
            "reports": done}, lambda _, path: plot(done, path), folder=args.out)

    for name in args.data:
        data = (synthetic(args.size, args.queries, rng) if name == "synthetic"
                else lfw(args.size, args.queries, args.lfw, args.lfw_images, rng))
        report = run(data, args.only, save, args.efs)
        if args.scaling:
            report["build_scaling"] = build_scaling(data, args.scaling_rows)
            print(f"  build scaling: {report['build_scaling']}", flush=True)
            save(report)
        reports.append(report)


if __name__ == "__main__":
    main()

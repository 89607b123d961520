"""The index-variant study runs on a tiny gallery and scores each variant against exact search."""

from __future__ import annotations

import importlib.util

import numpy as np

from benchmarks.bench_index_variants import (
    STRICT_THRESHOLDS,
    Data,
    gaussian_like,
    run,
    strict_recall,
    synthetic,
)


def test_the_service_index_finds_every_match_of_a_tiny_gallery() -> None:
    data = synthetic(2_000, 20, np.random.default_rng(1))
    report = run(data, ["hnswlib"])
    rows = report["variants"]["hnswlib"]
    assert [row["params"]["ef"] for row in rows] == [64, 128, 256, 512]
    assert all(row["match_recall"] == 1.0 and row["rank1_identical"] == 1.0 for row in rows)
    assert report["brute_force"]["recall_at_10"] == 1.0


def test_a_variant_that_misses_neighbours_is_scored_below_exact() -> None:
    data = synthetic(2_000, 20, np.random.default_rng(2))
    shuffled = Data("shuffled", data.vectors, data.queries[::-1].copy(), data.top, data.scores,
                    {})
    assert run(shuffled, [])["brute_force"]["rank1_identical"] < 0.5


def test_distractors_share_the_mean_and_spread_of_the_templates_they_imitate() -> None:
    rng = np.random.default_rng(3)
    direction = rng.standard_normal(64)
    templates = rng.standard_normal((4_000, 64)) * 0.5 + direction
    templates = (templates / np.linalg.norm(templates, axis=1, keepdims=True)).astype(np.float32)
    distractors = gaussian_like(templates, 4_000, rng)
    assert np.allclose(np.linalg.norm(distractors, axis=1), 1.0, atol=1e-5)
    assert np.abs(distractors.mean(axis=0) - templates.mean(axis=0)).max() < 0.03
    assert abs(float((distractors @ templates[:200].T).std())
               - float((templates[200:] @ templates[:200].T).std())) < 0.02


def test_optional_libraries_are_measured_when_installed() -> None:
    wanted = [name for name, module in (("faiss-ivf-sq8", "faiss"), ("usearch-i8", "usearch"))
              if importlib.util.find_spec(module) is not None]
    data = synthetic(3_000, 10, np.random.default_rng(4))
    report = run(data, wanted)
    for name in wanted:
        assert report["variants"][name] and all("cpu_p99_ms" in row
                                                for row in report["variants"][name])


def test_strict_thresholds_count_only_the_neighbours_above_them() -> None:
    # One query; its exact top-10 scores 0.9 (its mate, row 0), 0.4 and 0.3 (strangers), then
    # below every threshold. The variant misses row 1, the stranger at 0.4.
    scores = np.array([[0.9, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]], dtype=np.float32)
    top = np.arange(10, dtype=np.int64)[None, :]
    data = Data("known", np.zeros((10, 4), np.float32), np.zeros((1, 4), np.float32), top,
                scores, {}, row_person=np.array([7] + [-1] * 9), query_person=np.array([7]))
    result = [np.array([0, 2, 3, 4, 5, 6, 7, 8, 9, 9], dtype=np.int64)]
    at_1e5 = strict_recall(result, data, STRICT_THRESHOLDS["1e-5"])
    assert (at_1e5["match_recall"], at_1e5["neighbours_above"]) == (0.5, 2)
    assert (at_1e5["genuine_match_recall"], at_1e5["mates_above"]) == (1.0, 1)
    assert strict_recall(result, data, STRICT_THRESHOLDS["1e-4"])["match_recall"] == 2 / 3
    assert strict_recall(result, data, STRICT_THRESHOLDS["1e-6"])["match_recall"] == 1.0

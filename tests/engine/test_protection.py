"""Template rotation keeps cosine similarity and makes deployments unlinkable."""

from __future__ import annotations

import numpy as np

from optinface.engine.protection import TemplateProtector


def _unit_rows(count: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, 512)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_rotation_keeps_cosines_to_1e_5() -> None:
    vectors = _unit_rows(200, seed=1)
    protected = TemplateProtector.generate().protect(vectors)
    assert np.abs(protected @ protected.T - vectors @ vectors.T).max() < 1e-5


def test_protected_templates_differ_from_raw_embeddings() -> None:
    vectors = _unit_rows(50, seed=2)
    protected = TemplateProtector.generate().protect(vectors)
    assert np.abs(np.sum(protected * vectors, axis=1)).max() < 0.3


def test_two_deployments_cannot_be_linked() -> None:
    vectors = _unit_rows(50, seed=3)
    first = TemplateProtector.generate().protect(vectors)
    second = TemplateProtector.generate().protect(vectors)
    # The same face under two keys looks like two strangers.
    assert np.abs(np.sum(first * second, axis=1)).max() < 0.3


def test_rekeying_moves_templates_without_changing_scores() -> None:
    vectors = _unit_rows(100, seed=4)
    old, new = TemplateProtector.generate(), TemplateProtector.generate()
    moved = old.reprotect(old.protect(vectors), new)
    assert np.abs(moved - new.protect(vectors)).max() < 1e-5
    assert np.abs(moved @ moved.T - vectors @ vectors.T).max() < 1e-5


def test_the_key_survives_its_byte_form() -> None:
    created = TemplateProtector.generate()
    reloaded = TemplateProtector.from_bytes(created.to_bytes())
    assert reloaded.fingerprint == created.fingerprint
    vectors = _unit_rows(3, seed=5)
    assert np.array_equal(reloaded.protect(vectors), created.protect(vectors))

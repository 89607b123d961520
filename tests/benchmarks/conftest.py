"""The benchmark tests' own fixtures: a tiny LFW-shaped folder (:mod:`tests.support.tiny_lfw`)
and its corpus, embedded once for the module (no test changes it: ``Corpus`` is frozen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.scores import Corpus, load_corpus
from optinface.engine.decode import BgrImage
from optinface.engine.pipeline import FacePipeline
from tests.support.tiny_lfw import write_tiny_lfw


@pytest.fixture(scope="module")
def tiny_lfw(tmp_path_factory: pytest.TempPathFactory, portrait_images: list[BgrImage]) -> Path:
    return write_tiny_lfw(tmp_path_factory.mktemp("tiny-lfw"), portrait_images)


@pytest.fixture(scope="module")
def tiny_corpus(pipeline: FacePipeline, tiny_lfw: Path) -> Corpus:
    return load_corpus(pipeline, tiny_lfw, use_cache=False)

"""Micro-benchmarks of the face path, each against its baseline in the same process."""

from __future__ import annotations

import pytest
from insightface.app import FaceAnalysis

from benchmarks.bench_embed import baseline_model_dir, face_analysis
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings

pytestmark = pytest.mark.micro


@pytest.fixture(scope="module")
def baseline() -> FaceAnalysis:
    return face_analysis(640, baseline_model_dir(EngineSettings()))


def test_embed_one_face_optinface(benchmark, pipeline: FacePipeline, portrait_jpeg: bytes) -> None:
    result = benchmark(pipeline.embed_single, portrait_jpeg)
    assert result.vector.shape == (512,)


def test_embed_one_face_face_analysis_640(
    benchmark, pipeline: FacePipeline, portrait_jpeg: bytes, baseline: FaceAnalysis
) -> None:
    def decode_and_analyse() -> list:
        return baseline.get(pipeline.decode(portrait_jpeg))

    faces = benchmark(decode_and_analyse)
    assert len(faces) == 1

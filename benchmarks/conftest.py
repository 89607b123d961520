"""Fixtures for the pytest-benchmark micro-benchmarks (``pytest benchmarks -m micro
--benchmark-enable``); the default test run (``tests/``) does not collect this folder."""

from __future__ import annotations

import pytest

from optinface.engine.pipeline import FacePipeline
from optinface.engine.samples import encode, portraits
from optinface.engine.settings import EngineSettings


@pytest.fixture(scope="session")
def pipeline() -> FacePipeline:
    return FacePipeline.from_settings(EngineSettings())


@pytest.fixture(scope="session")
def portrait_jpeg(pipeline: FacePipeline) -> bytes:
    return encode(portraits(pipeline.detector)[0])

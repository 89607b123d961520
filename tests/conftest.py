"""Fixtures shared by every test folder: the real engine, loaded once per session, and face
images cut from the photo that insightface ships (no photo is committed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from optinface.engine.decode import BgrImage
from optinface.engine.pipeline import FacePipeline
from optinface.engine.samples import encode, portraits
from optinface.engine.settings import EngineSettings


@pytest.fixture(scope="session")
def pipeline() -> FacePipeline:
    """The real models, hash-checked; shared because loading them is the slow part."""
    return FacePipeline.from_settings(EngineSettings())


@pytest.fixture(scope="session")
def portrait_images(pipeline: FacePipeline) -> list[BgrImage]:
    """Six different people, one single-face portrait each."""
    return portraits(pipeline.detector)


@pytest.fixture(scope="session")
def portrait_jpegs(portrait_images: list[BgrImage]) -> list[bytes]:
    return [encode(image) for image in portrait_images]


@pytest.fixture
def engine_settings(tmp_path: Path) -> EngineSettings:
    return EngineSettings(data_dir=tmp_path / "var")


@pytest.fixture(scope="session")
def flipped_jpegs(portrait_images) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The same six people, mirrored: a different photo of the same face."""
    from optinface.engine.samples import Variant, encode, variant

    return [encode(variant(image, Variant.FLIP)) for image in portrait_images]

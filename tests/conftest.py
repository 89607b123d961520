"""Fixtures shared by every test folder: the real engine, loaded once per session, and face
images cut from the photo that insightface ships (no photo is committed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from optinface.engine.decode import BgrImage
from optinface.engine.pipeline import FacePipeline
from optinface.engine.samples import encode, portraits
from optinface.engine.settings import EngineSettings
from tests.support.backends import url_for_backend
from tests.support.postgres import PostgresServer, available, postgres_server


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


@pytest.fixture(scope="session")
def flipped_jpegs(portrait_images: list[BgrImage]) -> list[bytes]:
    """The same six people, mirrored: a different photo of the same face."""
    from optinface.engine.samples import Variant, variant

    return [encode(variant(image, Variant.FLIP)) for image in portrait_images]


@pytest.fixture
def engine_settings(tmp_path: Path) -> EngineSettings:
    return EngineSettings(data_dir=tmp_path / "var")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL 15 server for the whole session (see :mod:`tests.support.postgres`)."""
    from tests.api.server import free_port

    missing = available()
    if missing:
        pytest.fail(missing)
    with postgres_server(free_port()) as server:
        yield server


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the data directory) unless parametrised with "postgresql" (see
    :data:`tests.support.backends.both_backends`): then a fresh database on the session's server.

    ``OPTINFACE_TEST_BACKEND=postgresql`` runs every unparametrised test on PostgreSQL too
    (the whole suite takes too long for CI twice over; CI runs the ``both_backends`` ones).
    """
    return url_for_backend(request)


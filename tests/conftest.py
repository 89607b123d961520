"""Fixtures shared by every test folder: the real engine, loaded once per session, and face
images cut from the photo that insightface ships (no photo is committed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from optinface.engine.decode import BgrImage
from optinface.engine.pipeline import FacePipeline
from optinface.engine.samples import encode, portraits
from optinface.engine.settings import EngineSettings
from tests.postgres import PostgresServer, available, postgres_server

BACKENDS = ("sqlite", "postgresql")
both_backends = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
"""Runs a test once on the embedded SQLite default and once on a fresh PostgreSQL database."""


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
    """One real PostgreSQL 15 server for the whole session (see :mod:`tests.postgres`)."""
    from tests.api.server import free_port

    missing = available()
    if missing:
        pytest.fail(missing)
    with postgres_server(free_port()) as server:
        yield server


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the data directory) unless parametrised with "postgresql"
    (see :data:`both_backends`): then a fresh database on the session's server.

    ``OPTINFACE_TEST_BACKEND=postgresql`` runs every unparametrised test on PostgreSQL too
    (the whole suite takes too long for CI twice over; CI runs the ``both_backends`` ones).
    """
    return url_for_backend(request)


def url_for_backend(request: pytest.FixtureRequest) -> str | None:
    """The database URL for the backend a fixture was parametrised with (see above)."""
    default = os.environ.get("OPTINFACE_TEST_BACKEND", "sqlite")
    if getattr(request, "param", default) == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()

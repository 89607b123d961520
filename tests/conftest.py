"""Fixtures shared by every test folder: the real engine, loaded once per session, face images
cut from the photo that insightface ships (no photo is committed), the database backend, and
the API deployment the API and reliability tests run against.

The deployment fixtures give each test its own deployment, except in a module marked
``pytest.mark.shared_deployment`` (:data:`SHARED`), whose tests share one. Tests that need
another configuration open their own with :func:`tests.support.api.deployment`. A folder
overrides ``api_settings`` for its own (``tests/reliability``: a 64-slot index); the consent
tests override ``service`` and ``world`` with the consent core's own.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, closing, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest
from fastapi.testclient import TestClient

from optinface.api.access_log import uvicorn_log_config
from optinface.api.app import create_app
from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from optinface.engine.decode import BgrImage
from optinface.engine.pipeline import FacePipeline
from optinface.engine.samples import encode, portraits
from optinface.engine.settings import EngineSettings
from tests.support.api import (
    Deployment,
    Keys,
    World,
    auth,
    deployment,
    make_keys,
    publish_purpose,
    set_up_world,
    settings_for_tests,
)
from tests.support.backends import url_for_backend
from tests.support.lazy import OpenedOnFirstUse
from tests.support.postgres import PostgresServer, available, postgres_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The order in which ``./dev test`` hands whole files to its workers (``--dist loadfile
    --no-loadscope-reorder``): the files holding a ``slow`` test first, then the others, each
    group by its number of tests, most first. xdist's own order is the number of tests alone,
    which put the crash, memory, corpus and packaging files last (three to eight tests each,
    up to a minute): one worker ran them after the others had nothing left."""
    tests_in = Counter(item.path for item in items)
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (item.path not in slow_files, -tests_in[item.path]))


YOUNG_COLLECTION_EVERY = 50_000
"""Allocations between two collections of the youngest generation, in each test process
(Python's default: 700). A test opens a deployment and drops it: tens of thousands of objects
each (31,000 kept per deployment while FastAPI's cache held its app), most of them in cycles.
At the default the collector ran 5,527 young and 32 full collections over 172 tests (five
files), 9.1 s of a 76 s run on the 2-core VM; at this threshold 1,324 and 12, 3.6 s, for 48 MB
more at the peak (timed with ``gc.callbacks``)."""


def pytest_configure() -> None:
    """The collector's thresholds for this process (:data:`YOUNG_COLLECTION_EVERY`)."""
    gc.set_threshold(YOUNG_COLLECTION_EVERY, 20, 20)


def pytest_collection_finish() -> None:
    """The modules, test functions and apps made at collection live as long as the process:
    frozen out of the collector's way, so that each full collection scans only what the tests
    made since."""
    gc.collect()
    gc.freeze()


SERVER_LOGGERS = tuple(uvicorn_log_config()["loggers"])
"""The loggers a server's configuration sets up (:func:`loggers_left_as_found`)."""


@pytest.fixture(scope="session")
def logging_errors() -> Iterator[list[str]]:
    """Every log line a handler failed to write, as ``logging`` would print it to stderr and
    go on: a line lost is a test's failure (:func:`loggers_left_as_found`), not noise."""
    failed: list[str] = []
    write_failed = logging.Handler.handleError

    def recorded(handler: logging.Handler, record: logging.LogRecord) -> None:
        failed.append(f"{record.name}: {record.getMessage()!r} ({sys.exc_info()[1]!r})")
        write_failed(handler, record)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logging.Handler, "handleError", recorded)
        yield failed


@pytest.fixture(autouse=True)
def loggers_left_as_found(logging_errors: list[str]) -> Iterator[None]:
    """Each test leaves the server's loggers as it found them, and loses no log line. Building
    the server's configuration (``api.cli.servers``, as a test of its TLS scheme does) binds
    their handlers to the ``sys.stderr`` of that moment: a test's captured stream, closed when
    the test ends, so a later test's server lost its access lines ("Logging error: I/O
    operation on closed file")."""
    loggers = [logging.getLogger(name) for name in SERVER_LOGGERS]
    found = [(logger.handlers[:], logger.level, logger.propagate, logger.disabled)
             for logger in loggers]
    yield
    for logger, (handlers, level, propagate, disabled) in zip(loggers, found, strict=True):
        for handler in set(logger.handlers) - set(handlers):
            handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled
    lost, logging_errors[:] = logging_errors[:], []
    assert not lost, f"log lines no handler could write: {lost}"


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
    from tests.support.server import free_port

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


T = TypeVar("T")
SHARED = "shared_deployment"
"""The marker (``pytestmark = pytest.mark.shared_deployment``) of a module whose tests share one
deployment: opening the service is the slow part of a test. Each test still gets a fresh
consenting subject, erased after it (see :func:`world`)."""


def shared(request: pytest.FixtureRequest) -> Deployment | None:
    """The module's deployment when the test's module is marked :data:`SHARED`, else None."""
    if request.node.get_closest_marker(SHARED) is None:
        return None
    module: OpenedOnFirstUse[Deployment] = request.getfixturevalue("module_deployment")
    return module.get()


@pytest.fixture(scope="module")
def module_deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    pipeline: FacePipeline,
) -> Iterator[OpenedOnFirstUse[Deployment]]:
    """The deployment of a :data:`SHARED` module, opened when a test first asks for it.

    On SQLite, unless the module parametrises it (:data:`tests.support.backends.on_both_backends`)
    or the environment asks for PostgreSQL (see ``tests.conftest.database_url``).
    """
    database_url = url_for_backend(request)
    with ExitStack() as stack:
        yield OpenedOnFirstUse(lambda: deployment(tmp_path_factory.mktemp("api"), pipeline,
                                                  database_url=database_url), stack)


@pytest.fixture
def api_settings(
    request: pytest.FixtureRequest, module_deployment: OpenedOnFirstUse[Deployment]
) -> ApiSettings:
    """The module's settings, or this test's own on its ``tmp_path`` and ``database_url``."""
    if (made := shared(request)) is not None:
        return made[0]
    return settings_for_tests(request.getfixturevalue("tmp_path"),
                              database_url=request.getfixturevalue("database_url"))


def shared_or_own(request: pytest.FixtureRequest, part: int,
                  own: Callable[[], AbstractContextManager[T]]) -> AbstractContextManager[T]:
    """Part ``part`` of the module's deployment (left open for the next test), or ``own()``."""
    made = shared(request)
    return nullcontext(made[part]) if made is not None else own()


@pytest.fixture
def service(
    request: pytest.FixtureRequest, api_settings: ApiSettings, pipeline: FacePipeline
) -> Iterator[OptinFace]:
    with shared_or_own(request, 1, lambda: closing(
            OptinFace.open(api_settings, pipeline=pipeline))) as opened:
        yield opened


@pytest.fixture
def client(
    request: pytest.FixtureRequest, api_settings: ApiSettings, service: OptinFace
) -> Iterator[TestClient]:
    with shared_or_own(request, 2, lambda: TestClient(
            create_app(api_settings, service=service))) as test_client:
        yield test_client


@pytest.fixture
def keys(request: pytest.FixtureRequest, service: OptinFace) -> Keys:
    if (made := shared(request)) is not None:
        return made[3]
    return make_keys(service)


@pytest.fixture(scope="module")
def shared_world(module_deployment: OpenedOnFirstUse[Deployment]) -> World:
    """The declared world of a :data:`SHARED` module (purpose, notice, declaration)."""
    _, _, client, keys = module_deployment.get()
    return set_up_world(client, keys)


@pytest.fixture(scope="module")
def second_use(shared_world: World) -> str:
    """A second purpose of a :data:`SHARED` module's world, so one use can be stopped and the
    other kept."""
    return publish_purpose(shared_world.client, shared_world.keys, "B")


@pytest.fixture
def world(request: pytest.FixtureRequest, client: TestClient, keys: Keys) -> Iterator[World]:
    """A declared world with one consenting subject.

    In a :data:`SHARED` module: the module's world with a new consenting subject for this test;
    every subject the test made is erased afterwards, so each test starts from an empty gallery.
    """
    if shared(request) is None:
        yield set_up_world(client, keys)
        return
    world = replace(request.getfixturevalue("shared_world"))
    world.created = []
    world.add_consenting_subject()
    yield world
    for subject in world.created:
        client.delete(f"/v1/subjects/{subject}", headers=auth(world.keys.admin))


@pytest.fixture
def worker_b(api_settings: ApiSettings, service: OptinFace, pipeline: FacePipeline,
             database_url: str | None) -> Iterator[TestClient]:
    """A second worker on the ledger at ``database_url``: on PostgreSQL its own service and
    data directory; on SQLite, which one process serves, a second app on the service (nothing
    held by the app, everything by the ledger)."""
    with ExitStack() as stack:
        other = service
        if service.runtime.db.shared:
            second = api_settings.model_copy(
                update={"data_dir": api_settings.data_dir.with_name("worker-b")})
            other = stack.enter_context(closing(OptinFace.open(second, pipeline=pipeline)))
        yield stack.enter_context(TestClient(create_app(api_settings, service=other)))

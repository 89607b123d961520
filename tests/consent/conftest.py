"""Fixtures of the consent tests: a real SQLite file, the real engine, a clock we can move."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import ledger_for
from tests.support.consent import FakeClock, World, make_world, second_worker
from tests.support.deployment_template import FIRST_START, seed_deployment
from tests.support.ledger_template import seed_ledger
from tests.support.postgres import PostgresServer
from tests.support.thresholds import TEST_FMR, write_test_thresholds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2027, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def thresholds_path(tmp_path: Path) -> Path:
    """This test's OWN threshold file (:mod:`tests.support.thresholds`), not the calibration."""
    return write_test_thresholds(tmp_path / "thresholds.toml")


@pytest.fixture
def settings(tmp_path: Path, thresholds_path: Path, database_url: str | None) -> ConsentSettings:
    return ConsentSettings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        thresholds_path=thresholds_path,
        match_fmr=TEST_FMR,
        audit_checkpoint_every=10,
        index_max_elements=64,  # a 10k-slot index file is 20 MB to write on every save
        demo_mode=True,  # a test deployment: declarations recorded as if sent a period ago
    )


@pytest.fixture
def open_service(
    request: pytest.FixtureRequest, settings: ConsentSettings, pipeline: FacePipeline,
    clock: FakeClock
) -> Callable[[], OptinFace]:
    """Opens this test's deployment (its settings, the real engine, the clock): the ``service``
    fixture's, and again in the tests that close it, crash it or restore a copy under it. The
    first opens a copy of a first start (:mod:`tests.support.deployment_template`), unless the
    test is marked ``first_start``: then a copy of a migrated ledger
    (:mod:`tests.support.ledger_template`)."""
    first_start = request.node.get_closest_marker(FIRST_START) is not None

    def open_it() -> OptinFace:
        if not first_start:
            seed_deployment(settings, pipeline=pipeline, clock=clock)
        seed_ledger(settings)
        return OptinFace.open(settings, pipeline=pipeline, clock=clock)

    return open_it


@pytest.fixture
def service(open_service: Callable[[], OptinFace]) -> Iterator[OptinFace]:
    service = open_service()
    yield service
    service.close()


@pytest.fixture
def world(service: OptinFace, clock: FakeClock) -> World:
    return make_world(service, clock)


@pytest.fixture
def pg_settings(request: pytest.FixtureRequest, settings: ConsentSettings,
                postgres: PostgresServer) -> ConsentSettings:
    """This test's deployment on a fresh ledger of the session's PostgreSQL server."""
    return settings.model_copy(update={"database_url": ledger_for(request, postgres)})


@pytest.fixture
def workers(
    pg_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock
) -> Iterator[tuple[World, World]]:
    """Worker A (which made the keys) and worker B on one PostgreSQL ledger, each with its
    own data directory and index replica; the usual world set up through A."""
    with (closing(OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)) as a,
          closing(OptinFace.open(second_worker(pg_settings), pipeline=pipeline,
                                 clock=clock)) as b):
        world = make_world(a, clock)
        yield world, replace(world, service=b)

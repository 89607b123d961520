"""One deployment per test module, and a fresh subject per test, erased after it.

Opening the service dominates a test's time, so the API's test modules share one deployment:
``from tests.api.shared import ...`` in a module overrides the per-test fixtures of
``conftest.py`` for that module only (other folders keep their own deployment per test).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from optinface.api.settings import ApiSettings
from optinface.consent.service import OptinFace
from optinface.engine.pipeline import FacePipeline
from tests.api.conftest import Keys, World, auth, deployment, set_up_world
from tests.support.backends import BACKENDS, url_for_backend

Deployment = tuple[ApiSettings, OptinFace, TestClient, Keys]


@pytest.fixture(scope="module")
def shared_deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    pipeline: FacePipeline
) -> Iterator[Deployment]:
    """One deployment per test module: opening the service is the slow part of a test.

    On SQLite, unless the module parametrises it (``on_both_backends``) or the environment
    asks for PostgreSQL (see ``tests.conftest.database_url``).
    """
    with deployment(tmp_path_factory.mktemp("api"), pipeline,
                    database_url=url_for_backend(request)) as made:
        yield made


on_both_backends = pytest.mark.parametrize("shared_deployment", BACKENDS, indirect=True,
                                           scope="module")
"""``pytestmark = on_both_backends`` runs a whole module once on SQLite, once on PostgreSQL."""


@pytest.fixture
def api_settings(shared_deployment: Deployment) -> ApiSettings:
    return shared_deployment[0]


@pytest.fixture
def service(shared_deployment: Deployment) -> OptinFace:
    return shared_deployment[1]


@pytest.fixture
def client(shared_deployment: Deployment) -> TestClient:
    return shared_deployment[2]


@pytest.fixture
def keys(shared_deployment: Deployment) -> Keys:
    return shared_deployment[3]


@pytest.fixture(scope="module")
def shared_world(shared_deployment: Deployment) -> World:
    _, _, client, keys = shared_deployment
    return set_up_world(client, keys)


@pytest.fixture
def world(shared_world: World) -> Iterator[World]:
    """The module's declared deployment with a new consenting subject for this test.

    Every subject a test made is erased afterwards, so each test starts from an empty gallery.
    """
    client = shared_world.client
    world = replace(shared_world)
    world.created = []
    world.add_consenting_subject()
    yield world
    for subject in world.created:
        client.delete(f"/v1/subjects/{subject}", headers=auth(world.keys.admin))

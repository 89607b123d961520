"""Property-based requests generated from the OpenAPI schema: no input may cause a server error.

Examples are bounded so the whole module runs in well under a minute on two cores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from optinface.api.settings import ApiSettings
from optinface.consent.roles import Role
from optinface.consent.service import OptinFace
from optinface.engine.pipeline import FacePipeline
from tests.support.api import thresholds_for_tests
from tests.support.routes import unopened_app
from tests.support.thresholds import TEST_FMR

# The app exists at import time so schemathesis can read its schema; its service (on a
# tmp_path data dir) is attached by the fixture below, before any generated request is sent.
LIMITS = {"rate_per_second": 10_000, "rate_burst": 10_000,
          "sign_in_challenges_per_minute": 10_000, "sign_in_challenge_burst": 10_000}
app = unopened_app(**LIMITS)


@asynccontextmanager
async def _service_attached_by_the_fixture(_: FastAPI) -> AsyncIterator[None]:
    """Schemathesis starts the app's lifespan, which would open a service of its own on its
    unopened data directory (and a second one while the first is still up); the fixture's is
    used."""
    yield


app.router.lifespan_context = _service_attached_by_the_fixture
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
ADMIN: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def attached_service(
    tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline
) -> Iterator[None]:
    tmp = tmp_path_factory.mktemp("schema")
    service_settings = ApiSettings(
        data_dir=tmp / "var",
        thresholds_path=thresholds_for_tests(tmp),
        match_fmr=TEST_FMR,
        **LIMITS,  # type: ignore[arg-type]
    )
    service = OptinFace.open(service_settings, pipeline=pipeline)
    ADMIN["secret"] = service.create_api_key(actor=None, role=Role.ADMIN, name="fuzz").secret
    app.state.service = service
    yield
    service.close()


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {ADMIN['secret']}"}, checks=[not_a_server_error]
    )

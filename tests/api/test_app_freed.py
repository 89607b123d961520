"""An application and its service are freed once the service is closed: nothing the process
keeps (FastAPI's cache of the callables it classified, a route's closure) holds on to them, so
a process that serves one deployment after another does not keep every ledger engine and index
it ever opened."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from optinface.engine.pipeline import FacePipeline
from tests.support.api import deployment


def test_a_closed_deployments_app_and_service_are_freed(tmp_path: Path,
                                                         pipeline: FacePipeline) -> None:
    with deployment(tmp_path, pipeline) as (_, service, client, _keys):
        for page in ("/docs", "/redoc", "/healthz"):
            assert client.get(page).status_code == 200, page
        app, opened = weakref.ref(client.app), weakref.ref(service)
    del service, client
    gc.collect()
    assert app() is None, "the application outlived its closed service"
    assert opened() is None, "the closed service is still held"

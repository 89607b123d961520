"""Which database a test runs on: the embedded SQLite default or a fresh PostgreSQL database.

The ``database_url`` fixture (``tests/conftest.py``) asks :func:`url_for_backend`; a test opts in
to both backends with :data:`both_backends`.
"""

from __future__ import annotations

import os

import pytest

from tests.support.postgres import PostgresServer

BACKENDS = ("sqlite", "postgresql")
both_backends = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
"""Runs a test once on the embedded SQLite default and once on a fresh PostgreSQL database."""

BACKEND_ENV = "OPTINFACE_TEST_BACKEND"
"""``OPTINFACE_TEST_BACKEND=postgresql`` runs every unparametrised test on PostgreSQL too."""


def url_for_backend(request: pytest.FixtureRequest) -> str | None:
    """The database URL for the backend a fixture was parametrised with: None (SQLite in the
    data directory) or a new ledger on the session's server (the ``postgres`` fixture), its
    schema migrated (:meth:`tests.support.postgres.PostgresServer.new_ledger`)."""
    default = os.environ.get(BACKEND_ENV, "sqlite")
    if getattr(request, "param", default) == "sqlite":
        return None
    return ledger_for(request, request.getfixturevalue("postgres"))


def ledger_for(request: pytest.FixtureRequest, server: PostgresServer) -> str:
    """A new ledger on ``server`` (:meth:`~tests.support.postgres.PostgresServer.new_ledger`)
    for the fixture asking, dropped when that fixture ends: a session's cluster that kept
    every test's database (12 MB each) grew to 2-3 GB a worker, and deleting it at the end
    took 18-33 s of each worker's last test."""
    url = server.new_ledger()
    request.addfinalizer(lambda: server.drop(url))
    return url

on_both_backends = pytest.mark.parametrize("module_deployment", BACKENDS, indirect=True,
                                           scope="module")
"""``pytestmark = [pytest.mark.shared_deployment, on_both_backends]`` runs a whole API test
module on one deployment on SQLite, then on one on PostgreSQL (see ``tests/conftest.py``)."""

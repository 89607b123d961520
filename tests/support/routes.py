"""The application's routes as the tests read them without serving it: an app built for its
schema and routes alone, and the permission each route's guard demands, read from its
dependencies (see ``api.deps``)."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from optinface.api.app import create_app
from optinface.api.deps import PermissionGuard
from optinface.api.settings import ApiSettings
from optinface.consent.roles import Permission

UNOPENED = Path(tempfile.gettempdir()) / f"optinface-unopened-{secrets.token_hex(8)}"
"""The data directory of :func:`unopened_app`: outside the checkout, and never made."""


def unopened_app(**settings: Any) -> FastAPI:
    """The application as served, with ``settings``, built for its schema and routes: its
    service is never opened (a test that serves it attaches its own), so nothing is made."""
    return create_app(ApiSettings(data_dir=UNOPENED, **settings))


def permission_guard(dependant: Dependant) -> PermissionGuard | None:
    """The route's :class:`PermissionGuard`, however deep among its dependencies, or None."""
    for sub in dependant.dependencies:
        if isinstance(sub.call, PermissionGuard):
            return sub.call
        found = permission_guard(sub)
        if found is not None:
            return found
    return None


def permissions(app: FastAPI) -> dict[tuple[str, str], Permission | None]:
    """(method, full path) of every API route: the permission it demands, None if unguarded."""
    found: dict[tuple[str, str], Permission | None] = {}
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            guard = permission_guard(context.original_route.dependant)
            for method in context.methods or ():
                found[(method, str(context.path))] = guard.permission if guard else None
    return found

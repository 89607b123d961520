"""The permission a route's guard demands, read from its dependencies (see ``api.deps``)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from optinface.api.deps import PermissionGuard
from optinface.consent.roles import Permission


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

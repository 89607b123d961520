"""The two web areas: the subject portal (``/portal``) and the reviewer's dashboard (``/review``).

Plain HTML forms rendered by Jinja2 on the server. The seams: :mod:`.auth` (sessions, CSRF),
:mod:`.portal`, :mod:`.receipts` and :mod:`.review` (the routes of each area), :mod:`.privacy`
(the public page), :mod:`.rendering` (templates, static files, refusal pages). This module
assembles them for :func:`api.app.create_app`, and has their refusals rendered as pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from optinface.api.errors import ApiError, handle_error
from optinface.api.web import portal, privacy, receipts, review
from optinface.api.web.rendering import Refusal, mount_static, refusal

AREAS = (portal.router, receipts.router, review.router, privacy.router)

router = APIRouter(include_in_schema=False)
for area in AREAS:
    router.include_router(area)


def _page_endpoints() -> frozenset[Callable[..., Any]]:
    """The routes of the areas that answer a page or a file (no response model), not JSON."""
    return frozenset(route.endpoint for area in AREAS for route in area.routes
                     if isinstance(route, APIRoute) and route.response_model is None)


def install_refusal_pages(app: FastAPI) -> None:
    """Render a refusal raised before a page's own code runs (the witness gate in
    :func:`api.deps.get_service`, a limit or guard among its dependencies) as the page a
    refusal inside it gets (:func:`.rendering.attempt`): a person whose browser asked for a
    page reads what to do in their language, not the API's JSON. A program's request (no
    ``text/html`` in ``Accept``: ``passkey.js``'s ``fetch``, a client of the JSON files) keeps
    the JSON shape it reads the code from; the status is the same either way."""
    pages = _page_endpoints()

    async def refuse(request: Request, exc: Exception) -> Response:
        endpoint = getattr(request.scope.get("route"), "endpoint", None)
        wants_page = "text/html" in request.headers.get("accept", "")
        if endpoint in pages and wants_page and isinstance(exc, Refusal):
            page = refusal(request, exc)
            if isinstance(exc, ApiError):
                page.headers.update(exc.headers)  # a limit's Retry-After
            return page
        return await handle_error(request, exc)

    for refused in get_args(Refusal):
        app.add_exception_handler(refused, refuse)


__all__ = ["install_refusal_pages", "mount_static", "router"]

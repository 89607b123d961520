"""The server's access log: one line per request, naming its route's template, never its values.

uvicorn's own access log writes each request's path and query as sent: a subject's pseudonym in
``/v1/subjects/{subject}``, a search filter naming them. Those lines outlive an erasure and
every retention rule of the ledger, in a file no erasure reaches. So ``serve`` gives uvicorn's
access logger no handler (:func:`uvicorn_log_config`: uvicorn then writes no access line) and
this middleware writes the same line, in uvicorn's access format, to ``optinface.access``, with
each path parameter's value replaced by its name (``/v1/subjects/{subject}``), what a mount
serves by ``{path}`` (``/static/{path}``: the rest is as sent, control characters included), and
no query, also for an answer given before routing (the body limit's 413); a request no route
matches is logged as ``(no route)``. Who asked what, about whom, is the audit log's job, with its
seals and retention.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG

ACCESS_LOGGER = "optinface.access"
LOGGER = logging.getLogger(ACCESS_LOGGER)
NO_ROUTE = "(no route)"


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with its access handler moved to :data:`ACCESS_LOGGER`:
    ``uvicorn.access`` keeps no handler and does not propagate, which is how uvicorn knows to
    write no access line of its own."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"][ACCESS_LOGGER] = config["loggers"]["uvicorn.access"]
    config["loggers"]["uvicorn.access"] = {"handlers": [], "propagate": False}
    return config


def route_template(scope: Scope) -> str:
    """The request's path with each path parameter's value replaced by ``{name}`` (what the
    router matched, left in ``scope``, or would match where a middleware answered before it
    ran), or :data:`NO_ROUTE` when no route matches: a path no route knows could hold
    anything."""
    if "endpoint" in scope:
        routed: Scope | None = scope
    elif "router" in scope:  # the router ran and matched nothing: no need to try it again
        return NO_ROUTE
    else:  # answered before routing (a body too large): what the router would have matched
        routed = _route_match(scope)
    if routed is None:
        return NO_ROUTE
    mount = _mount_of(scope, routed)
    if mount is not None:  # a mount names no parameter for the path it passes on
        return f"{mount.path}/{{path}}"
    names = {str(value): name for name, value in routed.get("path_params", {}).items()}
    return "/".join(f"{{{names[part]}}}" if part in names else part
                    for part in str(scope["path"]).split("/"))


def _mount_of(scope: Scope, routed: Scope) -> Mount | None:
    """The mount (static files, the documentation's assets) that ``routed`` went into, if any:
    Starlette drops the ``path`` parameter of a mount, so the rest of the path, as sent (any
    byte a client chose, control characters included), is in no parameter to replace."""
    return next((route for route in scope["app"].routes
                 if isinstance(route, Mount) and route.app is routed.get("endpoint")), None)


def _route_match(scope: Scope) -> Scope | None:
    """What the app's router would add to ``scope``, choosing as it does: the first route
    matching path and method, else the first matching the path alone (it answers 405)."""
    path_only = None
    for route in iter_route_contexts(scope["app"].routes):  # included routers' routes too
        match, routed = route.matches(scope)
        if match is Match.FULL:
            return routed
        if match is Match.PARTIAL and path_only is None:
            path_only = routed
    return path_only


class AccessLogMiddleware:
    """Log each HTTP request as uvicorn would, with :func:`route_template` for its path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the application fails before answering

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            if LOGGER.isEnabledFor(logging.INFO):  # no line to build where no one reads it
                client = scope.get("client")
                LOGGER.info('%s - "%s %s HTTP/%s" %d',
                            f"{client[0]}:{client[1]}" if client else "-", scope["method"],
                            route_template(scope), scope.get("http_version", "1.1"), status)

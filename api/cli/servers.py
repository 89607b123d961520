"""uvicorn's side of ``optinface serve``: the servers of one app, one a port, run together.

Apart from the command (:mod:`api.cli.serve`), which imports it only once the service is open:
uvicorn and the web framework are not loaded by the other commands' starts
(``benchmarks/bench_cli_start.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI

from optinface.api.access_log import uvicorn_log_config
from optinface.api.cli.common import refused
from optinface.api.error_codes import CliErrorCode
from optinface.api.tls_scope import TlsH11Protocol

if TYPE_CHECKING:
    from optinface.api.cli.serve import Stopping

logger = logging.getLogger(__name__)


def server_config(app: FastAPI, tls: ssl.SSLContext | None, *, proxies: Sequence[str],
                  lifespan: bool = True) -> uvicorn.Config:
    """How uvicorn serves ``app``: plain HTTP, or HTTPS with the context ``tls``
    (:func:`api.tls.contexts_for`) and the protocol that gives requests their TLS extension
    (:mod:`api.tls_scope`), believing forwarded headers from ``proxies`` only
    (:func:`proxy_options`); without its ``lifespan`` where another server of the same app
    runs it (the background tasks start once).

    The context goes to ``uvicorn.Config`` itself: a uvicorn without ``ssl_context_factory``
    (before 0.47) refuses the argument rather than serve plain HTTP."""
    common: dict[str, Any] = {"log_level": "info", "log_config": uvicorn_log_config(),
                              "lifespan": "auto" if lifespan else "off",
                              **proxy_options(proxies)}
    if tls is None:
        return uvicorn.Config(app, **common)
    return uvicorn.Config(app, **common, http=TlsH11Protocol,
                          ssl_context_factory=lambda _config, _default: tls)


def proxy_options(proxies: Sequence[str]) -> dict[str, Any]:
    """uvicorn's handling of ``X-Forwarded-For`` and ``X-Forwarded-Proto``: off, unless
    ``OPTINFACE_TRUSTED_PROXIES`` names the proxies whose headers it believes.

    uvicorn's default believes them from 127.0.0.1 (and ``FORWARDED_ALLOW_IPS``, an environment
    variable of its own), and rewrites the request's client before the app sees it: every
    process on the machine, and every client behind a TCP forwarder (stunnel, an SSH tunnel,
    ``kubectl port-forward``), chose the address the per-client throttles counted
    (:func:`api.deps.client_address`), a new one per request (red team 6, finding 3)."""
    if not proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(proxies)}


def loaded_scheme(config: uvicorn.Config, tls: ssl.SSLContext | None) -> str:
    """Load ``config`` as the server will: the scheme of what uvicorn loaded, never of what the
    settings asked, or a one-line refusal when it did not load the context ``tls``."""
    config.load()
    if tls is not None and config.ssl is not tls:
        raise refused(CliErrorCode.INVALID_SETTINGS,
                      "OPTINFACE_TLS_CERT: uvicorn did not load the TLS context; serve needs"
                      " uvicorn 0.47 or later")
    return "https" if config.ssl is not None else "http"


class Server(uvicorn.Server):
    """A uvicorn server whose signals :class:`Stopping` catches, with one handler for all the
    servers of the process. uvicorn's own capture is per server: of two, only the one installed
    last hears a signal, and it passes the signal on (raising it again under the handler it
    replaced) only once it has shut down, so the other port would serve on meanwhile; and the
    last raises it under the process's own handler, for SIGTERM the default action, which kills
    the process before the service closes (the index unsaved, the log's last events
    unwitnessed)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_together(servers: Sequence[tuple[Server, list[socket.socket]]],
                         stopping: Stopping) -> None:
    """Serve each server on its sockets until one of them stops, then stop the others, and
    return once all have stopped (raising the first failure, logging any other); ``stopping``
    passes SIGINT and SIGTERM to all of them meanwhile. A forced stop (a second SIGINT) skips
    uvicorn's lifespan shutdown, so it is run here: the app's background work stops before the
    service closes."""
    stopping.servers = [server for server, _ in servers]
    try:
        tasks = [asyncio.create_task(server.serve(sockets)) for server, sockets in servers]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for server, _ in servers:
            server.should_exit = True
        await asyncio.wait(tasks)
        for server, _ in servers:
            if server.started and server.force_exit:
                await server.lifespan.shutdown()
    finally:
        stopping.servers = ()
    failures = [failure for failure in (task.exception() for task in tasks)
                if failure is not None]
    for failure in failures[1:]:
        logger.error("another port's server failed too", exc_info=failure)
    if failures:
        raise failures[0]

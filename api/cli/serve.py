"""``optinface serve``: the main job. First run creates the data dir, its keys and one admin key."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Sequence
from typing import Annotated, Any

import typer
import uvicorn
from fastapi import FastAPI
from rich.console import Console

from optinface.api.access_log import uvicorn_log_config
from optinface.api.app import create_app
from optinface.api.cli.common import DataDir, refused
from optinface.api.errors import CliErrorCode
from optinface.api.settings import ApiSettings, load_settings, unbracketed
from optinface.api.tls import context_for
from optinface.api.tls_scope import TlsH11Protocol
from optinface.consent.accountability import require_accountable
from optinface.consent.errors import InvalidRequest
from optinface.consent.roles import Role
from optinface.consent.service import OptinFace

logger = logging.getLogger(__name__)


def add_commands(app: typer.Typer) -> None:
    app.command("serve")(serve)


def bootstrap_admin(service: OptinFace) -> str | None:
    """The first admin key's secret on an empty system; None once any key exists.

    Whether the system is empty is the consent core's decision (it refuses bootstrap otherwise).
    """
    try:
        return service.create_api_key(actor=None, role=Role.ADMIN, name="first admin").secret
    except InvalidRequest:
        return None


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Default 8000.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the API, the subject portal and the reviewer dashboard.

    The data dir (--data-dir, else $OPTINFACE_DATA_DIR, else ./var) is created on first run with
    its keys, and one admin API key is printed, once.

    It refuses to start while the accountability settings (person in charge, DPO, PIA, policy,
    hosting, non-biometric alternative...) are placeholders, unless OPTINFACE_DEMO_MODE=true,
    which /healthz, the register and every page then state.

    Example: optinface serve --host 127.0.0.1 --port 8000 --data-dir /srv/optinface
    """
    # Every refusal comes before the data dir, its keys and the admin key are made; only a
    # uvicorn that did not load the TLS context (which the pin rules out) is refused after the
    # data dir but still before the admin key and "listening" (loaded_scheme).
    settings = load_settings(data_dir=data_dir, host=host, port=port)
    require_accountable(settings)
    tls = context_for(settings)
    listeners = listening_sockets(settings.host, settings.port)
    try:
        _serve(settings, tls, listeners)
    finally:
        for listener in listeners:
            listener.close()


def listening_sockets(host: str, port: int) -> list[socket.socket]:
    """The server's sockets, one per address ``host`` resolves to, all bound now: a port in use
    (or an address not of this machine) is a one-line refusal, not a traceback after the server
    said it was listening.

    Every address, as uvicorn binds them: ``localhost`` is ``::1`` and ``127.0.0.1``, in the
    order ``/etc/hosts`` lists them, and a client may try either. An IPv6 socket is IPv6 only, so
    the IPv4 one can take the same port; with port 0 the others take the port the first got.

    Made with the TCP protocol number, as asyncio makes its own: asyncio turns Nagle off
    (``TCP_NODELAY``) only on connections whose socket says TCP, and with Nagle on, an answer
    sent in two writes waited for the client's delayed ACK, 40 ms per request.
    """
    try:
        return bind_every(socket.getaddrinfo(unbracketed(host), port, type=socket.SOCK_STREAM,
                                             proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE))
    except OSError as error:
        raise refused(CliErrorCode.ADDRESS_UNAVAILABLE,
                      f"cannot listen on {host}:{port}: {error.strerror}") from error


Resolved = tuple[socket.AddressFamily, socket.SocketKind, int, str, Any]
"""One ``socket.getaddrinfo`` result: family, type, protocol, canonical name, address."""


def bind_every(resolved: Sequence[Resolved]) -> list[socket.socket]:
    """A listening socket on each distinct address of ``resolved``, or OSError with none left
    open. Port 0 is the port the first socket got, for all of them."""
    listeners: list[socket.socket] = []
    try:
        for family, kind, proto, address in dict.fromkeys(
                (family, kind, proto, address) for family, kind, proto, _, address in resolved):
            listener = socket.socket(family, kind, proto)
            listeners.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if address[1] == 0 and len(listeners) > 1:
                address = (address[0], listeners[0].getsockname()[1], *address[2:])
            listener.bind(address)
            listener.listen(socket.SOMAXCONN)
    except OSError:
        for listener in listeners:
            listener.close()
        raise
    return listeners


def url_host(host: str) -> str:
    """``host`` as a URL writes it: an IPv6 address in brackets."""
    bare = unbracketed(host)
    return f"[{bare}]" if ":" in bare else bare


def server_config(app: FastAPI, tls: ssl.SSLContext | None) -> uvicorn.Config:
    """How uvicorn serves ``app``: plain HTTP, or HTTPS with the context ``tls``
    (:func:`api.tls.context_for`) and the protocol that gives requests their TLS extension
    (:mod:`api.tls_scope`).

    The context goes to ``uvicorn.Config`` itself: a uvicorn without ``ssl_context_factory``
    (before 0.47) refuses the argument rather than serve plain HTTP."""
    if tls is None:
        return uvicorn.Config(app, log_level="info", log_config=uvicorn_log_config())
    return uvicorn.Config(app, log_level="info", log_config=uvicorn_log_config(),
                          http=TlsH11Protocol, ssl_context_factory=lambda _config, _default: tls)


def loaded_scheme(config: uvicorn.Config, tls: ssl.SSLContext | None) -> str:
    """Load ``config`` as the server will: the scheme of what uvicorn loaded, never of what the
    settings asked, or a one-line refusal when it did not load the context ``tls``."""
    config.load()
    if tls is not None and config.ssl is not tls:
        raise refused(CliErrorCode.INVALID_SETTINGS,
                      "OPTINFACE_TLS_CERT: uvicorn did not load the TLS context; serve needs"
                      " uvicorn 0.47 or later")
    return "https" if config.ssl is not None else "http"


def _serve(settings: ApiSettings, tls: ssl.SSLContext | None,
           listeners: list[socket.socket]) -> None:
    console = Console()
    if settings.demo_mode:
        console.print("[bold red]DEMO MODE[/]: placeholder accountability; not for real people.")
    service = OptinFace.open(settings)
    try:
        config = server_config(create_app(settings, service=service), tls)
        scheme = loaded_scheme(config, tls)
        secret = bootstrap_admin(service)
        if secret is not None:
            console.print("[bold]First run.[/] Admin API key (shown once, store it now):")
            console.print(secret, markup=False, highlight=False)
        console.print(f"data dir: {settings.data_dir.resolve()}")
        console.print(
            f"listening on {scheme}://{url_host(settings.host)}:{settings.port}  "
            "(API /v1, docs /docs, portal /portal, review /review)"
        )
        uvicorn.Server(config).run(sockets=listeners)
    finally:
        service.close()

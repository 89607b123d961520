"""``optinface serve``: the main job. First run creates the data dir, its keys and one admin key."""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from optinface.api.cli.common import DataDir, console, refused, require_writable
from optinface.api.error_codes import CliErrorCode
from optinface.api.settings import ApiSettings, load_settings, unbracketed
from optinface.api.tls import contexts_for
from optinface.consent.accountability import require_accountable
from optinface.consent.errors import InvalidRequest
from optinface.consent.roles import Role
from optinface.consent.service import OptinFace
from optinface.engine.files import write_private_atomic

if TYPE_CHECKING:
    import uvicorn



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


def hand_over_first_admin_key(secret: str | None, file: Path | None, out: Console) -> None:
    """The first admin key's secret printed once, or written to ``file`` (0600) and never
    printed: a server's output may be kept by a log (``docker logs``, journald) as long as the
    log is, where the key would be readable by whoever reads logs (review 25). On a later start
    (``secret`` None) a file still there is named: its key belongs in the operator's own
    custody, not beside the deployment."""
    if file is None:
        if secret is not None:
            out.print("[bold]First run.[/] Admin API key (shown once, store it now):")
            out.print(secret, markup=False, highlight=False)
        return
    if secret is not None:
        write_private_atomic(file, f"{secret}\n".encode())
        out.print(f"[bold]First run.[/] Admin API key written to {escape(str(file))} (0600), not"
                  " printed: store it, then delete the file.")
    elif file.exists():
        out.print(f"The first admin API key's file {escape(str(file))} is still there: store the"
                  " key elsewhere, then delete the file.")


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Default 8000.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the API, the subject portal and the reviewer dashboard.

    The data dir (--data-dir, else $OPTINFACE_DATA_DIR, else ./var) is created on first run with
    its keys, and one admin API key is printed, once; with OPTINFACE_FIRST_ADMIN_KEY_FILE it is
    written to that file (0600) instead, never printed: for output a log keeps (a container).

    It refuses to start while the accountability settings (person in charge, DPO, PIA, policy,
    hosting, non-biometric alternative...) are placeholders, unless OPTINFACE_DEMO_MODE=true,
    which /healthz, the register and every page then state.

    HTTPS: OPTINFACE_TLS_CERT and OPTINFACE_TLS_KEY (PEM files; TLS 1.2 or later only).
    Relying parties' client certificates: OPTINFACE_TLS_CLIENT_CA (a CA bundle), and
    OPTINFACE_TLS_CLIENT_PORT for a second port, the only one that asks for them. The files
    are checked before anything is made. Behind a reverse proxy or load balancer:
    OPTINFACE_TRUSTED_PROXIES (its addresses), whose X-Forwarded-For then names the client the
    per-client throttles count; from anyone else the header is ignored.

    Example: optinface serve --host 127.0.0.1 --port 8000 --data-dir /srv/optinface
    """
    # Every refusal comes before the data dir, its keys and the admin key are made; only a
    # uvicorn that did not load the TLS context (which the pin rules out) is refused after the
    # data dir but still before the admin key and "listening" (loaded_scheme).
    settings = load_settings(data_dir=data_dir, host=host, port=port)
    require_accountable(settings)
    if settings.first_admin_key_file is not None:
        require_writable(settings.first_admin_key_file, force=True)
    contexts = contexts_for(settings)
    listeners: dict[int, list[socket.socket]] = {}
    try:
        for number in contexts:
            listeners[number] = listening_sockets(settings.host, number)
        _serve(settings, contexts, listeners)
    finally:
        for listener in (listener for bound in listeners.values() for listener in bound):
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


STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopping:
    """SIGINT and SIGTERM for the whole of ``serve``, from the service's opening to its close:
    while servers run, each signal is passed to every one of them (uvicorn's ``handle_exit``: a
    second SIGINT stops waiting for open connections); before they start, it is remembered and
    nothing is served; while the service closes, it waits, so no signal cuts the close short
    (the index's save, the last checkpoint). The process then exits 0. Used as a context manager
    on the main thread, where only handlers can be set."""

    def __init__(self) -> None:
        self.requested = False
        self.servers: Sequence[uvicorn.Server] = ()

    def __enter__(self) -> Stopping:
        self._previous = {signum: signal.signal(signum, self._handle)
                          for signum in STOPPING_SIGNALS}
        return self

    def __exit__(self, *_: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        for server in self.servers:
            server.handle_exit(signum, frame)


def _serve(settings: ApiSettings, contexts: dict[int, ssl.SSLContext | None],
           listeners: dict[int, list[socket.socket]]) -> None:
    """One app and one service for every port: the main port's server runs the lifespan."""
    out = console()
    if settings.demo_mode:
        out.print("[bold red]DEMO MODE[/]: placeholder accountability; not for real people.")
    with Stopping() as stopping:
        service = OptinFace.open(settings)
        try:
            _listen(settings, service, contexts, listeners, stopping, out)
        finally:
            service.close()


def _listen(settings: ApiSettings, service: OptinFace, contexts: dict[int, ssl.SSLContext | None],
            listeners: dict[int, list[socket.socket]], stopping: Stopping,
            out: Console) -> None:
    """Build the app and its servers, say where they listen, and serve until stopped (not at
    all when a stop was asked for while the service opened)."""
    # Imported here: the app's routes and pages, and uvicorn, are only needed by the commands
    # that serve or drive them, not by every CLI start (benchmarks/bench_cli_start.py).
    from optinface.api.app import create_app
    from optinface.api.cli.servers import Server, loaded_scheme, serve_together, server_config

    app = create_app(settings, service=service)
    servers = {number: Server(server_config(app, tls, proxies=settings.trusted_proxies,
                                            lifespan=number == settings.port))
               for number, tls in contexts.items()}
    schemes = {number: loaded_scheme(server.config, contexts[number])
               for number, server in servers.items()}
    hand_over_first_admin_key(bootstrap_admin(service), settings.first_admin_key_file, out)
    out.print(f"data dir: {settings.data_dir.resolve()}")
    for number, scheme in schemes.items():
        out.print(f"listening on {scheme}://{url_host(settings.host)}:{number}  "
                      + ("(API /v1, docs /docs, portal /portal, review /review)"
                         if number == settings.port else
                         "(relying parties: API /v1, a client certificate required)"))
    if stopping.requested:
        return
    main = servers[settings.port].config
    with asyncio.Runner(loop_factory=main.get_loop_factory()) as runner:
        runner.run(serve_together([(server, listeners[number])
                                   for number, server in servers.items()], stopping))

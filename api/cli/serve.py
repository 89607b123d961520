"""``optinface serve``: the main job. First run creates the data dir, its keys and one admin key."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from optinface.api.app import create_app
from optinface.api.cli.common import DataDir
from optinface.api.settings import load_settings
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
    settings = load_settings(data_dir=data_dir)
    update = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings.model_copy(update=update)
    require_accountable(settings)
    console = Console()
    if settings.demo_mode:
        console.print("[bold red]DEMO MODE[/]: placeholder accountability; not for real people.")
    service = OptinFace.open(settings)
    try:
        secret = bootstrap_admin(service)
        if secret is not None:
            console.print("[bold]First run.[/] Admin API key (shown once, store it now):")
            console.print(secret, markup=False, highlight=False)
        console.print(f"data dir: {settings.data_dir.resolve()}")
        console.print(
            f"listening on http://{settings.host}:{settings.port}  "
            "(API /v1, docs /docs, portal /portal, review /review)"
        )
        uvicorn.run(
            create_app(settings, service=service),
            host=settings.host,
            port=settings.port,
            log_level="info",
        )
    finally:
        service.close()

"""Rendering for the pages: the Jinja2 environment, the static files and the refusal page.

Every page action runs through :func:`attempt`, so a domain refusal (consent core, engine or
API) is rendered as a readable page with its stable code and the status of the JSON API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from optinface.api.errors import ApiError, status_for
from optinface.consent.errors import ConsentError
from optinface.engine.errors import EngineError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

Refusal = ConsentError | EngineError | ApiError


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def refusal(request: Request, error: Refusal) -> HTMLResponse:
    return render(
        request,
        "refused.html",
        status_code=status_for(error.code, default=400),
        code=error.code,
        message=error.message,
        back=request.url.path.split("/")[1],
    )


def attempt(request: Request, action: Callable[[], Response]) -> Response:
    """Run a page action; a domain refusal becomes a readable page with its stable code."""
    try:
        return action()
    except (ConsentError, EngineError, ApiError) as error:
        return refusal(request, error)


def receipt_page(request: Request, title: str, summary: str, receipt: Any) -> HTMLResponse:
    text = json.dumps(receipt.model_dump(mode="json"), indent=2, ensure_ascii=False)
    return render(
        request,
        "receipt.html",
        title=title,
        summary=summary,
        receipt=text,
        signed='"signature"' in text,
    )

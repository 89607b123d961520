"""``/docs`` (Swagger UI) and ``/redoc``, served entirely by this application.

FastAPI's defaults load both from a public CDN: a blank page offline, and a third party told
each time an administrator opens the documentation. The assets come from the ``fastapi-offline``
wheel instead, mounted under ``/docs/assets``, and the one inline start-up script carries the
nonce that :mod:`api.security_headers` allows. Swagger UI's online validator is turned off, and
ReDoc's bundle is served without the address of its vendor's logo (see :func:`redoc_bundle`).
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from optinface.api.security_headers import NONCE_STATE_KEY

ASSETS_URL = "/docs/assets"
ASSETS = Path(str(files("fastapi_offline") / "static"))
# Swagger UI would otherwise send the schema's URL to validator.swagger.io for its badge: a third
# party told each time the page opens (refused by the CSP, but asked all the same).
NO_VALIDATOR = {"validatorUrl": "none"}
REDOC_URL = "/docs/redoc.js"
# ReDoc's footer shows its vendor's logo from another origin, in every page, with no option to
# turn it off: refused by the CSP, but asked all the same (a console error on each visit). Every
# image address of the bundle that names another origin is emptied: an empty address fails at
# once without a request, and the bundle's own error handler hides the image.
OTHER_ORIGIN_IMAGE = re.compile(rb'src:"https?://[^"]*"')


def install_docs(app: FastAPI) -> None:
    """Add the two documentation pages and their assets (``create_app`` turns off FastAPI's).

    The pages read the app from their request, never from this closure: FastAPI keeps the
    callables it has classified in a process-wide cache of 4,096, so a page closing over its
    app kept the app, its service, ledger engine and index alive after the service closed
    (every process that builds apps one after another: a test worker held 28 after four files)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI from this app's own assets; its start-up script carries the nonce."""
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{request.app.title} - API",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            swagger_ui_parameters={**(request.app.swagger_ui_parameters or {}), **NO_VALIDATOR},
        )
        return _with_nonce(page, request)

    @app.get(redirect_url, include_in_schema=False)
    def swagger_ui_redirect(request: Request) -> HTMLResponse:
        return _with_nonce(get_swagger_ui_oauth2_redirect_html(), request)

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        """ReDoc from this app's own assets, without the Google Fonts it would otherwise
        fetch from a third party."""
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{request.app.title} - API",
            redoc_js_url=REDOC_URL,
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return _with_nonce(page, request)

    bundle = redoc_bundle()

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc_script() -> Response:
        return Response(bundle, media_type="text/javascript")


def redoc_bundle() -> bytes:
    """The ``fastapi-offline`` ReDoc bundle with no image address on another origin (a new
    version that asks one some other way is caught by ``tests/api/test_offline_pages.py``)."""
    return OTHER_ORIGIN_IMAGE.sub(b'src:""', (ASSETS / "redoc.standalone.js").read_bytes())


def _with_nonce(page: HTMLResponse, request: Request) -> HTMLResponse:
    """The page with its inline scripts marked by the request's CSP nonce."""
    nonce = getattr(request.state, NONCE_STATE_KEY, "")
    html = bytes(page.body).decode().replace("<script>", f'<script nonce="{nonce}">')
    return HTMLResponse(html)

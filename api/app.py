"""The FastAPI application: ``create_app(settings)`` assembles routes, pages, errors and limits.

The lifespan opens the consent core (unless a service is passed in, as tests do to share the
loaded models) and runs the retention sweeper and the audit witnessing for as long as the server
lives.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute

from optinface.api.access_log import AccessLogMiddleware
from optinface.api.deps import STEP_UP_HEADER
from optinface.api.docs import install_docs
from optinface.api.errors import ErrorBody, install_error_handlers
from optinface.api.limits import RateLimiter
from optinface.api.periodic import Periodic
from optinface.api.routes import (
    admin,
    audit,
    health,
    incidents,
    keys,
    matching,
    passkeys,
    purposes,
    reviews,
    subjects,
    wellknown,
)
from optinface.api.security_headers import SecurityHeadersMiddleware
from optinface.api.server_timing import ServerTimingMiddleware
from optinface.api.settings import ApiSettings
from optinface.api.sweeper import Sweeper
from optinface.api.tls import client_ca_pem
from optinface.api.uploads import BodyLimitMiddleware
from optinface.api.web import pages
from optinface.api.web.rendering import untranslated
from optinface.api.web.sessions import SessionStore
from optinface.consent.service import OptinFace

logger = logging.getLogger(__name__)

API_PREFIX = "/v1"

_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "unauthenticated",
        403: "forbidden, or a consent gate refused (see the code)",
        404: "not_found",
        413: "payload_too_large",
        422: "validation_error, or an image refused by the engine",
        429: "rate_limited (see Retry-After)",
    }.items()
}


def _tell_untranslated(service: OptinFace, settings: ApiSettings) -> None:
    """A French deployment whose consent forms show operator texts in English (no translation
    yet) says so once at start, by their SHA-256 (the texts may name people: not logged)."""
    missing = untranslated(service, settings)
    if missing:
        logger.warning("%d texts shown on consent forms have no French translation: French"
                       " readers see them in English, marked as such (optinface texts list"
                       " --missing): %s", len(missing),
                       ", ".join(t.source_sha256[:12] for t in missing))


@cache
def _included_routes() -> list[BaseRoute]:
    """The API's routers and the pages', included once per process and shared by every app
    it makes.

    FastAPI builds what an included router's routes need (each route's dependencies, a pydantic
    adapter per parameter) once per inclusion, at the first request it matches: included
    into each app, that was 0.45 s at each app's first request on the 2-core VM, paid again by
    every app a test process made (py-spy: 3.6 % of the suite's samples). An inclusion holds
    nothing of an app (it takes the including router's settings, and no app overrides a
    dependency), so one serves them all; the error answers every API route documents are
    the including router's."""
    included = APIRouter(responses=_ERROR_RESPONSES)
    for module in (purposes, subjects, matching, audit, keys, incidents, reviews, passkeys,
                   admin):
        included.include_router(module.router, prefix=API_PREFIX)
    for router in (health.router, wellknown.router, pages.router):
        included.include_router(router)
    return included.routes


def create_app(settings: ApiSettings, *, service: OptinFace | None = None) -> FastAPI:
    """Build the app; with ``service`` given, the caller owns it (opens and closes it)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """The server's background work runs between start and shutdown; it stops before the
        service closes, since the sweeper and the witness both write through it."""
        owned = service is None
        app.state.service = OptinFace.open(settings) if owned else service
        _tell_untranslated(app.state.service, settings)
        sweeper = Sweeper(
            app.state.service,
            interval=settings.sweep_interval_seconds,
            flush_interval=settings.auth_failure_audit_seconds,
        )
        sweeper.start()
        # While events happen, the witness folder never lags the log by more than the interval.
        witnessing = Periodic("audit witness", app.state.service.witness_audit,
                              interval=settings.audit_witness_interval_seconds)
        witnessing.start()
        try:
            yield
        finally:
            witnessing.stop()
            sweeper.stop()
            if owned:
                app.state.service.close()

    app = FastAPI(
        title="optinface",
        version="1",
        summary="Consent-first face matching: express consent, real erasure, a declared database.",
        lifespan=lifespan,
        routes=_included_routes(),
        docs_url=None,  # FastAPI's pages load from a CDN; api.docs serves them from this app
        redoc_url=None,
    )
    install_docs(app)
    app.state.settings = settings
    app.state.limiter = RateLimiter(rate=settings.rate_per_second, burst=settings.rate_burst)
    app.state.auth_throttle = RateLimiter(
        rate=settings.auth_failures_per_minute / 60, burst=settings.auth_failure_burst
    )
    app.state.sign_in_throttle = RateLimiter(
        rate=settings.sign_in_challenges_per_minute / 60, burst=settings.sign_in_challenge_burst
    )
    app.state.sessions = SessionStore(lifetime_hours=settings.session_hours)
    # Read once, as serve checked it at start: keys bound over the API need no file per request.
    app.state.client_ca_pem = client_ca_pem(settings)
    if service is not None:
        app.state.service = service  # usable without the lifespan (plain TestClient calls)
    install_error_handlers(app)
    pages.install_refusal_pages(app)
    pages.mount_static(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.upload_limit_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            # Every header a client sends: an admin's step-up token too (OPTINFACE_ADMIN_MFA).
            allow_headers=["Authorization", "X-API-Key", STEP_UP_HEADER, "Content-Type"],
        )
    if settings.server_timing:
        app.add_middleware(ServerTimingMiddleware)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)  # last added: wraps every other answer
    return app

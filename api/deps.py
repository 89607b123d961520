"""FastAPI dependencies: the service, the settings, and the one place a route states its rights.

Every protected route declares ``actor: Annotated[Actor, require(Permission.X)]``, or a name
its module gives that type when several of its routes need the same permission (``KeyManager``
in ``routes/keys.py``). Which roles hold a permission is the consent core's table
(:data:`consent.roles.PERMISSIONS`), not the API's: :class:`PermissionGuard` authenticates the
secret through the consent core (which tallies failures into the audit log) unless its client
has failed too often, spends one token of the key's rate limit and calls
:func:`consent.roles.authorize` with the ``{subject}`` of the path, so a subject token only
opens its own subject. Where ``OPTINFACE_ADMIN_MFA`` is on, every act of an admin key also
needs the key's step-up token in ``X-OptinFace-Step-Up`` (:mod:`consent.admin_mfa` says which
acts and whether a token stands).

``tests/api/test_roles.py`` walks every route of the app against that table, so a route without
a guard cannot go unnoticed.

The dependencies are ``async``: FastAPI runs a plain ``def`` dependency on the thread pool, and
each such hop cost 0.1-0.5 ms of an identify on 2 busy cores. The guard answers on the event
loop when the service keeps the key's row (:meth:`consent.service.OptinFace.authenticate_kept`)
and hops to the thread pool only when authentication reads or writes the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from optinface.api.error_codes import ApiErrorCode
from optinface.api.errors import ApiError
from optinface.api.limits import RateLimiter, retry_after_header
from optinface.api.settings import ApiSettings
from optinface.api.tls_scope import presented_certificate_sha256
from optinface.api.web.i18n import Language, Words, negotiate
from optinface.api.web.reader_words import words_in
from optinface.consent.admin_mfa import STEP_UP_ACTS
from optinface.consent.apikeys import CREDENTIALS_REFUSED
from optinface.consent.client_certificates import admits
from optinface.consent.errors import Unauthenticated
from optinface.consent.roles import Actor, Permission, authorize
from optinface.consent.service import OptinFace
from optinface.engine.stopwatch import stage

SUBJECT_PATH_PARAM = "subject"

_bearer = HTTPBearer(auto_error=False, description="An API key or a subject token.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
STEP_UP_HEADER = "X-OptinFace-Step-Up"
_step_up = APIKeyHeader(
    name=STEP_UP_HEADER, auto_error=False,
    description="An admin's step-up token (POST /v1/admin/step-up), for the same admin key: "
    "needed by admin-only acts where OPTINFACE_ADMIN_MFA is on.")
StepUpDep = Annotated[str | None, Depends(_step_up)]


PASSES_WITNESS_GATE = "passes_witness_gate"
"""The mark :func:`passes_witness_gate` sets on a route's endpoint."""
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def passes_witness_gate(endpoint: Endpoint) -> Endpoint:
    """Mark a route's endpoint (below its ``@router`` decorator) as one :func:`get_service`
    serves while the witness folder refuses checkpoints: a probe that commits nothing
    (``/healthz``, ``/.well-known``), the portal's page that holds the forms below, or a route
    of the person's acts that end processing (:mod:`consent.ending_acts`: a withdrawal, an
    erasure, an opt-out, a revocation of their own tokens or session, and the challenge each
    signed one asks first), where the consent core refuses what else the route carries
    (:func:`consent.witness_gate.require_witnessing_unless_ending`), or a sign-in's, whose token
    may then only end processing (:mod:`consent.ending_acts`). Every other route is refused, so
    one added without thought fails closed."""
    setattr(endpoint, PASSES_WITNESS_GATE, True)
    return endpoint


def _passes_witness_gate(request: Request) -> bool:
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return bool(getattr(endpoint, PASSES_WITNESS_GATE, False))


async def get_service(request: Request) -> OptinFace:
    """The service, once the witness gate let the request through: the one dependency every
    route that reaches the service goes through, its guard's authentication included (FastAPI
    runs it once a request), so the gate comes before anything the request does. While the
    witness folder refuses checkpoints (:meth:`consent.service.OptinFace.witness_stalled`,
    asked here on the event loop) it refuses the request, 503 ``witness_unusable``, nothing
    done (:mod:`consent.witness_gate`), unless its route passes (:func:`passes_witness_gate`).
    """
    service: OptinFace = request.app.state.service
    if service.witness_stalled and not _passes_witness_gate(request):
        await run_in_threadpool(service.require_witnessing)
    return service


async def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


ServiceDep = Annotated[OptinFace, Depends(get_service)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]


async def reader_words(
    settings: SettingsDep,
    lang: Language | None = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Words:
    """The words of a document a route writes for people (the register, the record of
    processing, an incident notice, an access export in Markdown or HTML), chosen as the
    pages choose: ``lang``, else the first language of ``Accept-Language`` we speak, else
    the deployment's ``OPTINFACE_DEFAULT_LANGUAGE``."""
    return words_in(negotiate(accept_language, lang), settings)


ReaderWords = Annotated[Words, Depends(reader_words)]


CREDENTIAL_HEADERS = ("authorization", "x-api-key")
ONE_CREDENTIAL = ("send one credential: one Authorization: Bearer header or one X-API-Key"
                  " header, not both nor either twice")


async def api_secret(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> str:
    """The secret from ``Authorization: Bearer`` or ``X-API-Key`` (cookies are for pages only).

    A request carrying more than one (both headers, or one of them twice) is refused before
    any is tried: which key it acts with must not depend on which header a client, a proxy or
    the framework happens to read first, and a wrong key beside a right one is no request to
    honour."""
    if sum(len(request.headers.getlist(name)) for name in CREDENTIAL_HEADERS) > 1:
        raise ApiError(ApiErrorCode.UNAUTHENTICATED, ONE_CREDENTIAL)
    secret = bearer.credentials if bearer is not None else api_key
    if not secret:
        raise ApiError(ApiErrorCode.UNAUTHENTICATED, CREDENTIALS_REFUSED)
    return secret


def _rate_limited(message: str, wait: float) -> ApiError:
    """429 ``rate_limited`` with how long to wait, in the body and in ``Retry-After``."""
    return ApiError(ApiErrorCode.RATE_LIMITED, message,
                    details={"retry_after_seconds": round(wait, 3)},
                    headers=retry_after_header(wait))


def client_address(request: Request) -> str:
    """Whom the per-client limits count: the connection's peer, or, where that peer is a proxy
    ``OPTINFACE_TRUSTED_PROXIES`` names, the client its ``X-Forwarded-For`` names (uvicorn
    rewrites the scope before the app: :func:`api.cli.servers.proxy_options`). Nobody else
    chooses the address their failures are counted under."""
    return request.client.host if request.client else "unknown"


async def sign_in_challenge_spent(request: Request) -> None:
    """Spend one of the client's anonymous sign-in challenges, or 429 ``rate_limited``.

    Asking a sign-in challenge takes no credential (the device offers its passkey only to
    answer one) and writes a ceremony row that waits for the sweep: unthrottled, anyone could
    fill the ledger and hold its writes. A person asks one challenge per try, so the budget
    (``OPTINFACE_SIGN_IN_CHALLENGES_PER_MINUTE``, with its burst) never stands in their way."""
    throttle: RateLimiter = request.app.state.sign_in_throttle
    wait = throttle.acquire(client_address(request))
    if wait > 0:
        raise _rate_limited("too many sign-in challenges from this client", wait)


SIGN_IN_CHALLENGE = Depends(sign_in_challenge_spent)
"""The one throttle of every route that hands out an anonymous sign-in challenge."""


@contextmanager
def failures_throttled(request: Request,
                       failure: type[Exception] | tuple[type[Exception], ...]
                       ) -> Iterator[None]:
    """Guard one guess at a secret (an API key, a subject token, an erasure receipt's code, an
    admin's second factor): 429 before the guess when its client has failed too often, and one
    of the client's tokens spent when the guarded block raises ``failure`` (see
    :mod:`api.limits`)."""
    throttle: RateLimiter = request.app.state.auth_throttle
    client = client_address(request)
    wait = throttle.delay(client)
    if wait > 0:
        raise _rate_limited("too many failed authentications from this client", wait)
    try:
        yield
    except failure:
        throttle.acquire(client)
        raise


def certificate_refused(request: Request, actor: Actor) -> bool:
    """Whether ``actor``'s key is refused for the client certificate of the request's
    connection: only where the server verifies client certificates (``OPTINFACE_TLS_CLIENT_CA``),
    and then a relying party's key unless the connection presented the certificate the key is
    bound to (:func:`consent.client_certificates.admits`). Every way in asks it, the API's guard
    and the pages' sign-in and sessions (:func:`certificate_checked`), so none admits what
    another refuses."""
    settings: ApiSettings = request.app.state.settings
    return settings.checks_client_certificates and not admits(
        actor, presented_certificate_sha256(request.scope))


def certificate_checked(request: Request, service: OptinFace, actor: Actor) -> Actor:
    """``actor``, or the refusal of its key for the connection's client certificate
    (:func:`certificate_refused`), audited like any failed authentication."""
    if certificate_refused(request, actor):
        service.refuse_client_certificate(actor)
    return actor


def authenticate(request: Request, service: OptinFace, secret: str) -> Actor:
    """The actor behind ``secret``, unless its client has failed too often: then 429 before any
    lookup, or its key is refused for the connection's client certificate
    (:func:`certificate_refused`). Each failure spends one of the client's tokens."""
    with failures_throttled(request, Unauthenticated):
        return certificate_checked(request, service, service.authenticate(secret))


async def authenticate_on_loop(request: Request, service: OptinFace, secret: str) -> Actor:
    """:func:`authenticate` without blocking the event loop: a key whose row the service keeps is
    answered here; anything that reads or writes the ledger (a first use, a subject token, a
    shared ledger, every refusal, which the service audits) runs on the thread pool."""
    with failures_throttled(request, Unauthenticated):
        kept = service.authenticate_kept(secret)
        actor = kept if kept is not None else await run_in_threadpool(service.authenticate,
                                                                       secret)
        if certificate_refused(request, actor):
            await run_in_threadpool(service.refuse_client_certificate, actor)
        return actor


class PermissionGuard:
    """Authenticate, rate-limit and authorise one request for one permission."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(
        self,
        request: Request,
        secret: Annotated[str, Depends(api_secret)],
        service: ServiceDep,
        limiter: Annotated[RateLimiter, Depends(get_limiter)],
    ) -> Actor:
        with stage("auth"):
            actor = await authenticate_on_loop(request, service, secret)
            admit(
                actor,
                self.permission,
                subject=request.path_params.get(SUBJECT_PATH_PARAM),
                limiter=limiter,
            )
        return actor


def stepped_up(request: Request, *, service: OptinFace, actor: Actor, permission: Permission,
               step_up: str | None) -> None:
    """Where ``OPTINFACE_ADMIN_MFA`` is on and ``permission`` is only an admin's, refuse
    (``second_factor_required``) an admin key without its valid step-up token; the refusal
    spends one of the client's failure tokens, as a bad secret does. For a route whose
    permission depends on its body (a disclosure under law), and for :class:`StepUpGuard`."""
    if service.needs_step_up(actor, permission):
        with failures_throttled(request, Unauthenticated):
            service.require_step_up(actor, permission, step_up)


class StepUpGuard(PermissionGuard):
    """:class:`PermissionGuard` for an act only an admin may do, with :func:`stepped_up`. Only
    these routes declare the header, so the API's schema shows it where it counts."""

    async def __call__(  # type: ignore[override]
        self,
        request: Request,
        secret: Annotated[str, Depends(api_secret)],
        service: ServiceDep,
        limiter: Annotated[RateLimiter, Depends(get_limiter)],
        step_up: StepUpDep,
    ) -> Actor:
        actor = await super().__call__(request, secret, service, limiter)
        if service.needs_step_up(actor, self.permission):
            with stage("auth"):
                await run_in_threadpool(stepped_up, request, service=service, actor=actor,
                                        permission=self.permission, step_up=step_up)
        return actor


def admit(
    actor: Actor, permission: Permission, *, subject: str | None, limiter: RateLimiter
) -> None:
    """The checks shared by the API and the web pages once a secret has been authenticated."""
    wait = limiter.acquire(actor.key_id)
    if wait > 0:
        raise _rate_limited("rate limit reached for this key", wait)
    authorize(actor, permission, subject=subject)


def require(permission: Permission) -> Any:
    """``actor: Annotated[Actor, require(Permission.ENROL)]``: what a route needs, stated once."""
    guard = StepUpGuard if permission in STEP_UP_ACTS else PermissionGuard
    return Depends(guard(permission))

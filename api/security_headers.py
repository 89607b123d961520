"""Security headers on every response, errors and static files included.

No page may be framed (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``: the consent and
erasure forms must not be clickjacked), no page loads anything from another origin (the CSP names
none), nothing leaks in a Referer, no response is sniffed into another type, and a response over
HTTPS tells the browser to keep to HTTPS. The API documentation pages need an inline start-up
script (allowed by a per-request nonce) and the inline styles and blob workers Swagger UI and
ReDoc use; every other page gets the strict policy.

No dynamic answer may be kept by a browser or a proxy (``Cache-Control: no-store``): the API's
answers, the portal's and review's pages, their downloads and every error. Each may show personal
data (a record, an export, the audit log) that a kept copy would show again after a withdrawal or
an erasure, and some statuses (410) are cacheable by default. Only what the static mounts serve
(``/static``, the documentation's assets), the same for everyone, stays cacheable.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from optinface.api.start_headers import HeadersAtStart, StartHeadersMiddleware

NONCE_STATE_KEY = "csp_nonce"
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
HSTS = "max-age=63072000; includeSubDomains"

_COMMON = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
STRICT_POLICY = f"{_COMMON}; script-src 'self'; style-src 'self'"


def docs_policy(nonce: str) -> str:
    """The policy of the documentation pages: still nothing from another origin."""
    return (
        f"{_COMMON}; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline';"
        " worker-src 'self' blob:; font-src 'self' data:"
    )


def security_headers(scope: Scope, *, policy: str = STRICT_POLICY) -> dict[str, str]:
    """The headers of one answer (also set by :func:`api.errors.handle_error` on a 500, which
    Starlette sends from outside every middleware)."""
    headers = {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    if not isinstance(scope.get("endpoint"), StaticFiles):  # the router left what it chose
        headers["Cache-Control"] = "no-store"
    if scope.get("scheme") == "https":
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeadersMiddleware(StartHeadersMiddleware):
    """Adds the headers to each response start; the documentation pages get a fresh nonce."""

    @contextmanager
    def headers_for(self, scope: Scope) -> Iterator[HeadersAtStart]:
        """The strict policy, except on the documentation pages: their one inline script is
        allowed by a nonce made for this request, which the page reads from ``scope``."""
        policy = STRICT_POLICY
        if scope["path"] in DOCS_PATHS:
            nonce = secrets.token_urlsafe(16)
            scope.setdefault("state", {})[NONCE_STATE_KEY] = nonce
            policy = docs_policy(nonce)
        # Built as the answer starts, once routing has said whether a static mount answers.
        yield lambda: security_headers(scope, policy=policy)

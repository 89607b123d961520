"""One JSON error shape, ``{"code", "message", "details"}``, for every refusal the API answers.

Every refusal of the engine (:class:`engine.errors.EngineError`) and of the consent core
(:class:`consent.errors.ConsentError`) keeps its stable ``code``; :mod:`api.error_codes` (its
table, apart so that the command line reads it without loading the web framework) chooses the
HTTP status. Request validation, unknown routes and the API's own refusals (rate limits, body
size) use the same shape, and an unexpected exception becomes a bare ``internal_error`` that
leaks nothing (the traceback goes to the server log only).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from optinface.api.access_log import route_template
from optinface.api.error_codes import STATUS_BY_CODE, ApiErrorCode, status_for, validation_errors
from optinface.api.failures import log_failure
from optinface.api.limits import retry_after_header
from optinface.api.security_headers import security_headers
from optinface.consent.db import storage_refusal, unreachable, unreachable_summary
from optinface.consent.errors import (
    CommittedNotServed,
    ConsentError,
    LedgerRestored,
    QuotaExceeded,
)
from optinface.engine.errors import EngineBusy, EngineError

logger = logging.getLogger(__name__)
LEDGER_RETRY_SECONDS = 5
"""How long a client is asked to wait when the ledger's database cannot be reached: about what
PostgreSQL takes to restart, or a pool to reconnect."""


_CODE_BY_HTTP_STATUS = {
    401: ApiErrorCode.UNAUTHENTICATED,
    403: ApiErrorCode.FORBIDDEN,
    404: ApiErrorCode.NOT_FOUND,
    405: ApiErrorCode.METHOD_NOT_ALLOWED,
    413: ApiErrorCode.PAYLOAD_TOO_LARGE,
    429: ApiErrorCode.RATE_LIMITED,
}


class ErrorBody(BaseModel):
    """The one error shape of the whole API."""

    code: str = Field(description="Stable machine-readable code; see the table in docs/errors.md.")
    message: str = Field(description="Human-readable; pseudonyms and ids only, no personal data.")
    details: dict[str, Any] = Field(default_factory=dict)


class ApiError(Exception):
    """A refusal decided by the API layer itself (rate limit, body size, session, CSRF)."""

    def __init__(
        self,
        code: ApiErrorCode,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


class ErrorJSONResponse(JSONResponse):
    """JSON as Starlette writes it, save for a lone surrogate: a refusal may quote what the
    client sent (a WebAuthn library's reason quotes the client data), and JSON's escapes spell
    surrogates that UTF-8 cannot hold. Written as its escape (``\\ud800``), the one character
    that has no UTF-8 form keeps the refusal in the one shape instead of failing to render."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None,
                          separators=(",", ":")).encode("utf-8", "backslashreplace")


SCHEMA_MISMATCH = "the request does not match the schema"


def schema_mismatch(exc: RequestValidationError, **details: Any) -> ApiError:
    """The refusal of a request that does not match the schema, as :func:`handle_error` gives
    it, with ``details`` beside its errors (a route's advice for people)."""
    return ApiError(ApiErrorCode.VALIDATION_ERROR, SCHEMA_MISMATCH,
                    details={"errors": validation_errors(exc), **details})


def error_response(
    code: str,
    message: str,
    *,
    status: int,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one JSON shape of every refusal: a stable ``code``, a message, ``details``.
    A 401 also names the Bearer scheme, which RFC 9110 requires of every 401."""
    body = ErrorBody(code=code, message=message, details=details or {})
    all_headers = dict(headers or {})
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", "Bearer")
    return ErrorJSONResponse(body.model_dump(mode="json"), status_code=status,
                             headers=all_headers)


async def handle_error(request: Request, exc: Exception) -> JSONResponse:
    """Translate any exception into the one shape; the single place that picks HTTP statuses."""
    if isinstance(exc, RequestValidationError):
        exc = schema_mismatch(exc)
    if isinstance(exc, ConsentError | EngineError):
        default = 422 if isinstance(exc, EngineError) else 400
        headers = (
            retry_after_header(exc.retry_after_seconds)
            if isinstance(exc, QuotaExceeded | EngineBusy | LedgerRestored | CommittedNotServed)
            else None
        )
        return error_response(
            exc.code,
            exc.message,
            status=status_for(exc.code, default=default),
            details=exc.details,
            headers=headers,
        )
    if isinstance(exc, ApiError):
        return error_response(
            exc.code,
            exc.message,
            status=STATUS_BY_CODE[exc.code],
            details=exc.details,
            headers=exc.headers,
        )
    if isinstance(exc, StarletteHTTPException):
        code = _CODE_BY_HTTP_STATUS.get(exc.status_code)
        status = exc.status_code
        if code is None and status < 500:
            # The framework's own 400s: a body it cannot parse (malformed multipart or form
            # data), read before any dependency runs, authentication included.
            code, status = ApiErrorCode.VALIDATION_ERROR, STATUS_BY_CODE["validation_error"]
        elif code is None:
            code = ApiErrorCode.INTERNAL_ERROR
        return error_response(code, str(exc.detail), status=status,
                              headers=dict(exc.headers or {}))
    # The route's template, never the path: the log outlives an erasure (api.access_log).
    refusal = storage_refusal(exc)  # damaged, or a full disk: the operator's to mend
    if refusal is not None:
        logger.error("ledger storage unusable on %s %s: %s", request.method,
                     route_template(request.scope), refusal.message)
        return error_response(
            refusal.code, "the ledger's storage cannot be used; the operator can find it in the"
            " log", status=STATUS_BY_CODE[refusal.code], headers=security_headers(request.scope))
    if unreachable(exc):
        logger.error("ledger unreachable on %s %s: %s", request.method,
                     route_template(request.scope), unreachable_summary(exc))
        return error_response(
            ApiErrorCode.LEDGER_UNAVAILABLE, "the ledger's database cannot be reached; try again",
            status=STATUS_BY_CODE[ApiErrorCode.LEDGER_UNAVAILABLE],
            headers=security_headers(request.scope) | retry_after_header(LEDGER_RETRY_SECONDS))
    log_failure(logger, exc, "unexpected error on %s %s", request.method,
                route_template(request.scope))
    return error_response(
        ApiErrorCode.INTERNAL_ERROR,
        "internal error; the operator can find it in the log",
        status=500,
        headers=security_headers(request.scope),
    )


def install_error_handlers(app: FastAPI) -> None:
    """Send every exception, ``Exception`` included, through :func:`handle_error`, so that
    even a bug answers in the one shape (a 500 that says nothing of its cause). A database
    error has its own entry so that one saying the ledger is out of reach for now (a 503) is
    answered where it was raised, not re-raised to the server as a bug."""
    for exc_type in (
        ConsentError,
        EngineError,
        ApiError,
        RequestValidationError,
        StarletteHTTPException,
        DBAPIError,
        SQLAlchemyTimeoutError,
        Exception,
    ):
        app.add_exception_handler(exc_type, handle_error)

"""Image uploads with their size limit enforced before the body is in memory.

Two layers, because a client may lie or stream: :class:`BodyLimitMiddleware` refuses a
declared ``Content-Length`` over the limit without reading a byte and stops counting a body
that grows past it; :func:`read_image` then reads at most ``max_image_bytes + 1`` bytes of
the file part, so the engine never sees more than it allows.
"""

from __future__ import annotations

from typing import BinaryIO

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optinface.api.errors import ApiError, ApiErrorCode, error_response


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413 ``payload_too_large``."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            response = error_response(
                ApiErrorCode.PAYLOAD_TOO_LARGE,
                f"request body of {declared} bytes exceeds the limit of {self.limit}",
                status=413,
                details={"limit_bytes": self.limit},
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged and is
                    # turned into the one error shape by api.errors.
                    raise HTTPException(413, f"request body exceeds the limit of {self.limit}")
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def read_image(stream: BinaryIO, *, max_bytes: int) -> bytes:
    """The uploaded file's bytes, refusing (413) anything over ``max_bytes``."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(
            ApiErrorCode.PAYLOAD_TOO_LARGE,
            f"image exceeds the limit of {max_bytes} bytes",
            details={"limit_bytes": max_bytes},
        )
    return data

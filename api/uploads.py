"""Image uploads: size-limited before the body is in memory, and never written to disk.

Two layers, because a client may lie or stream: :class:`BodyLimitMiddleware` refuses a
declared ``Content-Length`` over the limit without reading a byte and stops counting a body
that grows past it; :func:`read_image` then reads at most ``max_image_bytes + 1`` bytes of
the file part, so the engine never sees more than it allows.

Starlette spools a multipart file part over 1 MiB to the system temp folder, outside the data
volume and never overwritten: a probe photo would be stored after all. It does so on any route
that reads a form, whether or not the route wants a file (an outside test wrote 2 MiB to the
temp folder through the reviewers' log-in form), so every router of the app is built with
``route_class=InMemoryFormRoute``, whose parser keeps each part in memory (the body limit
above bounds it); ``tests/api/test_uploads.py`` checks both.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import aclosing
from typing import Any, BinaryIO

from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optinface.api.error_codes import ApiErrorCode
from optinface.api.errors import ApiError, error_response


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
            """The app's ``receive``, counting body bytes: a body with no or a false length
            is stopped as soon as it passes the limit, before the parser holds all of it."""
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


class InMemoryMultiPartParser(MultiPartParser):
    """Starlette's parser with file parts that never roll over to a temporary file."""

    # SpooledTemporaryFile reads a max_size of 0 as "no limit": the part stays in its BytesIO.
    # Its size is bounded by BodyLimitMiddleware, which counts the body before parsing.
    spool_max_size = 0


class InMemoryFormRequest(Request):
    """A request whose multipart body is parsed by :class:`InMemoryMultiPartParser`."""

    async def _get_form(
        self,
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> FormData:
        content_type = self.headers.get("content-type", "")
        if self._form is not None or not content_type.lower().startswith("multipart/form-data"):
            return await super()._get_form(
                max_files=max_files, max_fields=max_fields, max_part_size=max_part_size
            )
        try:
            async with aclosing(self.stream()) as stream:
                parser = InMemoryMultiPartParser(
                    self.headers,
                    stream,
                    max_files=max_files,
                    max_fields=max_fields,
                    max_part_size=max_part_size,
                )
                self._form = await parser.parse()
        except MultiPartException as error:
            raise HTTPException(status_code=400, detail=error.message) from error
        return self._form


class InMemoryFormRoute(APIRoute):
    """The route class of every router: a form's parts, files included, stay in memory."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def in_memory(request: Request) -> Response:
            return await handler(InMemoryFormRequest(request.scope, request.receive))

        return in_memory


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

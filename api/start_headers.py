"""The one way a middleware here sets headers on every HTTP answer: as the answer starts.

Errors, static files and pages included, since it wraps the whole application (Starlette's own
500 answer is sent from outside every middleware: :func:`api.errors.handle_error` sets the
security headers itself).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HeadersAtStart = Callable[[], dict[str, str]]
"""Called when the answer starts: the headers to set on it."""


class StartHeadersMiddleware(ABC):
    """Sets :meth:`headers_for`'s headers on each HTTP answer; other traffic passes as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @abstractmethod
    def headers_for(self, scope: Scope) -> AbstractContextManager[HeadersAtStart]:
        """Entered when the request arrives and left when the application returns."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.headers_for(scope) as headers_at_start:

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = MutableHeaders(scope=message)
                    for name, value in headers_at_start().items():
                        headers[name] = value
                await send(message)

            await self.app(scope, receive, send_with_headers)

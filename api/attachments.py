"""Documents answered as text rather than JSON: one response shape for each kind.

Receipts, exports, the reviewer's CSV and JSON and the API's audit export all answer with
``Content-Disposition: attachment`` and UTF-8, whichever area serves them. The Markdown forms
of the register, the ROPA, an incident notice and an access export are shown, not saved.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import PlainTextResponse

MARKDOWN_ANSWER: dict[int | str, dict[str, Any]] = {200: {"content": {"text/markdown": {}}}}
"""OpenAPI's note that a route also answers Markdown (``?format=md``, ``?text=true``)."""


def markdown(text: str) -> PlainTextResponse:
    """``text``, a Markdown document, as UTF-8 ``text/markdown``."""
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


def download(text: str, name: str, media_type: str) -> PlainTextResponse:
    """``text`` as a file the browser saves as ``name``, UTF-8 whatever the type."""
    return PlainTextResponse(
        text,
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

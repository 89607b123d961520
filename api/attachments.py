"""Files the client saves rather than shows: one response shape for every download.

Receipts, exports, the reviewer's CSV and JSON and the API's audit export all answer with
``Content-Disposition: attachment`` and UTF-8, whichever area serves them.
"""

from __future__ import annotations

from fastapi.responses import PlainTextResponse


def download(text: str, name: str, media_type: str) -> PlainTextResponse:
    """``text`` as a file the browser saves as ``name``, UTF-8 whatever the type."""
    return PlainTextResponse(
        text,
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

"""The two web areas: the subject portal (``/portal``) and the reviewer's dashboard (``/review``).

Plain HTML forms rendered by Jinja2 on the server. The seams: :mod:`.auth` (sessions, CSRF),
:mod:`.portal`, :mod:`.receipts` and :mod:`.review` (the routes of each area), :mod:`.privacy`
(the public page), :mod:`.rendering` (templates, static files, refusal pages). This module
only assembles them for :func:`api.app.create_app`.
"""

from __future__ import annotations

from fastapi import APIRouter

from optinface.api.web import portal, privacy, receipts, review
from optinface.api.web.rendering import mount_static

router = APIRouter(include_in_schema=False)
router.include_router(portal.router)
router.include_router(receipts.router)
router.include_router(review.router)
router.include_router(privacy.router)

__all__ = ["mount_static", "router"]

"""The compliance reviewer's dashboard (``/review``): chain status, ledger, register, erasures, log.

Read-only: the reviewer's key holds the read permissions only, checked by the consent core.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from optinface.api.auditfiles import all_events, audit_csv, audit_json
from optinface.api.deps import ServiceDep
from optinface.api.errors import ApiError, ApiErrorCode
from optinface.api.web.auth import REVIEW, current, log_in, log_out, login_page
from optinface.api.web.rendering import attempt, render
from optinface.consent.schemas import AuditEventPublic, AuditFilter

router = APIRouter(include_in_schema=False)

RECENT_EVENTS = 50


@router.get("/review")
def review(request: Request, service: ServiceDep) -> Response:
    def action() -> Response:
        found = current(request, service, REVIEW)
        if found is None:
            return login_page(request, REVIEW)
        session, actor = found
        events = list(all_events(service, actor, AuditFilter()))
        return render(
            request,
            "review.html",
            csrf=session.csrf,
            chain=service.verify_audit(actor=actor),
            ledger=service.consent_ledger(actor=actor),
            erasures=service.erasures(actor=actor),
            register=service.register(actor=actor),
            events=events[: -RECENT_EVENTS - 1 : -1],
            total_events=len(events),
            per_day=_events_per_day(events),
        )

    return attempt(request, action)


def _events_per_day(events: list[AuditEventPublic]) -> list[tuple[str, dict[str, int]]]:
    """Counts over time: events per UTC day and action, newest day first."""
    counts: dict[str, Counter[str]] = {}
    for event in events:
        counts.setdefault(event.at[:10], Counter())[event.action] += 1
    return [(day, dict(counts[day])) for day in sorted(counts, reverse=True)]


@router.post("/review/login")
def review_login(
    request: Request,
    service: ServiceDep,
    token: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    return log_in(request, service, REVIEW, token, csrf)


@router.post("/review/logout")
def review_logout(request: Request, service: ServiceDep, csrf: Annotated[str, Form()]) -> Response:
    return log_out(request, service, REVIEW, csrf)


@router.get("/review/download/{name}")
def review_download(request: Request, service: ServiceDep, name: str) -> Response:
    """audit.csv, audit.json, register.json, register.md, ledger.json, erasures.json."""

    def action() -> Response:
        found = current(request, service, REVIEW)
        if found is None:
            return RedirectResponse("/review", status_code=303)
        _, actor = found
        producers: dict[str, Callable[[], tuple[str, str]]] = {
            "audit.csv": lambda: (
                audit_csv(list(all_events(service, actor, AuditFilter()))),
                "text/csv",
            ),
            "audit.json": lambda: (
                audit_json(list(all_events(service, actor, AuditFilter()))),
                "application/json",
            ),
            "register.json": lambda: (
                service.register(actor=actor).model_dump_json(indent=2),
                "application/json",
            ),
            "register.md": lambda: (
                service.render_register(service.register(actor=actor)),
                "text/markdown",
            ),
            "ledger.json": lambda: (
                service.consent_ledger(actor=actor).model_dump_json(indent=2),
                "application/json",
            ),
            "erasures.json": lambda: (
                json.dumps([t.model_dump(mode="json") for t in service.erasures(actor=actor)]),
                "application/json",
            ),
        }
        if name not in producers:
            raise ApiError(ApiErrorCode.NOT_FOUND, f"no download named {name}")
        text, media_type = producers[name]()
        return PlainTextResponse(
            text,
            media_type=f"{media_type}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return attempt(request, action)

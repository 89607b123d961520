"""The subject portal (``/portal``) and the compliance reviewer's dashboard (``/review``).

Plain HTML forms rendered by Jinja2; no JavaScript. Logging in trades a subject token or a
reviewer key for a server-side session whose id lives in an HttpOnly, SameSite=Strict cookie
scoped to its area's path. Every form post carries a CSRF token: the session's own once logged
in, a double-submit cookie on the login forms. Pages call the same service methods with the
same permission checks as the JSON API; a refusal is rendered as a page with the same code.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from optinface.api.deps import ServiceDep, SettingsDep, admit
from optinface.api.errors import ApiError, ApiErrorCode, status_for
from optinface.api.routes.audit import all_events, audit_csv
from optinface.api.settings import ApiSettings
from optinface.api.uploads import InMemoryUploadRoute, read_image
from optinface.api.web.sessions import Area, SessionStore, WebSession
from optinface.consent.errors import ConsentError
from optinface.consent.roles import PERMISSIONS, Actor, Permission
from optinface.consent.schemas import (
    AuditEventPublic,
    AuditFilter,
    ConsentCapacity,
    ConsentCreate,
    ConsentMethod,
    ErasureReason,
)
from optinface.consent.service import OptinFace
from optinface.engine.errors import EngineError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False, route_class=InMemoryUploadRoute)

LOGIN_CSRF_COOKIE = "optinface_login_csrf"
RECENT_EVENTS = 50
CONSENT_DURATIONS_DAYS = (30, 365, 3 * 365)


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def _cookie_name(area: Area) -> str:
    return f"optinface_{area}"


def _sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _refusal(request: Request, error: ConsentError | EngineError | ApiError) -> HTMLResponse:
    status_code = status_for(error.code, default=400)
    return _render(
        request,
        "refused.html",
        status_code=status_code,
        code=error.code,
        message=error.message,
        back=request.url.path.split("/")[1],
    )


def _attempt(request: Request, action: Callable[[], Response]) -> Response:
    """Run a page action; a domain refusal becomes a readable page with its stable code."""
    try:
        return action()
    except (ConsentError, EngineError, ApiError) as error:
        return _refusal(request, error)


class _Login:
    """Where a session of an area comes from and what it must be allowed to do."""

    def __init__(self, area: Area, permission: Permission, secret_label: str) -> None:
        self.area = area
        self.permission = permission
        self.secret_label = secret_label


PORTAL = _Login(Area.PORTAL, Permission.READ_SUBJECT, "Your subject token")
REVIEW = _Login(Area.REVIEW, Permission.READ_AUDIT, "Your reviewer API key")


def _login_page(request: Request, login: _Login, *, error: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = _render(
        request,
        "login.html",
        status_code=401 if error else 200,
        area=login.area,
        label=login.secret_label,
        csrf=token,
        error=error,
    )
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, path=f"/{login.area}")
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, *, path: str) -> None:
    settings: ApiSettings = request.app.state.settings
    response.set_cookie(
        name, value, path=path, httponly=True, samesite="strict", secure=settings.cookie_secure
    )


def _log_in(
    request: Request, service: OptinFace, login: _Login, secret: str, csrf: str
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not secrets.compare_digest(expected, csrf):
        return _login_page(request, login, error="The form expired; please try again.")
    try:
        actor = service.authenticate(secret.strip())
        admit(actor, login.permission, subject=actor.subject, limiter=request.app.state.limiter)
    except (ConsentError, ApiError):
        return _login_page(request, login, error="That secret does not open this area.")
    session_id, _ = _sessions(request).create(login.area, secret.strip())
    response = RedirectResponse(f"/{login.area}", status_code=303)
    _set_cookie(request, response, _cookie_name(login.area), session_id, path=f"/{login.area}")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=f"/{login.area}")
    return response


def _current(
    request: Request, service: OptinFace, login: _Login
) -> tuple[WebSession, Actor] | None:
    """The session and re-authenticated actor, or None (not logged in, revoked, erased)."""
    session = _sessions(request).get(request.cookies.get(_cookie_name(login.area)), login.area)
    if session is None:
        return None
    try:
        actor = service.authenticate(session.secret)
    except ConsentError:
        return None
    admit(actor, login.permission, subject=actor.subject, limiter=request.app.state.limiter)
    return session, actor


def _posted(
    request: Request, service: OptinFace, login: _Login, csrf: str
) -> tuple[WebSession, Actor]:
    """The session of a form post after checking its CSRF token."""
    current = _current(request, service, login)
    if current is None:
        raise ApiError(ApiErrorCode.UNAUTHENTICATED, "your session has ended; please log in again")
    session, actor = current
    if not session.csrf_matches(csrf):
        raise ApiError(ApiErrorCode.FORBIDDEN, "the form's CSRF token does not match your session")
    return session, actor


def _log_out(request: Request, service: OptinFace, login: _Login, csrf: str) -> Response:
    def action() -> Response:
        _posted(request, service, login, csrf)
        _sessions(request).end(request.cookies.get(_cookie_name(login.area)))
        response = RedirectResponse(f"/{login.area}", status_code=303)
        response.delete_cookie(_cookie_name(login.area), path=f"/{login.area}")
        return response

    return _attempt(request, action)


def _receipt_page(request: Request, title: str, summary: str, receipt: Any) -> HTMLResponse:
    text = json.dumps(receipt.model_dump(mode="json"), indent=2, ensure_ascii=False)
    return _render(
        request,
        "receipt.html",
        title=title,
        summary=summary,
        receipt=text,
        signed='"signature"' in text,
    )


# Subject portal -------------------------------------------------------------------------------
@router.get("/portal")
def portal(request: Request, service: ServiceDep) -> Response:
    def action() -> Response:
        current = _current(request, service, PORTAL)
        if current is None:
            return _login_page(request, PORTAL)
        session, actor = current
        subject = actor.subject or ""
        notices = service.list_notices(actor=actor)
        return _render(
            request,
            "portal.html",
            csrf=session.csrf,
            subject=service.get_subject(actor=actor, subject=subject),
            notice=notices[-1] if notices else None,
            purposes=service.list_purposes(actor=actor),
            consents=service.list_consents(actor=actor, subject=subject),
            durations=CONSENT_DURATIONS_DAYS,
            # The consent core decides whether a subject may upload their own photo.
            can_enrol=Permission.ENROL in PERMISSIONS[actor.role],
        )

    return _attempt(request, action)


@router.post("/portal/login")
def portal_login(
    request: Request,
    service: ServiceDep,
    token: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    return _log_in(request, service, PORTAL, token, csrf)


@router.post("/portal/logout")
def portal_logout(request: Request, service: ServiceDep, csrf: Annotated[str, Form()]) -> Response:
    return _log_out(request, service, PORTAL, csrf)


@router.post("/portal/consent")
def portal_consent(
    request: Request,
    service: ServiceDep,
    csrf: Annotated[str, Form()],
    notice_id: Annotated[str, Form()],
    language: Annotated[str, Form()],
    duration_days: Annotated[int, Form()],
    purposes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Express consent: only the boxes the subject ticked (none are ticked in advance)."""

    def action() -> Response:
        _, actor = _posted(request, service, PORTAL, csrf)
        if not purposes:
            raise ApiError(ApiErrorCode.VALIDATION_ERROR, "tick at least one purpose to consent")
        now = datetime.now(UTC)
        body = ConsentCreate(
            purposes=purposes,
            notice_id=notice_id,
            language=language,
            method=ConsentMethod.PORTAL_CLICK,
            given_by=ConsentCapacity.SELF,
            evidence=(
                f"portal click by {actor.key_id} at {now.isoformat()} on notice {notice_id} "
                f"for {sorted(purposes)} from {request.headers.get('user-agent', '?')}"
            ),
            expires_at=now + timedelta(days=duration_days),
        )
        given = service.give_consent(actor=actor, subject=actor.subject or "", body=body)
        return _receipt_page(
            request, "Consent recorded", "Keep this signed receipt of your consent.", given.receipt
        )

    return _attempt(request, action)


@router.post("/portal/enrol")
def portal_enrol(
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form()],
    consent_id: Annotated[str, Form()],
    image: Annotated[UploadFile, File()],
) -> Response:
    def action() -> Response:
        _, actor = _posted(request, service, PORTAL, csrf)
        data = read_image(image.file, max_bytes=settings.max_image_bytes)
        template = service.enrol(
            actor=actor, subject=actor.subject or "", consent_id=consent_id, image=data
        )
        return _receipt_page(
            request,
            "Photo enrolled",
            "Your photo was turned into an encrypted template and then discarded.",
            template,
        )

    return _attempt(request, action)


@router.post("/portal/withdraw")
def portal_withdraw(
    request: Request,
    service: ServiceDep,
    csrf: Annotated[str, Form()],
    consent_id: Annotated[str, Form()],
) -> Response:
    def action() -> Response:
        _, actor = _posted(request, service, PORTAL, csrf)
        result = service.withdraw_consent(
            actor=actor, subject=actor.subject or "", consent_id=consent_id
        )
        return _receipt_page(
            request, "Consent withdrawn", "The withdrawal took effect immediately.", result
        )

    return _attempt(request, action)


@router.post("/portal/erase")
def portal_erase(
    request: Request,
    service: ServiceDep,
    csrf: Annotated[str, Form()],
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    def action() -> Response:
        _, actor = _posted(request, service, PORTAL, csrf)
        if not confirm:
            raise ApiError(ApiErrorCode.VALIDATION_ERROR, "tick the box to confirm erasure")
        receipt = service.erase(
            actor=actor, subject=actor.subject or "", reason=ErasureReason.REQUEST
        )
        _sessions(request).end(request.cookies.get(_cookie_name(Area.PORTAL)))
        response = _receipt_page(
            request,
            "Everything erased",
            "Your data is gone; this signed receipt is all that remains.",
            receipt,
        )
        response.delete_cookie(_cookie_name(Area.PORTAL), path="/portal")
        return response

    return _attempt(request, action)


@router.get("/portal/data")
def portal_data(request: Request, service: ServiceDep) -> Response:
    """The access export, rendered by the consent core, inside the portal's frame."""

    def action() -> Response:
        current = _current(request, service, PORTAL)
        if current is None:
            return RedirectResponse("/portal", status_code=303)
        _, actor = current
        export = service.export(actor=actor, subject=actor.subject or "")
        return _render(
            request, "portal_data.html", export_html=service.render_export(export, fmt="html")
        )

    return _attempt(request, action)


@router.get("/portal/data.json")
def portal_data_json(request: Request, service: ServiceDep) -> Response:
    def action() -> Response:
        current = _current(request, service, PORTAL)
        if current is None:
            return RedirectResponse("/portal", status_code=303)
        _, actor = current
        export = service.export(actor=actor, subject=actor.subject or "")
        return Response(
            export.model_dump_json(indent=2),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="my-data.json"'},
        )

    return _attempt(request, action)


# Reviewer dashboard ---------------------------------------------------------------------------
@router.get("/review")
def review(request: Request, service: ServiceDep) -> Response:
    def action() -> Response:
        current = _current(request, service, REVIEW)
        if current is None:
            return _login_page(request, REVIEW)
        session, actor = current
        events = list(all_events(service, actor, AuditFilter()))
        return _render(
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

    return _attempt(request, action)


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
    return _log_in(request, service, REVIEW, token, csrf)


@router.post("/review/logout")
def review_logout(request: Request, service: ServiceDep, csrf: Annotated[str, Form()]) -> Response:
    return _log_out(request, service, REVIEW, csrf)


@router.get("/review/download/{name}")
def review_download(request: Request, service: ServiceDep, name: str) -> Response:
    """audit.csv, audit.json, register.json, register.md, ledger.json, erasures.json."""

    def action() -> Response:
        current = _current(request, service, REVIEW)
        if current is None:
            return RedirectResponse("/review", status_code=303)
        _, actor = current
        producers: dict[str, Callable[[], tuple[str, str]]] = {
            "audit.csv": lambda: (
                audit_csv(list(all_events(service, actor, AuditFilter()))),
                "text/csv",
            ),
            "audit.json": lambda: (
                json.dumps(
                    [
                        e.model_dump(mode="json")
                        for e in list(all_events(service, actor, AuditFilter()))
                    ]
                ),
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

    return _attempt(request, action)

"""The subject portal (``/portal``): the notice, consent, enrolment, access, withdrawal, erasure.

Plain HTML forms; each calls the same service method, with the same permission checks, as the
JSON API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from optinface.api.deps import ServiceDep, SettingsDep
from optinface.api.errors import ApiError, ApiErrorCode
from optinface.api.uploads import InMemoryUploadRoute, read_image
from optinface.api.web.auth import PORTAL, current, end_session, log_in, log_out, login_page, posted
from optinface.api.web.rendering import attempt, receipt_page, render
from optinface.api.web.sessions import Area
from optinface.consent.roles import PERMISSIONS, Permission
from optinface.consent.schemas import (
    ConsentCapacity,
    ConsentCreate,
    ConsentMethod,
    ErasureReason,
)

router = APIRouter(include_in_schema=False, route_class=InMemoryUploadRoute)

CONSENT_DURATIONS_DAYS = (30, 365, 3 * 365)


@router.get("/portal")
def portal(request: Request, service: ServiceDep) -> Response:
    def action() -> Response:
        found = current(request, service, PORTAL)
        if found is None:
            return login_page(request, PORTAL)
        session, actor = found
        subject = actor.subject or ""
        notices = service.list_notices(actor=actor)
        return render(
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

    return attempt(request, action)


@router.post("/portal/login")
def portal_login(
    request: Request,
    service: ServiceDep,
    token: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    return log_in(request, service, PORTAL, token, csrf)


@router.post("/portal/logout")
def portal_logout(request: Request, service: ServiceDep, csrf: Annotated[str, Form()]) -> Response:
    return log_out(request, service, PORTAL, csrf)


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
        _, actor = posted(request, service, PORTAL, csrf)
        if not purposes:
            raise ApiError(ApiErrorCode.VALIDATION_ERROR, "tick at least one purpose to consent")
        now = service.clock.now()
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
        return receipt_page(
            request, "Consent recorded", "Keep this signed receipt of your consent.", given.receipt
        )

    return attempt(request, action)


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
        _, actor = posted(request, service, PORTAL, csrf)
        data = read_image(image.file, max_bytes=settings.max_image_bytes)
        template = service.enrol(
            actor=actor, subject=actor.subject or "", consent_id=consent_id, image=data
        )
        return receipt_page(
            request,
            "Photo enrolled",
            "Your photo was turned into an encrypted template and then discarded.",
            template,
        )

    return attempt(request, action)


@router.post("/portal/withdraw")
def portal_withdraw(
    request: Request,
    service: ServiceDep,
    csrf: Annotated[str, Form()],
    consent_id: Annotated[str, Form()],
) -> Response:
    def action() -> Response:
        _, actor = posted(request, service, PORTAL, csrf)
        result = service.withdraw_consent(
            actor=actor, subject=actor.subject or "", consent_id=consent_id
        )
        return receipt_page(
            request, "Consent withdrawn", "The withdrawal took effect immediately.", result
        )

    return attempt(request, action)


@router.post("/portal/erase")
def portal_erase(
    request: Request,
    service: ServiceDep,
    csrf: Annotated[str, Form()],
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    def action() -> Response:
        _, actor = posted(request, service, PORTAL, csrf)
        if not confirm:
            raise ApiError(ApiErrorCode.VALIDATION_ERROR, "tick the box to confirm erasure")
        receipt = service.erase(
            actor=actor, subject=actor.subject or "", reason=ErasureReason.REQUEST
        )
        response = receipt_page(
            request,
            "Everything erased",
            "Your data is gone; this signed receipt is all that remains.",
            receipt,
        )
        end_session(request, response, Area.PORTAL)
        return response

    return attempt(request, action)


@router.get("/portal/data")
def portal_data(request: Request, service: ServiceDep) -> Response:
    """The access export, rendered by the consent core, inside the portal's frame."""

    def action() -> Response:
        found = current(request, service, PORTAL)
        if found is None:
            return RedirectResponse("/portal", status_code=303)
        _, actor = found
        export = service.export(actor=actor, subject=actor.subject or "")
        return render(
            request, "portal_data.html", export_html=service.render_export(export, fmt="html")
        )

    return attempt(request, action)


@router.get("/portal/data.json")
def portal_data_json(request: Request, service: ServiceDep) -> Response:
    def action() -> Response:
        found = current(request, service, PORTAL)
        if found is None:
            return RedirectResponse("/portal", status_code=303)
        _, actor = found
        export = service.export(actor=actor, subject=actor.subject or "")
        return Response(
            export.model_dump_json(indent=2),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="my-data.json"'},
        )

    return attempt(request, action)

"""The subject portal (``/portal``): the notice, consent, enrolment, access, withdrawal, erasure.

The person signs in with their passkey, and every act that creates or ends a legal basis
(consent, withdrawal, opting in to search, approving a photo) is signed on their device by
``static/passkey.js``: it asks ``/portal/challenge`` for the statement, has the authenticator
sign it, and posts the form with the signature in its ``signed`` field. The server then calls
the same service method, with the same checks, as the JSON API. Also here: the landing pages of
the one-time links (``/passkey`` to register a passkey, ``/probe`` for the person in a probe).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from optinface.api.deps import ServiceDep, SettingsDep
from optinface.api.errors import ApiError, ApiErrorCode
from optinface.api.uploads import InMemoryUploadRoute, read_image
from optinface.api.web.auth import (
    PORTAL,
    current,
    end_session,
    log_out,
    login_csrf_matches,
    login_page,
    passkey_log_in,
    posted,
)
from optinface.api.web.rendering import attempt, receipt_page, render
from optinface.api.web.sessions import Area
from optinface.consent.roles import Actor
from optinface.consent.schemas import (
    ErasureReason,
    PasskeyChallenge,
    PasskeyResponse,
    SubjectAct,
)
from optinface.consent.service import OptinFace

router = APIRouter(include_in_schema=False, route_class=InMemoryUploadRoute)

CONSENT_DURATIONS_DAYS = (30, 365, 3 * 365)
CsrfHeader = Annotated[str | None, Header(alias="X-CSRF-Token")]


def _signed(text: str) -> PasskeyResponse:
    """The form's ``signed`` field: the assertion passkey.js put there."""
    try:
        return PasskeyResponse.model_validate_json(text)
    except ValidationError as error:
        raise ApiError(ApiErrorCode.VALIDATION_ERROR,
                       "this form must be signed with your passkey (JavaScript is needed)"
                       ) from error


def _subject(actor: Actor) -> str:
    return actor.subject or ""


@router.get("/portal")
def portal(request: Request, service: ServiceDep) -> Response:
    def action() -> Response:
        found = current(request, service, PORTAL)
        if found is None:
            return login_page(request, PORTAL)
        session, actor = found
        subject = _subject(actor)
        notices = service.list_notices(actor=actor)
        return render(
            request,
            "portal.html",
            csrf=session.csrf,
            capacity=actor.capacity,
            subject=service.get_subject(actor=actor, subject=subject),
            notice=notices[-1] if notices else None,
            purposes=service.list_purposes(actor=actor),
            consents=service.list_consents(actor=actor, subject=subject),
            captures=service.pending_captures(actor=actor, subject=subject),
            durations=CONSENT_DURATIONS_DAYS,
        )

    return attempt(request, action)


@router.post("/portal/passkey/options")
def portal_sign_in_options(request: Request, service: ServiceDep,
                           csrf: CsrfHeader = None) -> PasskeyChallenge:
    """JSON for passkey.js: a sign-in challenge (the login page's CSRF cookie must match)."""
    if not login_csrf_matches(request, csrf):
        raise ApiError(ApiErrorCode.FORBIDDEN, "the page expired; reload it and try again")
    return service.sign_in_options()


@router.post("/portal/passkey/sign-in")
def portal_sign_in(request: Request, service: ServiceDep, body: PasskeyResponse,
                   csrf: CsrfHeader = None) -> Response:
    return passkey_log_in(request, service, body, csrf)


@router.post("/portal/logout")
def portal_logout(request: Request, service: ServiceDep, csrf: Annotated[str, Form()]) -> Response:
    return log_out(request, service, PORTAL, csrf)


@router.post("/portal/challenge")
def portal_challenge(request: Request, service: ServiceDep, body: SubjectAct,
                     csrf: CsrfHeader = None) -> PasskeyChallenge:
    """JSON for passkey.js: the statement of an act and the options to sign it."""
    _, actor = posted(request, service, PORTAL, csrf or "")
    return service.challenge(actor=actor, subject=_subject(actor), act=body)


def _signed_act(request: Request, service: OptinFace, csrf: str, signed: str,
                act: str) -> Response:
    """Post a signed act and show its receipt."""

    def action() -> Response:
        _, actor = posted(request, service, PORTAL, csrf)
        response = _signed(signed)
        subject = _subject(actor)
        if act == "consent":
            given = service.give_consent(actor=actor, subject=subject, signed=response)
            return receipt_page(request, "Consent recorded",
                                "Keep this receipt: it holds your passkey's signature.",
                                given.receipt)
        if act == "searchable":
            changed = service.set_searchable(actor=actor, subject=subject, signed=response)
            return receipt_page(request, "Search preference recorded",
                                "Your signed choice is in the audit log.", changed)
        capture = service.approve_capture(actor=actor, subject=subject, signed=response)
        return receipt_page(request, "Photo approved",
                            "The desk may now upload that photo, and only that one.", capture)

    return attempt(request, action)


@router.post("/portal/consent")
def portal_consent(request: Request, service: ServiceDep, csrf: Annotated[str, Form()],
                   signed: Annotated[str, Form()] = "") -> Response:
    """Express consent: only the boxes the subject ticked, signed with their passkey."""
    return _signed_act(request, service, csrf, signed, "consent")


@router.post("/portal/searchable")
def portal_searchable(request: Request, service: ServiceDep, csrf: Annotated[str, Form()],
                      signed: Annotated[str, Form()] = "") -> Response:
    """Opt in to (or out of) 1:N search: the subject's signed choice."""
    return _signed_act(request, service, csrf, signed, "searchable")


@router.post("/portal/capture-approval")
def portal_capture_approval(request: Request, service: ServiceDep,
                            csrf: Annotated[str, Form()],
                            signed: Annotated[str, Form()] = "") -> Response:
    """Approve a capture session the desk opened (the photo's SHA-256 is in the statement)."""
    return _signed_act(request, service, csrf, signed, "capture")


@router.post("/portal/enrol")
def portal_enrol(
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form()],
    image: Annotated[UploadFile, File()],
    signed: Annotated[str, Form()] = "",
) -> Response:
    """The person's own photo: a capture session approved with their passkey, then enrolled."""

    def action() -> Response:
        _, actor = posted(request, service, PORTAL, csrf)
        data = read_image(image.file, max_bytes=settings.max_image_bytes)
        capture = service.approve_capture(actor=actor, subject=_subject(actor),
                                          signed=_signed(signed))
        template = service.enrol(actor=actor, subject=_subject(actor), capture_id=capture.id,
                                 image=data)
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
    signed: Annotated[str, Form()] = "",
) -> Response:
    """One click (and the passkey's touch): withdrawal takes effect at once."""

    def action() -> Response:
        _, actor = posted(request, service, PORTAL, csrf)
        result = service.withdraw_consent(
            actor=actor, subject=_subject(actor), consent_id=consent_id, signed=_signed(signed)
        )
        return receipt_page(
            request, "Consent withdrawn", "The withdrawal took effect immediately.", result
        )

    return attempt(request, action)


@router.post("/portal/token")
def portal_token(request: Request, service: ServiceDep, csrf: Annotated[str, Form()]) -> Response:
    """An API token for the person's own use, shown to them once, here."""

    def action() -> Response:
        _, actor = posted(request, service, PORTAL, csrf)
        return receipt_page(request, "Your API token",
                            "Shown once. It opens your own record only; keep it secret.",
                            service.issue_subject_token(actor=actor))

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
            actor=actor, subject=_subject(actor), reason=ErasureReason.REQUEST
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
        export = service.export(actor=actor, subject=_subject(actor))
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
        export = service.export(actor=actor, subject=_subject(actor))
        return Response(
            export.model_dump_json(indent=2),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="my-data.json"'},
        )

    return attempt(request, action)


@router.get("/passkey")
def passkey_page(request: Request) -> Response:
    """Where an enrolment link lands: the person creates their passkey on their own device."""
    return render(request, "passkey.html")


@router.get("/probe")
def probe_page(request: Request) -> Response:
    """Where a probe-consent link lands: the person in the photo agrees, or not."""
    return render(request, "probe.html")

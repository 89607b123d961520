"""Subjects and their rights: consent, withdrawal, enrolment, access export and erasure.

Withdrawal goes through the same channel as consent (the portal or the subject's own token),
as the law asks: withdrawing must be as easy as consenting.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from optinface.api.deps import ServiceDep, SettingsDep, require
from optinface.api.schemas import SearchableUpdate
from optinface.api.uploads import InMemoryUploadRoute, read_image
from optinface.consent.identifiers import Identifier
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import (
    AccessExport,
    AlternativeChosenResult,
    ConsentCreate,
    ConsentGiven,
    ConsentPublic,
    ErasureReason,
    ErasureReceipt,
    ExportFormat,
    RightsRequestCreate,
    RightsRequestPublic,
    SubjectCreate,
    SubjectCreated,
    SubjectPublic,
    TemplatePublic,
    WithdrawalResult,
)

router = APIRouter(prefix="/subjects", tags=["subjects"], route_class=InMemoryUploadRoute)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_subject(
    body: SubjectCreate,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.CREATE_SUBJECT)],
) -> SubjectCreated:
    """Create a pseudonymous subject; the answer holds its subject token, shown this once."""
    return service.create_subject(actor=actor, body=body)


@router.get("/{subject}")
def get_subject(
    subject: Identifier,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.READ_SUBJECT)],
) -> SubjectPublic:
    return service.get_subject(actor=actor, subject=subject)


@router.patch("/{subject}")
def set_searchable(
    subject: Identifier,
    body: SearchableUpdate,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.UPDATE_SUBJECT)],
) -> SubjectPublic:
    """Opt in to or out of 1:N galleries (consent to a purpose alone does not opt in)."""
    return service.set_searchable(actor=actor, subject=subject, searchable=body.searchable)


@router.post("/{subject}/requests", status_code=status.HTTP_201_CREATED)
def request_right(
    subject: Identifier,
    body: RightsRequestCreate,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.REQUEST_RIGHTS)],
) -> RightsRequestPublic:
    """Record a request of access, rectification, erasure or withdrawal: due in 30 days."""
    return service.request_right(actor=actor, subject=subject, body=body)


@router.post("/{subject}/alternative")
def choose_alternative(
    subject: str, service: ServiceDep, actor: Annotated[Actor, require(Permission.UPDATE_SUBJECT)]
) -> AlternativeChosenResult:
    """The person chooses the non-biometric alternative instead of their face: their templates
    are destroyed now and enrolment is refused from then on."""
    return service.choose_alternative(actor=actor, subject=subject)


@router.delete("/{subject}")
def erase(
    subject: Identifier, service: ServiceDep, actor: Annotated[Actor, require(Permission.ERASE)]
) -> ErasureReceipt:
    """Erase the subject at once: unsearchable, templates and key destroyed; a signed receipt."""
    return service.erase(actor=actor, subject=subject, reason=ErasureReason.REQUEST)


@router.post("/{subject}/consents", status_code=status.HTTP_201_CREATED)
def give_consent(
    subject: Identifier,
    body: ConsentCreate,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.GIVE_CONSENT)],
) -> ConsentGiven:
    """Record express consent to one or more purposes; the answer holds the signed receipt."""
    return service.give_consent(actor=actor, subject=subject, body=body)


@router.get("/{subject}/consents")
def list_consents(
    subject: Identifier,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.READ_SUBJECT)],
) -> list[ConsentPublic]:
    return service.list_consents(actor=actor, subject=subject)


@router.post("/{subject}/consents/{consent_id}/withdraw")
def withdraw_consent(
    subject: Identifier,
    consent_id: Identifier,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.WITHDRAW_CONSENT)],
) -> WithdrawalResult:
    """Withdraw at once; templates that no other consent covers are erased in the same call."""
    return service.withdraw_consent(actor=actor, subject=subject, consent_id=consent_id)


@router.post("/{subject}/faces", status_code=status.HTTP_201_CREATED)
def enrol_face(
    subject: Identifier,
    image: Annotated[UploadFile, File(description="One photo, exactly one face (JPEG/PNG/WebP).")],
    consent_id: Annotated[Identifier, Form(description="The consent that covers enrolment.")],
    service: ServiceDep,
    settings: SettingsDep,
    actor: Annotated[Actor, require(Permission.ENROL)],
) -> TemplatePublic:
    """Enrol one face under a consent; the photo is discarded once the template is made."""
    data = read_image(image.file, max_bytes=settings.max_image_bytes)
    return service.enrol(actor=actor, subject=subject, consent_id=consent_id, image=data)


@router.get(
    "/{subject}/export",
    response_model=AccessExport,
    responses={200: {"content": {"text/markdown": {}, "text/html": {}}}},
)
def export_subject(
    subject: Identifier,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.EXPORT)],
    export_format: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.JSON,
) -> AccessExport | Response:
    """Everything held about the subject: consents, templates, every event that names them."""
    export = service.export(actor=actor, subject=subject)
    if export_format is ExportFormat.JSON:
        return export
    if export_format is ExportFormat.HTML:
        return HTMLResponse(service.render_export(export, export_format))
    return PlainTextResponse(
        service.render_export(export, export_format), media_type="text/markdown; charset=utf-8"
    )

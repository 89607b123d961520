"""Confidentiality incidents: the register, the 72-hour clock and the generated notices.

Recording and marking notifications is the administrator's; reviewers read the register and
the notices. No route deletes an incident: the register is kept at least 5 years.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from optinface.api.attachments import MARKDOWN_ANSWER, markdown
from optinface.api.deps import ReaderWords, ServiceDep, require
from optinface.api.uploads import InMemoryFormRoute
from optinface.consent.identifiers import Identifier
from optinface.consent.incidents import Audience
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import (
    IncidentCreate,
    IncidentNotice,
    IncidentNotification,
    IncidentPublic,
)

router = APIRouter(prefix="/incidents", tags=["incidents"], route_class=InMemoryFormRoute)

IncidentManager = Annotated[Actor, require(Permission.MANAGE_INCIDENTS)]
IncidentReader = Annotated[Actor, require(Permission.READ_INCIDENTS)]


@router.post("", status_code=status.HTTP_201_CREATED)
def record_incident(
    body: IncidentCreate,
    service: ServiceDep,
    actor: IncidentManager,
) -> IncidentPublic:
    """Record an incident; the answer states when the regulator must be notified (72 hours)."""
    return service.record_incident(actor=actor, body=body)


@router.get("")
def list_incidents(service: ServiceDep, actor: IncidentReader) -> list[IncidentPublic]:
    """The register, newest first, each incident with its notification clock."""
    return service.incidents(actor=actor)


@router.get("/{incident_id}/notice", response_model=IncidentNotice,
            responses=MARKDOWN_ANSWER)
def incident_notice(
    incident_id: Identifier,
    service: ServiceDep,
    actor: IncidentReader,
    words: ReaderWords,
    audience: Audience = Audience.REGULATOR,
    as_text: Annotated[bool, Query(alias="text")] = False,
) -> IncidentNotice | Response:
    """The notice for the regulator or for the persons concerned, from the one record, in
    French or English: ``lang``, else the first language of ``Accept-Language`` we speak,
    else the deployment's default language. What the operator typed is quoted as typed."""
    made = service.incident_notice(actor=actor, incident_id=incident_id, audience=audience,
                                   say=words)
    if as_text:
        return markdown(made.text)
    return made


@router.post("/{incident_id}/notified")
def incident_notified(
    incident_id: Identifier,
    service: ServiceDep,
    actor: IncidentManager,
    audience: Audience = Audience.REGULATOR,
    body: IncidentNotification | None = None,
) -> IncidentPublic:
    """Record that the regulator (or the persons concerned) were notified now. After 72
    hours from awareness the regulator's notification needs ``{"delay_reason": ...}`` (GDPR
    art. 33(1)), else a 422 ``invalid_request`` naming the field; a reason for a notification
    in time, or to the persons, is refused the same way."""
    return service.incident_notified(actor=actor, incident_id=incident_id, audience=audience,
                                     delay_reason=body.delay_reason if body else None)

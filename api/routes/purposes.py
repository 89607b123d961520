"""Purposes (what a face may be used for) and the notices shown before consent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from optinface.api.deps import ServiceDep, require
from optinface.api.uploads import InMemoryFormRoute
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import NoticeCreate, NoticePublic, PurposeCreate, PurposePublic

router = APIRouter(tags=["purposes"], route_class=InMemoryFormRoute)

PurposeManager = Annotated[Actor, require(Permission.MANAGE_PURPOSES)]
PurposeReader = Annotated[Actor, require(Permission.READ_PURPOSES)]


@router.post("/purposes", status_code=status.HTTP_201_CREATED)
def create_purpose(
    body: PurposeCreate,
    service: ServiceDep,
    actor: PurposeManager,
) -> PurposePublic:
    """Define a purpose: its operations (enrol, verify, identify), legal basis and retention."""
    return service.create_purpose(actor=actor, body=body)


@router.get("/purposes")
def list_purposes(service: ServiceDep, actor: PurposeReader) -> list[PurposePublic]:
    return service.list_purposes(actor=actor)


@router.post("/notices", status_code=status.HTTP_201_CREATED)
def publish_notice(body: NoticeCreate, service: ServiceDep, actor: PurposeManager) -> NoticePublic:
    """Publish a versioned notice; its SHA-256 is what every consent records having shown."""
    return service.publish_notice(actor=actor, body=body)


@router.get("/notices")
def list_notices(service: ServiceDep, actor: PurposeReader) -> list[NoticePublic]:
    return service.list_notices(actor=actor)

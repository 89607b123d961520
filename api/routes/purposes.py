"""Purposes (what a face may be used for), the notices shown before consent, and the
translations of the operator's texts that consent forms show (:mod:`consent.operator_texts`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from optinface.api.deps import ServiceDep, require
from optinface.api.uploads import InMemoryFormRoute
from optinface.consent.identifiers import SHA256_PATTERN
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import (
    NoticeCreate,
    NoticePublic,
    OperatorTextPublic,
    OperatorTextSet,
    PurposeCreate,
    PurposePublic,
    TranslationLanguage,
)

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


@router.get("/texts/{language}")
def list_operator_texts(language: TranslationLanguage, service: ServiceDep,
                        actor: PurposeReader) -> list[OperatorTextPublic]:
    """Every English text the operator typed that consent forms show (purposes' names,
    descriptions and legal bases, recipients, transfer safeguards, an access-log hold), where
    each shows, and its translation into ``language``: ``text`` null means readers of that
    language are shown the English, marked as English only. An unsupported language: 422
    ``validation_error``."""
    return service.operator_texts(actor=actor, language=language)


@router.put("/texts/{language}/{source_sha256}")
def translate_operator_text(
    language: TranslationLanguage,
    source_sha256: Annotated[str, Path(pattern=SHA256_PATTERN,
                                       description="The English text's SHA-256, as listed.")],
    body: OperatorTextSet,
    service: ServiceDep,
    actor: PurposeManager,
) -> OperatorTextPublic:
    """Set or replace the translation of one of those texts, chained in the audit log. It is
    part of the register's declared material, like its English: matching waits for a new
    declaration once it changes. No text in use has that SHA-256: 404 ``not_found``; a text
    that says nothing or holds control characters: 422 ``validation_error``; several lines
    where the English is one: 422 ``invalid_request`` (``details.field`` ``text``)."""
    return service.translate_operator_text(actor=actor, language=language,
                                           source_sha256=source_sha256, text=body.text)

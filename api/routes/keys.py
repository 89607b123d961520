"""API keys (administrator): create (secret shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, status

from optinface.api.deps import ServiceDep, require
from optinface.api.schemas import ApiKeyCreate
from optinface.api.uploads import InMemoryFormRoute
from optinface.consent.identifiers import Identifier
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import ApiKeyCreated, ApiKeyPublic

router = APIRouter(prefix="/keys", tags=["keys"], route_class=InMemoryFormRoute)

KeyManager = Annotated[Actor, require(Permission.MANAGE_KEYS)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_key(body: ApiKeyCreate, service: ServiceDep, request: Request,
               actor: KeyManager) -> ApiKeyCreated:
    """A new key for a role; its secret is in this answer only (a keyed hash is stored). A
    researcher's or verifier's key is bound to ``client_cert_pem``, which is required where the
    server verifies client certificates. Where ``OPTINFACE_ADMIN_MFA`` is on, an admin key is
    made on the command line only (403 ``forbidden``)."""
    return service.create_api_key(
        actor=actor, role=body.role, name=body.name, client_cert_pem=body.client_cert_pem,
        client_ca_pem=request.app.state.client_ca_pem, over_api=True)


@router.get("")
def list_keys(service: ServiceDep, actor: KeyManager) -> list[ApiKeyPublic]:
    return service.list_api_keys(actor=actor)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(key_id: Identifier, service: ServiceDep, actor: KeyManager) -> None:
    """Revoke at once: the next request with this key is refused."""
    service.revoke_api_key(actor=actor, key_id=key_id)

"""Passkeys (WebAuthn) for people: register through a one-time link, then sign in.

These routes take no API key: the one-time link, then the passkey itself, is the credential.
A sign-in answers the person's own subject token (for their own API use); an operator never
receives one.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from optinface.api.deps import SIGN_IN_CHALLENGE, ServiceDep, passes_witness_gate
from optinface.api.uploads import InMemoryFormRoute
from optinface.api.web.advised import ADVISED
from optinface.consent.schemas import (
    LinkSecret,
    PasskeyChallenge,
    PasskeyRegistered,
    PasskeyResponse,
    SignedIn,
)

# The enrolment link's page calls these: a refusal carries advice in the page's language.
router = APIRouter(prefix="/passkeys", tags=["passkeys"], dependencies=[ADVISED],
                   route_class=InMemoryFormRoute)


@router.post("/registration-options")
def registration_options(body: LinkSecret, service: ServiceDep) -> PasskeyChallenge:
    """Options for ``navigator.credentials.create``, for the holder of an enrolment link."""
    return service.passkey_registration_options(body)


@router.post("/registrations", status_code=status.HTTP_201_CREATED)
def register(body: PasskeyResponse, service: ServiceDep) -> PasskeyRegistered:
    """Store the new passkey; the link is used up."""
    return service.register_passkey(body)


@router.post("/sign-in-options", dependencies=[SIGN_IN_CHALLENGE])
@passes_witness_gate
def sign_in_options(service: ServiceDep) -> PasskeyChallenge:
    """A challenge for ``navigator.credentials.get`` (the device offers its passkey). Asked
    while the audit log's witness folder refuses checkpoints, its statement limits the token
    to ending processing (``endsProcessingOnly``)."""
    return service.sign_in_options()


@router.post("/sign-ins")
@passes_witness_gate
def sign_in(body: PasskeyResponse, service: ServiceDep) -> SignedIn:
    """Verify the passkey; the answer is the person's own subject token, shown once
    (``ends_processing_only`` where its challenge was asked while the witness was stalled)."""
    return service.sign_in(body)

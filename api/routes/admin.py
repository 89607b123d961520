"""An admin key's second factor: register its passkey, then step up with it.

Where ``OPTINFACE_ADMIN_MFA`` is on, an act only an admin may do needs a step-up token of the
same key in ``X-OptinFace-Step-Up`` (:mod:`consent.admin_mfa`). These routes are how one is
obtained, so they need none, except to replace a registered passkey.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from optinface.api.deps import ServiceDep, StepUpDep, require
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import (
    AdminPasskeyRegistered,
    PasskeyChallenge,
    PasskeyResponse,
    StepUp,
)

router = APIRouter(prefix="/admin", tags=["admin"])

Admin = Annotated[Actor, require(Permission.SECOND_FACTOR)]


@router.post("/passkey/options")
def admin_passkey_options(service: ServiceDep, actor: Admin,
                          step_up: StepUpDep) -> PasskeyChallenge:
    """Options for ``navigator.credentials.create``: with the key alone while it has no
    passkey; to replace its passkey, with a step-up of that passkey."""
    return service.admin_passkey_options(actor=actor, step_up=step_up)


@router.post("/passkey", status_code=status.HTTP_201_CREATED)
def register_admin_passkey(body: PasskeyResponse, service: ServiceDep, actor: Admin,
                           step_up: StepUpDep) -> AdminPasskeyRegistered:
    """Bind the new passkey to this admin key (one per key; audited)."""
    return service.register_admin_passkey(actor=actor, body=body, step_up=step_up)


@router.post("/step-up/options")
def step_up_options(service: ServiceDep, actor: Admin) -> PasskeyChallenge:
    """A challenge for ``navigator.credentials.get``, for this key's passkey."""
    return service.step_up_options(actor=actor)


@router.post("/step-up")
def step_up(body: PasskeyResponse, service: ServiceDep, actor: Admin) -> StepUp:
    """This key's step-up token, shown once, once its passkey signed the challenge; it ends
    the key's previous one."""
    return service.step_up(actor=actor, body=body)

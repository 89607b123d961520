"""An admin key's second factor: register its passkey, then step up with it.

Where ``OPTINFACE_ADMIN_MFA`` is on, an act only an admin may do needs a step-up token of the
same key in ``X-OptinFace-Step-Up`` (:mod:`consent.admin_mfa`). These routes are how one is
obtained, so they need none: a key's first passkey rides on the operator's one-time link
(``optinface keys admin-passkey-link``), a replacement on its current passkey's signed approval.
While the setting is off they are closed (409 ``second_factor_off``). Each refused link,
approval or assertion spends one of the client's failure tokens, as a bad secret does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, status

from optinface.api.deps import ServiceDep, failures_throttled, require
from optinface.api.uploads import InMemoryFormRoute
from optinface.consent.errors import ChallengeInvalid, LinkInvalid, PasskeyInvalid, Unauthenticated
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import (
    AdminPasskeyAsk,
    AdminPasskeyChallenge,
    AdminPasskeyRegistered,
    AdminPasskeyResponse,
    PasskeyChallenge,
    PasskeyResponse,
    StepUp,
)

router = APIRouter(prefix="/admin", tags=["admin"], route_class=InMemoryFormRoute)

Admin = Annotated[Actor, require(Permission.SECOND_FACTOR)]
FAILURES = (Unauthenticated, PasskeyInvalid, ChallengeInvalid, LinkInvalid)
"""What a guess at a second factor is refused with (``second_factor_required`` included)."""


@router.post("/passkey/options")
def admin_passkey_options(request: Request, service: ServiceDep, actor: Admin,
                          body: AdminPasskeyAsk | None = None) -> AdminPasskeyChallenge:
    """Options for ``navigator.credentials.create``: on the operator's one-time link
    (``link``), or, to replace the key's passkey, with the ``approval`` its current passkey
    signs."""
    with failures_throttled(request, FAILURES):
        return service.admin_passkey_options(actor=actor, body=body or AdminPasskeyAsk())


@router.post("/passkey", status_code=status.HTTP_201_CREATED)
def register_admin_passkey(request: Request, body: AdminPasskeyResponse, service: ServiceDep,
                           actor: Admin) -> AdminPasskeyRegistered:
    """Bind the new passkey to this admin key (one per key; journaled and audited)."""
    with failures_throttled(request, FAILURES):
        return service.register_admin_passkey(actor=actor, body=body)


@router.post("/step-up/options")
def step_up_options(request: Request, service: ServiceDep, actor: Admin) -> PasskeyChallenge:
    """A challenge for ``navigator.credentials.get``, for this key's passkey."""
    with failures_throttled(request, FAILURES):
        return service.step_up_options(actor=actor)


@router.post("/step-up")
def step_up(request: Request, body: PasskeyResponse, service: ServiceDep,
            actor: Admin) -> StepUp:
    """This key's step-up token, shown once, once its passkey signed the challenge; it ends
    the key's previous one."""
    with failures_throttled(request, FAILURES):
        return service.step_up(actor=actor, body=body)

"""``/privacy``: the public privacy page, no authentication (P-39.1 ss. 3.1, 3.2, 8; GDPR 13).

Who is in charge and how to reach them, the policy, the non-biometric alternative, how long
everything is kept and how to exercise each right; ``/privacy.json`` is the same record as data.
Everything on it comes from :func:`consent.accountability.accountability` and the register's
purposes and retention rules, the same record the receipts and exports carry.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from optinface.api.deps import ServiceDep
from optinface.api.web.rendering import render
from optinface.consent.schemas import PrivacyStatement

router = APIRouter()


@router.get("/privacy")
def privacy(request: Request, service: ServiceDep) -> Response:
    return render(request, "privacy.html", statement=service.privacy_statement())


@router.get("/privacy.json")
def privacy_json(service: ServiceDep) -> PrivacyStatement:
    return service.privacy_statement()

"""``/privacy``: the public privacy page, no authentication (P-39.1 ss. 3.1, 3.2, 8; GDPR 13).

Who is in charge and how to reach them, the policy, the non-biometric alternative, how long
everything is kept and how to exercise each right; ``/privacy.json`` is the same record as data.
Everything on it comes from :func:`consent.accountability.accountability` and the register's
purposes and retention rules, the same record the receipts and exports carry. What the operator
typed (the purposes, recipients, safeguards, an access-log hold, the person in charge's title,
the alternative) is shown as every page shows it (:class:`consent.operator_texts.Shown`): in the
reader's language when translated, else in English marked "(in English only)".

``/privacy/policy`` is the retention policy in force, ``/privacy/policy/versions`` every version
ever in force and ``/privacy/policy/{sha256}`` one of them: the version a consent receipt names
(:mod:`consent.retention_policy`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from optinface.api.deps import ServiceDep
from optinface.api.uploads import InMemoryFormRoute
from optinface.api.web.rendering import render, words_for
from optinface.consent.retention_policy import retention_rules
from optinface.consent.schemas import PrivacyStatement, RetentionPolicyPublic

router = APIRouter(route_class=InMemoryFormRoute)


@router.head("/privacy", include_in_schema=False)  # link checkers ask HEAD of a public page
@router.get("/privacy")
def privacy(request: Request, service: ServiceDep) -> Response:
    """The record in the reader's language: the operator's texts as the reader is shown them,
    the retention rules with the access log's hold as translated."""
    words = words_for(request)
    shown = service.shown_texts(words)
    hold = service.settings.access_log_hold
    rules = retention_rules(service.settings, words, log_hold=shown(hold) if hold else None)
    return render(request, "privacy.html", statement=service.privacy_statement(),
                  shown=shown, rules=rules, hold=hold)


@router.get("/privacy.json")
def privacy_json(service: ServiceDep) -> PrivacyStatement:
    return service.privacy_statement()


@router.get("/privacy/policy")
def retention_policy(service: ServiceDep) -> RetentionPolicyPublic:
    """The retention policy in force: the version each consent now signs."""
    return service.retention_policy()


@router.get("/privacy/policy/versions")
def retention_policies(service: ServiceDep) -> list[RetentionPolicyPublic]:
    """Every retention policy version ever in force, oldest first."""
    return service.retention_policies()


@router.get("/privacy/policy/{sha256}")
def retention_policy_version(
    sha256: Annotated[str, Path(pattern="^[0-9a-f]{64}$")], service: ServiceDep
) -> RetentionPolicyPublic:
    """The version a consent receipt names (``retentionPolicy.sha256``)."""
    return service.retention_policy(sha256)

"""Probe consents and matching (the researcher's role): 1:1 verify and 1:N identify.

``no_candidate`` is an ordinary 200 answer: it is the expected outcome, not an error.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status
from pydantic import PlainValidator

from optinface.api.deps import ReaderWords, ServiceDep, SettingsDep, require
from optinface.api.uploads import InMemoryFormRoute, read_image
from optinface.api.web.advised import ADVISED
from optinface.consent.identifiers import Identifier
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import (
    LinkSecret,
    MatchResult,
    PasskeyChallenge,
    PasskeyResponse,
    ProbeConsentLink,
    ProbeConsentPublic,
    ProbeConsentRequest,
    ProbeLinkRequest,
)

router = APIRouter(tags=["matching"], route_class=InMemoryFormRoute)

MAX_CANDIDATES = 50

ProbeImage = Annotated[UploadFile, File(description="The probe photo; exactly one face.")]
PurposeId = Annotated[Identifier, Form(description="The purpose this search is made for.")]
ProbeConsentId = Annotated[
    Identifier, Form(description="The single-use consent of the person in the probe.")
]


def _true_or_false(value: object) -> bool:
    """``true`` or ``false`` as written: a form sends text, and the lax reading would take
    ``yes``, ``on`` or ``1`` too, so a typo could not tell a declaration from its absence."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("must be true or false")


DecisionUse = Annotated[bool, PlainValidator(_true_or_false, json_schema_input_type=bool), Form(
    description="Declare true when you will base a decision about the person in the probe on"
    " this answer (P-39.1 s. 12.1): the answer then says automated_decision and carries the"
    " notice you must relay to the person no later than the decision. Recorded in the"
    " search's audit event and shown in the person's export. Only true or false.")]


@router.post("/probe-consents", status_code=status.HTTP_201_CREATED)
def request_probe_consent(
    body: ProbeConsentRequest,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.CREATE_PROBE_CONSENT)],
) -> ProbeConsentLink:
    """Ask the person in a probe for their consent: a one-time link (and QR code) bound to one
    purpose, the probe image's SHA-256 and this key. The researcher gets no consent here: the
    person opens the link, registers a passkey and signs (``/probe-links/...``). For a verify,
    name the ``subject``: they sign with the passkey they already have (a verify needs it)."""
    return service.request_probe_consent(actor=actor, body=body)


@router.post("/probe-links/request", dependencies=[ADVISED])
def probe_link_request(body: LinkSecret, service: ServiceDep,
                       words: ReaderWords) -> ProbeLinkRequest:
    """What the link asks the person in the probe to agree to: the notice (text, version, who
    answers), the purpose (and ``purpose_shown``: its texts in the reader's language, ``lang``
    else Accept-Language else the deployment's default, those with no translation in English
    and listed in ``english_only``), the image's SHA-256 and the researcher's key. Uses nothing
    up."""
    return service.probe_link_request(body, words)


@router.post("/probe-links/registration-options", dependencies=[ADVISED])
def probe_registration_options(body: LinkSecret, service: ServiceDep) -> PasskeyChallenge:
    """For the person in the probe (no API key: the one-time link is the credential)."""
    return service.probe_registration_options(body)


@router.post("/probe-links/subject-challenge", dependencies=[ADVISED])
def probe_subject_challenge(body: LinkSecret, service: ServiceDep) -> PasskeyChallenge:
    """For a verify's link: the statement for the subject to sign with their own passkey."""
    return service.probe_subject_challenge(body)


@router.post("/probe-links/registrations", dependencies=[ADVISED])
def register_probe_passkey(body: PasskeyResponse, service: ServiceDep) -> PasskeyChallenge:
    """Store the person's new passkey; the answer is the statement for them to sign."""
    return service.register_probe_passkey(body)


@router.post("/probe-links/signatures", status_code=status.HTTP_201_CREATED,
             dependencies=[ADVISED])
def sign_probe_consent(body: PasskeyResponse, service: ServiceDep) -> ProbeConsentPublic:
    """The signed probe consent: single use, for that image, purpose and researcher key."""
    return service.sign_probe_consent(body)


@router.post("/identify")
def identify(
    image: ProbeImage,
    purpose_id: PurposeId,
    probe_consent_id: ProbeConsentId,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.IDENTIFY)],
    settings: SettingsDep,
    k: Annotated[int, Form(ge=1, le=MAX_CANDIDATES)] = 5,
    decision_use: DecisionUse = False,
) -> MatchResult:
    """1:N search in the purpose's gallery: consenting, searchable subjects only.

    Candidates are those at or above the calibrated threshold; the answer states that threshold,
    its false-match rate and the model. Each key has a daily quota of attempts, counted from
    the audit log (a restart does not reset it).
    """
    data = read_image(image.file, max_bytes=settings.max_image_bytes)
    return service.identify(
        actor=actor,
        purpose_id=purpose_id,
        probe_consent_id=probe_consent_id,
        image=data,
        k=k,
        daily_quota=settings.identify_daily_quota,
        decision_use=decision_use,
    )


@router.post("/verify")
def verify(
    image: ProbeImage,
    subject: Annotated[Identifier, Form(description="The pseudonym to compare against.")],
    purpose_id: PurposeId,
    probe_consent_id: ProbeConsentId,
    service: ServiceDep,
    settings: SettingsDep,
    actor: Annotated[Actor, require(Permission.VERIFY)],
    decision_use: DecisionUse = False,
) -> MatchResult:
    """1:1: is the person in the probe this subject? Refused without the subject's consent.

    With ``decision_use=true`` the answer carries the notice to relay, as for identify.
    """
    data = read_image(image.file, max_bytes=settings.max_image_bytes)
    return service.verify(
        actor=actor,
        subject=subject,
        purpose_id=purpose_id,
        probe_consent_id=probe_consent_id,
        image=data,
        daily_quota=settings.identify_daily_quota,
        decision_use=decision_use,
    )

"""Subjects and their rights: consent, withdrawal, enrolment, access export and erasure.

Every act that creates or ends a legal basis is signed by the person's own passkey: ask for the
statement and its WebAuthn options at ``POST /subjects/{subject}/challenges``, sign it with
``navigator.credentials.get``, then post the answer to the act's route. Operator keys (admin,
portal) get 403 ``subject_credential_required`` on those routes. Withdrawal goes through the
same channel as consent, as the law asks: withdrawing must be as easy as consenting.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import HTMLResponse, Response

from optinface.api.attachments import markdown
from optinface.api.deps import (
    ReaderWords,
    ServiceDep,
    SettingsDep,
    StepUpDep,
    passes_witness_gate,
    require,
    stepped_up,
)
from optinface.api.uploads import InMemoryFormRoute, read_image
from optinface.api.web import export as my_data
from optinface.api.web.i18n import negotiate
from optinface.api.web.reader_words import words_in
from optinface.consent.disclosures import permission_for
from optinface.consent.errors import InvalidRequest
from optinface.consent.identifiers import Identifier
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import (
    AccessExport,
    AlternativeChosenResult,
    CapturePublic,
    ConsentAct,
    ConsentGiven,
    ConsentPublic,
    DisclosureCreate,
    DisclosureMade,
    DisclosurePublic,
    EnrolmentLink,
    EnrolmentLinkCreate,
    ErasureReason,
    ErasureReceipt,
    ExportFormat,
    PasskeyChallenge,
    PasskeyResponse,
    RightsRequestCreate,
    RightsRequestPublic,
    SubjectAct,
    SubjectCreate,
    SubjectCreated,
    SubjectPublic,
    SubjectTokenPublic,
    SubjectTokensRevoked,
    TemplatePublic,
    WithdrawalResult,
)

router = APIRouter(prefix="/subjects", tags=["subjects"], route_class=InMemoryFormRoute)

SubjectReader = Annotated[Actor, require(Permission.READ_SUBJECT)]
SubjectUpdater = Annotated[Actor, require(Permission.UPDATE_SUBJECT)]
SubjectCreator = Annotated[Actor, require(Permission.CREATE_SUBJECT)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_subject(
    body: SubjectCreate,
    service: ServiceDep,
    actor: SubjectCreator,
) -> SubjectCreated:
    """Create a pseudonymous subject shell; the answer holds one-time enrolment links (and QR
    codes) to hand to the person, and for a minor under the age of consent to their guardian.
    It holds no credential: the person registers their own passkey through the link."""
    return service.create_subject(actor=actor, body=body)


@router.post("/{subject}/enrolment-links", status_code=status.HTTP_201_CREATED)
def new_enrolment_link(
    subject: Identifier,
    body: EnrolmentLinkCreate,
    service: ServiceDep,
    actor: SubjectCreator,
) -> EnrolmentLink:
    """A fresh link while no passkey of that capacity is registered (409 once one is)."""
    return service.new_enrolment_link(actor=actor, subject=subject, capacity=body.capacity)


@router.post("/{subject}/challenges")
@passes_witness_gate
def challenge(
    subject: Identifier,
    body: SubjectAct,
    service: ServiceDep,
    settings: SettingsDep,
    actor: SubjectReader,
) -> PasskeyChallenge:
    """The statement to sign for an act, and the WebAuthn options whose challenge is its
    SHA-256. ``enrol`` (a capture session for one photo's SHA-256) may be opened by the desk;
    ``consent``, ``withdraw``, ``searchable``, ``disclose``, ``erase``, ``template_copy`` and
    ``subject_token`` (signed for the portal's token form only) only by the subject's own
    token.
    An ``enrol`` naming a template it ``replaces`` rectifies it: 409 ``template_not_replaceable``
    unless the template is the subject's under that consent. A ``consent``'s statement carries
    the consent form's wording in the notice's language (French for ``fr``, ``fr-CA``; a
    language the pages do not speak: the deployment's default), to show the person before they
    sign; with the ``wording_sha256`` they were shown, 409 ``wording_changed`` if it changed."""
    language = negotiate(body.language, None) if isinstance(body, ConsentAct) else None
    return service.challenge(actor=actor, subject=subject, act=body,
                             say=words_in(language, settings))


@router.get("/{subject}")
def get_subject(subject: Identifier, service: ServiceDep, actor: SubjectReader) -> SubjectPublic:
    return service.get_subject(actor=actor, subject=subject)


@router.patch("/{subject}")
@passes_witness_gate
def set_searchable(
    subject: Identifier,
    body: PasskeyResponse,
    service: ServiceDep,
    actor: SubjectUpdater,
) -> SubjectPublic:
    """Opt in to or out of 1:N galleries with a signed ``searchable`` act (consent to a purpose
    alone does not opt in; the default is not searchable)."""
    return service.set_searchable(actor=actor, subject=subject, signed=body)


@router.post("/{subject}/requests", status_code=status.HTTP_201_CREATED)
def request_right(
    subject: Identifier,
    body: RightsRequestCreate,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.REQUEST_RIGHTS)],
) -> RightsRequestPublic:
    """Record a request of access, rectification, erasure or withdrawal, or a complaint about
    how the person's information is handled: each is due in 30 days."""
    return service.request_right(actor=actor, subject=subject, body=body)


@router.post("/{subject}/alternative")
def choose_alternative(
    subject: Identifier, service: ServiceDep, actor: SubjectUpdater
) -> AlternativeChosenResult:
    """The person chooses the non-biometric alternative instead of their face: their templates
    are destroyed now and enrolment is refused from then on."""
    return service.choose_alternative(actor=actor, subject=subject)


@router.delete("/{subject}")
@passes_witness_gate
def erase(
    subject: Identifier, service: ServiceDep, actor: Annotated[Actor, require(Permission.ERASE)],
    body: PasskeyResponse | None = None,
) -> ErasureReceipt:
    """Erase the subject at once: unsearchable, templates and key destroyed; a signed receipt.
    The person's own token may send, as the body, their passkey's answer to an ``erase``
    challenge: checked before anything is destroyed (403 ``challenge_invalid`` for a used,
    expired or other act's challenge, ``passkey_invalid`` for a passkey not theirs), then
    named in the ``erase`` event and the receipt (``personSignature``). Without a body the
    token alone erases, as before (the portal always signs); an operator's key never sends one
    (403 ``subject_credential_required``): its erasure is the controller's."""
    return service.erase(actor=actor, subject=subject, reason=ErasureReason.REQUEST,
                         signed=body)


@router.get("/{subject}/tokens")
def list_tokens(subject: Identifier, service: ServiceDep,
                actor: Annotated[Actor, require(Permission.READ_TOKENS)],
                ) -> list[SubjectTokenPublic]:
    """The person's live API tokens of their capacity, oldest first: created, expires, the
    keyed hash of the passkey that issued each, the UTC day each last authenticated
    (``last_used_on``, null when not yet recorded), the asking one marked ``current``; never a
    secret. Another subject's token: 403 ``forbidden``; an operator's key: 403
    ``subject_credential_required``."""
    return service.subject_tokens(actor=actor, subject=subject)


@router.delete("/{subject}/tokens")
@passes_witness_gate
def revoke_tokens(subject: Identifier, service: ServiceDep,
                  actor: SubjectUpdater) -> SubjectTokensRevoked:
    """Revoke every live token of the person's capacity, the asking one included (the panic
    button): each is refused at once by every worker (401 ``unauthenticated``), journaled, and
    named in one ``subject_token_revoked`` event."""
    return SubjectTokensRevoked(revoked=service.revoke_subject_tokens(
        actor=actor, subject=subject, token_id=None))


@router.delete("/{subject}/tokens/{token_id}")
@passes_witness_gate
def revoke_token(subject: Identifier, token_id: Identifier, service: ServiceDep,
                 actor: SubjectUpdater) -> SubjectTokensRevoked:
    """Revoke the asking token itself, as :func:`revoke_tokens`; no live token of this subject
    by that id: 404 ``not_found``; one of the person's other live tokens: 403
    ``revoke_other_in_portal``, nothing revoked (a stolen token must not cut the person's
    others off and stay live: one other is picked in the portal, which their passkey opens)."""
    return SubjectTokensRevoked(revoked=service.revoke_subject_tokens(
        actor=actor, subject=subject, token_id=token_id))


@router.post("/{subject}/consents", status_code=status.HTTP_201_CREATED)
def give_consent(
    subject: Identifier,
    body: PasskeyResponse,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.GIVE_CONSENT)],
) -> ConsentGiven:
    """Record the consent the person signed (a ``consent`` challenge); the receipt embeds their
    assertion and is signed by the controller."""
    return service.give_consent(actor=actor, subject=subject, signed=body)


@router.get("/{subject}/consents")
def list_consents(
    subject: Identifier,
    service: ServiceDep,
    actor: SubjectReader,
) -> list[ConsentPublic]:
    return service.list_consents(actor=actor, subject=subject)


@router.post("/{subject}/consents/{consent_id}/withdraw")
@passes_witness_gate
def withdraw_consent(
    subject: Identifier,
    consent_id: Identifier,
    body: PasskeyResponse,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.WITHDRAW_CONSENT)],
) -> WithdrawalResult:
    """Withdraw at once (a signed ``withdraw`` act); templates enrolled under it are erased in
    the same call. A signature that stops one purpose of a consent covering others withdraws
    nothing here (403 ``challenge_invalid``): that act goes to the purpose's route."""
    return service.withdraw_consent(actor=actor, subject=subject, consent_id=consent_id,
                                    signed=body)


@router.post("/{subject}/consents/{consent_id}/purposes/{purpose_id}/withdraw")
@passes_witness_gate
def withdraw_purpose(
    subject: Identifier,
    consent_id: Identifier,
    purpose_id: Identifier,
    body: PasskeyResponse,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.WITHDRAW_CONSENT)],
) -> WithdrawalResult:
    """Stop one use and keep the others: a signed ``withdraw`` act naming ``purpose_id``. The
    purpose leaves the consent at once and ``purpose_withdrawal`` holds its signed receipt; the
    consent's last purpose withdraws the consent, as the whole-consent route does (its
    templates are erased, and the subject with its last consent). A signature naming another
    consent or purpose: 403 ``challenge_invalid``; a purpose the consent does not cover: 404."""
    return service.withdraw_purpose(actor=actor, subject=subject, consent_id=consent_id,
                                    purpose_id=purpose_id, signed=body)


@router.post("/{subject}/capture-approvals")
def approve_capture(
    subject: Identifier,
    body: PasskeyResponse,
    service: ServiceDep,
    actor: SubjectUpdater,
) -> CapturePublic:
    """The subject approves a capture session (an ``enrol`` challenge) with their passkey."""
    return service.approve_capture(actor=actor, subject=subject, signed=body)


@router.post("/{subject}/faces", status_code=status.HTTP_201_CREATED)
def enrol_face(
    subject: Identifier,
    image: Annotated[UploadFile, File(description="One photo, exactly one face (JPEG/PNG/WebP).")],
    service: ServiceDep,
    settings: SettingsDep,
    actor: Annotated[Actor, require(Permission.ENROL)],
    capture_id: Annotated[
        Identifier | None, Form(description="The capture session the subject approved.")] = None,
) -> TemplatePublic:
    """Enrol the photo of an approved capture session (its SHA-256 must be the one approved);
    the photo is discarded once the template is made. Without a capture session: 403
    ``subject_credential_required``. A capture that ``replaces`` a template (rectification)
    destroys that template in the same call, even at the template cap; if the template is no
    longer the subject's under that consent, 409 ``template_not_replaceable`` and nothing is
    enrolled."""
    data = read_image(image.file, max_bytes=settings.max_image_bytes)
    return service.enrol(actor=actor, subject=subject, capture_id=capture_id, image=data)


@router.get("/{subject}/faces")
def list_faces(subject: Identifier, service: ServiceDep,
               actor: SubjectReader) -> list[TemplatePublic]:
    """The subject's templates, oldest first (never a vector): the ids a capture session may
    name in ``replaces`` to rectify one."""
    return service.templates(actor=actor, subject=subject)


@router.post("/{subject}/disclosures", status_code=status.HTTP_201_CREATED)
def disclose(
    request: Request,
    subject: Identifier,
    body: DisclosureCreate,
    service: ServiceDep,
    actor: SubjectReader,
    step_up: StepUpDep,
) -> DisclosureMade:
    """Disclose the subject's record to one recipient, on one of the four bases of BIPA 15(d)
    with the document it rests on; the answer holds the disclosure and ``handed_over``, the
    least a recipient gets (controller, subject, consents, templates' metadata; never a vector,
    nor earlier disclosures, requests, searches or log events). ``law`` and
    ``warrant_subpoena``: an admin key. ``consent`` and ``financial_transaction``: the person's
    own token with ``signed``, their passkey's answer to a ``disclose`` challenge naming the
    same recipient, basis, reference and contents (an operator key: 403
    ``subject_credential_required``; below the age of consent only the guardian's: 403
    ``guardian_consent_required``; another disclosure's signature: 403
    ``challenge_invalid``). An admin's disclosure needs a step-up where ``OPTINFACE_ADMIN_MFA``
    is on."""
    stepped_up(request, service=service, actor=actor, permission=permission_for(body.legal_basis),
               step_up=step_up)
    return service.disclose(actor=actor, subject=subject, body=body)


@router.get("/{subject}/disclosures")
def list_disclosures(
    subject: Identifier,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.EXPORT)],
) -> list[DisclosurePublic]:
    """The subject's disclosures, oldest first (their export lists them too)."""
    return service.list_disclosures(actor=actor, subject=subject)


@router.get(
    "/{subject}/export",
    response_model=AccessExport,
    responses={200: {"content": {"text/markdown": {}, "text/html": {}}}},
)
def export_subject(
    subject: Identifier,
    service: ServiceDep,
    actor: Annotated[Actor, require(Permission.EXPORT)],
    words: ReaderWords,
    export_format: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.JSON,
    vectors: Annotated[bool, Query(description=(
        "The person's own copy of their templates as vectors (JSON only): for their own"
        " subject token, never an operator's key (`subject_credential_required`)."))] = False,
) -> AccessExport | Response:
    """Everything held about the subject: consents, templates, every event that names them.
    The JSON's fields and texts are fixed; Markdown and HTML are written for people, in French
    or English as the pages choose: ``lang``, else the first language of ``Accept-Language``
    we speak, else the deployment's default language. With ``vectors=true`` the JSON holds the
    templates themselves (``template_vectors``): whoever gets the file can recognise the
    person, so only they ask for it; the export's event names the templates."""
    if vectors and export_format is not ExportFormat.JSON:
        raise InvalidRequest("template vectors come in the JSON export only: ask format=json",
                             details={"field": "format"})
    export = service.export(actor=actor, subject=subject, vectors=vectors)
    if export_format is ExportFormat.JSON:
        return export
    text = my_data.render(export, export_format, words, service.shown_texts(words))
    if export_format is ExportFormat.HTML:
        return HTMLResponse(text)
    return markdown(text)

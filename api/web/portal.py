"""The volunteer's portal (``/portal``): the notice, consent, photo, searches, withdrawal, erasure.

Phone first: consents are cards, each purpose with its own "Stop using my face for ..." button;
the last one asks to confirm and says that everything will be erased. A refused form is shown
again with the reason beside the field, what was typed kept, and advice; every act ends on a
receipt page (:mod:`.receipts`). Each form calls the same service method, with the same
permission checks, as the JSON API.

The person signs in with their passkey, and every act that creates or ends a legal basis
(consent, withdrawal, opting in to search, approving a photo), and each erasure, copy of
their templates and API token, is signed on their device by
``static/passkey.js``: it asks ``/portal/challenge`` for the act's statement, has the
authenticator sign it, and posts the form with the signature in its ``signed`` field. Also
here: the landing pages of one-time links (``/passkey`` to create a passkey, ``/probe`` for the
person in a probe).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from optinface.api.attachments import download
from optinface.api.deps import SIGN_IN_CHALLENGE, ServiceDep, SettingsDep, passes_witness_gate
from optinface.api.error_codes import ApiErrorCode, status_for
from optinface.api.errors import ApiError, schema_mismatch
from optinface.api.uploads import InMemoryFormRoute, read_image
from optinface.api.web import export as my_data
from optinface.api.web import receipts, vocabulary
from optinface.api.web.advised import ADVISED
from optinface.api.web.auth import (
    PORTAL,
    end_session,
    log_out,
    login_csrf_matches,
    passkey_log_in,
    posted,
    signed_in,
)
from optinface.api.web.i18n import Words
from optinface.api.web.rendering import Refusal, advice, attempt, render, words_for
from optinface.api.web.sessions import Area, WebSession
from optinface.consent import disclosures
from optinface.consent.accountability import RIGHTS_REQUEST_DAYS
from optinface.consent.errors import ConsentError
from optinface.consent.identifiers import Identifier
from optinface.consent.roles import Actor, Permission, permissions_of
from optinface.consent.schemas import (
    AccessExport,
    DisclosureCreate,
    ErasureReason,
    ErasureReceipt,
    NoticePublic,
    PasskeyChallenge,
    PasskeyResponse,
    PrivacyStatement,
    PurposePublic,
    RightInstruction,
    RightKind,
    RightsRequestCreate,
    SubjectAct,
)
from optinface.consent.service import OptinFace
from optinface.engine.errors import EngineError

router = APIRouter(include_in_schema=False, route_class=InMemoryFormRoute)

CONSENT_DURATIONS_DAYS = (30, 365, 3 * 365)
# What a person asks a human for from the portal; withdrawal and erasure have their own buttons.
PORTAL_REQUEST_KINDS = (RightKind.COMPLAINT, RightKind.RECTIFICATION, RightKind.ACCESS)
SUBJECT_ACT: TypeAdapter[SubjectAct] = TypeAdapter(SubjectAct)
CsrfHeader = Annotated[str | None, Header(alias="X-CSRF-Token")]
Signed = Annotated[str, Form(description="The passkey's answer, put there by passkey.js.")]


def _signed(text: str) -> PasskeyResponse:
    """The form's ``signed`` field: the assertion passkey.js put there."""
    try:
        return PasskeyResponse.model_validate_json(text)
    except ValidationError as error:
        raise ApiError(ApiErrorCode.VALIDATION_ERROR,
                       "this form must be signed with your passkey (JavaScript is needed)"
                       ) from error


@dataclass
class TickedForm:
    """The fields of a form whose box must be ticked before it is signed: erasing oneself and
    copying one's templates, each warned of beside its box."""

    csrf: Annotated[str, Form()]
    confirm: Annotated[bool, Form()] = False
    signed: Signed = ""

    def ticked_and_signed(self, advice: str) -> PasskeyResponse:
        """The passkey's answer, once the box is ticked; unticked, refused with ``advice``
        (shown beside the box) before the signature is read."""
        if not self.confirm:
            raise ApiError(ApiErrorCode.VALIDATION_ERROR, advice)
        return _signed(self.signed)


def _notice(notices: list[NoticePublic], words: Words) -> NoticePublic | None:
    """The latest notice in the reader's language, else the latest in any."""
    mine = [n for n in notices if n.language.lower().startswith(words.language)]
    chosen = mine or notices
    return chosen[-1] if chosen else None


def _durations(longest: int, purposes: list[PurposePublic]) -> list[int]:
    """The consent durations offered: none the signature would be refused for (``longest``,
    shorter for a minor), none past the longest retention of the uses offered (the consent
    would end then anyway, ``ConsentPublic.ends_at``); the longest that can hold is one."""
    limit = min(longest, max((p.retention_days for p in purposes), default=longest))
    return sorted({*(days for days in CONSENT_DURATIONS_DAYS if days < limit), limit})


def _complaint(privacy: PrivacyStatement) -> RightInstruction:
    """How to complain, as the privacy statement says it: told again with every refusal of a
    request (GDPR art. 12(4))."""
    return next(r for r in privacy.accountability.rights if r.right == RightKind.COMPLAINT)


def _home(
    request: Request,
    service: OptinFace,
    session: WebSession,
    actor: Actor,
    *,
    errors: dict[str, Refusal] | None = None,
    typed: dict[str, Any] | None = None,
) -> Response:
    """The volunteer's page; a refused form comes back with its error beside the field."""
    subject = actor.subject or ""
    consents = service.list_consents(actor=actor, subject=subject)
    active = [c for c in consents if c.status == "active"]
    errors = errors or {}
    status = max((status_for(e.code, default=400) for e in errors.values()), default=200)
    privacy = service.privacy_statement()  # what the person is told, purposes included
    words = words_for(request)
    # The uses, recipients, safeguards and rules as the passkey signs them, in the reader's
    # language (consent.consent_form).
    form = service.consent_form(words)
    return render(
        request,
        "portal.html",
        status_code=status,
        csrf=session.csrf,
        capacity=actor.capacity,
        captures=service.pending_captures(actor=actor, subject=subject),
        subject=service.get_subject(actor=actor, subject=subject),
        templates=service.templates(actor=actor, subject=subject),
        notice=_notice(service.list_notices(actor=actor), words),
        privacy=privacy,
        form=form,
        shown=service.shown_texts(words),  # the operator's texts outside the form: its title
        names=receipts.names_in(form),
        consents=consents,
        active=active,
        last_purpose=len(active) == 1 and len(active[0].purposes) == 1,
        durations=_durations(service.longest_consent_days(actor=actor, subject=subject),
                             privacy.purposes),
        requests=service.requests_of(actor=actor, subject=subject),
        tokens=service.subject_tokens(actor=actor, subject=subject),
        request_kinds=PORTAL_REQUEST_KINDS,
        request_days=RIGHTS_REQUEST_DAYS,
        complaint=_complaint(privacy),
        # The consent core decides whether a subject may upload their own photo.
        can_enrol=Permission.ENROL in permissions_of(actor),
        ends_processing_only=actor.ends_processing_only,
        disclosure_bases=sorted(disclosures.PERSONS_OWN),
        errors={field: (advice(e), e.code) for field, e in errors.items()},
        typed=typed or {},
    )


Refused = Callable[[WebSession, Actor, Refusal], Response]


def _form(
    request: Request,
    service: OptinFace,
    csrf: str,
    act: Any,
    *,
    field: str = "",
    typed: dict[str, Any] | None = None,
    refused: Refused | None = None,
) -> Response:
    """Run a portal form; a domain refusal re-renders the page: ``refused``'s, or the home page
    with the error at ``field``. A lost session or a bad CSRF token is raised as it is."""

    def action() -> Response:
        session, actor = posted(request, service, PORTAL, csrf)
        try:
            response: Response = act(actor)
            return response
        except (ConsentError, EngineError, ApiError) as error:
            if error.code in {"unauthenticated", "forbidden"}:
                raise
            if refused is not None:
                return refused(session, actor, error)
            return _home(request, service, session, actor, errors={field: error}, typed=typed)

    return attempt(request, action)


@router.get("/portal")
@passes_witness_gate
def portal(request: Request, service: ServiceDep) -> Response:
    def build(session: WebSession, actor: Actor) -> Response:
        return _home(request, service, session, actor)

    return signed_in(request, service, PORTAL, build, login_form=True)


@router.post("/portal/passkey/options", dependencies=[ADVISED, SIGN_IN_CHALLENGE])
@passes_witness_gate
def portal_sign_in_options(request: Request, service: ServiceDep,
                           csrf: CsrfHeader = None) -> PasskeyChallenge:
    """JSON for passkey.js: a sign-in challenge (the login page's CSRF cookie must match)."""
    if not login_csrf_matches(request, service, Area.PORTAL, csrf):
        raise ApiError(ApiErrorCode.FORBIDDEN, "the page expired; reload it and try again")
    return service.sign_in_options()


@router.post("/portal/passkey/sign-in", dependencies=[ADVISED])
@passes_witness_gate
def portal_sign_in(request: Request, service: ServiceDep, body: PasskeyResponse,
                   csrf: CsrfHeader = None) -> Response:
    """The passkey's answer: a session whose secret is the person's own subject token."""
    return passkey_log_in(request, service, body, csrf)


def _act(request: Request, typed: dict[str, Any]) -> SubjectAct:
    """The act a form asks to sign. The sharing form's fields are typed by the person: what
    they typed wrong is refused with that form's own advice, naming the fields to correct,
    before anything is signed. The other acts are written by passkey.js from the page."""
    try:
        return SUBJECT_ACT.validate_python(typed)
    except ValidationError as error:
        refused = RequestValidationError(_in_the_body(error))
        if typed.get("act") != "disclose":
            raise refused from error
        wrong = {part for problem in error.errors() for part in problem["loc"]}
        fields = [name for name in vocabulary.DISCLOSE_FIELDS if name in wrong]
        words = words_for(request)
        told = words("Check: {fields}.",
                     fields="; ".join(words(vocabulary.DISCLOSE_FIELDS[name]) for name in fields))
        raise schema_mismatch(refused, fields=fields, advice=(
            f"{told} {words(vocabulary.NAME_WHO_AND_WHY)}")) from error


def _in_the_body(error: ValidationError) -> list[Any]:
    """The act's problems located as FastAPI locates a body's (``["body", ...]``), so a client
    reads the same ``details.errors`` here as from any other route."""
    return [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors()]


@router.post("/portal/challenge", dependencies=[ADVISED])
@passes_witness_gate
def portal_challenge(request: Request, service: ServiceDep, body: dict[str, Any],
                     csrf: CsrfHeader = None) -> PasskeyChallenge:
    """JSON for passkey.js: the statement of an act and the options to sign it. An act refused
    before anything is signed carries ``details.advice`` in the page's language, which
    passkey.js shows beside the form."""
    _, actor = posted(request, service, PORTAL, csrf or "")
    try:
        # A consent's statement carries the form's wording in the language the page showed.
        return service.challenge(actor=actor, subject=actor.subject or "",
                                 act=_act(request, body), say=words_for(request))
    except (ConsentError, EngineError) as error:
        if (days := error.details.get("max_consent_days")) is not None:
            error.details["advice"] = _too_long(words_for(request), days)
        raise


def _too_long(words: Words, days: object) -> str:
    """The advice for a consent refused as too long (it goes before the code's own, which the
    routes' ``ADVISED`` adds to every other refusal): how long it may last, a minor's being
    shorter than an adult's."""
    return words("This consent can last at most {days} days (a minor's less than an"
                 " adult's): choose a shorter time.", days=days)


@router.post("/portal/logout")
@passes_witness_gate
def portal_logout(request: Request, service: ServiceDep, csrf: Annotated[str, Form()]) -> Response:
    return log_out(request, service, PORTAL, csrf)


@router.post("/portal/consent")
def portal_consent(
    request: Request,
    service: ServiceDep,
    csrf: Annotated[str, Form()],
    signed: Signed = "",
    duration_days: Annotated[int, Form()] = CONSENT_DURATIONS_DAYS[0],
    purposes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Express consent: only the boxes the subject ticked (none are ticked in advance), signed
    with their passkey (the statement names the notice's SHA-256, the retention policy, the
    purposes and the expiry)."""

    def act(actor: Actor) -> Response:
        if not purposes:
            raise ApiError(ApiErrorCode.VALIDATION_ERROR, vocabulary.PICK_A_PURPOSE)
        given = service.give_consent(actor=actor, subject=actor.subject or "",
                                     signed=_signed(signed))
        names = receipts.purpose_names(service, words_for(request))
        return receipts.receipt_page(
            request, receipts.consent_summary(words_for(request), given.consent, names)
        )

    typed = {"purposes": purposes or [], "duration_days": duration_days}
    return _form(request, service, csrf, act, field="purposes", typed=typed)


@router.post("/portal/enrol")
def portal_enrol(
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form()],
    consent_id: Annotated[Identifier, Form()],
    image: Annotated[UploadFile, File()],
    signed: Signed = "",
    replaces: Annotated[str, Form()] = "",
) -> Response:
    """The person's own photo: a capture session approved with their passkey (the statement
    names the photo's SHA-256, and the template it replaces if they chose one), then that photo
    enrolled. What is replaced is what the passkey signed, not a form field."""

    def act(actor: Actor) -> Response:
        data = read_image(image.file, max_bytes=settings.max_image_bytes)
        subject = actor.subject or ""
        capture = service.approve_capture(actor=actor, subject=subject, signed=_signed(signed))
        service.enrol(actor=actor, subject=subject, capture_id=capture.id, image=data)
        return RedirectResponse("/portal?done=photo#enrol", status_code=303)

    typed = {"consent_id": consent_id, "replaces": replaces}  # shown again if refused
    return _form(request, service, csrf, act, field="image", typed=typed)


class DiscloseForm(BaseModel):
    """The portal's "Share your record with someone" form (BIPA 15(d), the person's own bases)."""

    csrf: str
    recipient: str
    recipient_country: str
    recipient_region: str = ""
    legal_basis: str
    document_reference: str
    transfer_assessment: str = ""
    signed: str = ""


@router.post("/portal/disclose")
def portal_disclose(request: Request, service: ServiceDep,
                    form: Annotated[DiscloseForm, Form()]) -> Response:
    """The person shares their record: the disclosure their passkey signed is recorded, and
    what the recipient gets (never a vector) is downloaded for them to hand over."""

    def act(actor: Actor) -> Response:
        try:
            body = DisclosureCreate(recipient=form.recipient,
                                    recipient_country=form.recipient_country,
                                    recipient_region=form.recipient_region or None,
                                    legal_basis=form.legal_basis,
                                    document_reference=form.document_reference,
                                    transfer_assessment=form.transfer_assessment or None,
                                    signed=_signed(form.signed))
        except ValidationError as error:
            raise ApiError(ApiErrorCode.VALIDATION_ERROR, vocabulary.NAME_WHO_AND_WHY) from error
        made = service.disclose(actor=actor, subject=actor.subject or "", body=body)
        return download(made.model_dump_json(indent=2),
                        f"disclosure-{made.disclosure.id}.json", "application/json")

    typed = {"recipient": form.recipient, "recipient_country": form.recipient_country,
             "recipient_region": form.recipient_region, "legal_basis": form.legal_basis,
             "document_reference": form.document_reference,
             "transfer_assessment": form.transfer_assessment}
    return _form(request, service, form.csrf, act, field="disclose", typed=typed)


class RequestForm(BaseModel):
    """The portal's "Ask a person, or complain" form."""

    csrf: str
    kind: RightKind
    note: str = ""


@router.post("/portal/requests")
def portal_request(request: Request, service: ServiceDep,
                   form: Annotated[RequestForm, Form()]) -> Response:
    """A complaint, or a request a person handles, written from the portal: due in 30 days
    like one sent by letter (P-39.1 ss. 3.2, 32; GDPR art. 12(3))."""

    def act(actor: Actor) -> Response:
        if form.kind not in PORTAL_REQUEST_KINDS:  # the others have their own buttons
            raise ApiError(ApiErrorCode.VALIDATION_ERROR, vocabulary.PICK_WHAT_ABOUT)
        try:
            body = RightsRequestCreate(kind=form.kind, channel="portal",
                                       note=form.note.strip() or None)
        except ValidationError as error:  # longer than a note may be: refused, never cut
            raise ApiError(ApiErrorCode.VALIDATION_ERROR, vocabulary.WRITE_A_MESSAGE) from error
        if body.note is None:
            raise ApiError(ApiErrorCode.VALIDATION_ERROR, vocabulary.WRITE_A_MESSAGE)
        service.request_right(actor=actor, subject=actor.subject or "", body=body)
        return RedirectResponse("/portal?done=request#requests", status_code=303)

    return _form(request, service, form.csrf, act, field="note",
                 typed={"kind": form.kind, "note": form.note})


@router.post("/portal/searchable")
@passes_witness_gate
def portal_searchable(
    request: Request,
    service: ServiceDep,
    csrf: Annotated[str, Form()],
    signed: Signed = "",
) -> Response:
    """The volunteer's own switch, signed: may searches among everyone (1:N) find them."""

    def act(actor: Actor) -> Response:
        service.set_searchable(actor=actor, subject=actor.subject or "", signed=_signed(signed))
        return RedirectResponse("/portal#searchable", status_code=303)

    return _form(request, service, csrf, act, field="searchable", typed={})


@router.post("/portal/withdraw")
@passes_witness_gate
def portal_withdraw(
    request: Request,
    service: ServiceDep,
    csrf: Annotated[str, Form()],
    consent_id: Annotated[Identifier, Form()],
    purpose_id: Annotated[Identifier, Form()],
    confirm: Annotated[bool, Form()] = False,
    signed: Signed = "",
) -> Response:
    """Stop one use, signed with the passkey; the very last one is confirmed first, since it
    erases everything: by the box beside its button (one signature, so withdrawing takes no
    more steps than consenting), else on a page of its own before anything is signed."""

    def action() -> Response:
        session, actor = posted(request, service, PORTAL, csrf)
        subject = actor.subject or ""
        active = [c for c in service.list_consents(actor=actor, subject=subject)
                  if c.status == "active"]
        last = [c.id for c in active] == [consent_id] and active[0].purposes == [purpose_id]
        names = receipts.purpose_names(service, words_for(request))
        if last and not confirm:
            return render(
                request,
                "withdraw_last.html",
                csrf=session.csrf,
                consent_id=consent_id,
                purpose_id=purpose_id,
                purpose=names.get(purpose_id, purpose_id),
            )
        result = service.withdraw_purpose(
            actor=actor, subject=subject, consent_id=consent_id, purpose_id=purpose_id,
            signed=_signed(signed),
        )
        words = words_for(request)
        if result.erasure is not None:
            return _erased(request, service, result.erasure)
        assert result.purpose_withdrawal is not None  # the subject stays: a receipt is kept
        return receipts.receipt_page(
            request, receipts.purpose_withdrawal_summary(
                words, result.purpose_withdrawal, result.consent.given_by)
        )

    return attempt(request, action)


@router.post("/portal/capture-approval")
def portal_capture_approval(request: Request, service: ServiceDep,
                            csrf: Annotated[str, Form()], signed: Signed = "") -> Response:
    """Approve a capture session the desk opened (the photo's SHA-256 is in the statement)."""

    def act(actor: Actor) -> Response:
        service.approve_capture(actor=actor, subject=actor.subject or "", signed=_signed(signed))
        return RedirectResponse("/portal?done=approved#captures", status_code=303)

    return _form(request, service, csrf, act, field="captures", typed={})


@router.post("/portal/token")
def portal_token(request: Request, service: ServiceDep, csrf: Annotated[str, Form()],
                 signed: Signed = "") -> Response:
    """An API token for the person's own use, shown to them once, on this page, once they
    signed it with their passkey (a ``subject_token`` act: the token erases them and copies
    their templates over the API for its lifetime, so the session alone issues none)."""

    def act(actor: Actor) -> Response:
        issued = service.issue_subject_token(actor=actor, signed=_signed(signed))
        return render(request, "portal_token.html", token=issued.subject_token,
                      expires_at=issued.token_expires_at)

    return _form(request, service, csrf, act, field="token", typed={})


@router.post("/portal/tokens/revoke")
@passes_witness_gate
def portal_revoke_tokens(request: Request, service: ServiceDep, csrf: Annotated[str, Form()],
                         token_id: Annotated[str, Form()] = "") -> Response:
    """Revoke one of the person's API tokens, or (no ``token_id``) all of them but this
    session's, which log-out ends: refused at once by every worker. Not signed with the
    passkey: it takes power away and destroys nothing (:mod:`consent.subject_tokens`). Here
    alone, where the passkey signed the person in, is one token picked among theirs: over the
    API a token revokes only itself or all."""

    def act(actor: Actor) -> Response:
        service.revoke_subject_tokens(actor=actor, subject=actor.subject or "",
                                      token_id=token_id or None, in_portal=True)
        return RedirectResponse("/portal?done=revoked#tokens", status_code=303)

    return _form(request, service, csrf, act, field="tokens", typed={})


@router.get("/passkey")
def passkey_page(request: Request) -> Response:
    """Where an enrolment link lands: the person creates their passkey on their own device."""
    return render(request, "passkey.html")


@router.get("/probe")
def probe_page(request: Request) -> Response:
    """Where a probe-consent link lands: the person in the photo agrees, or not."""
    return render(request, "probe.html")


def _erased(request: Request, service: OptinFace, erasure: ErasureReceipt) -> Response:
    """The erasure receipt page: download now, or later once with the code; session over."""
    code = service.keep_erasure_receipt(erasure)
    response = receipts.receipt_page(
        request, receipts.erasure_summary(words_for(request), erasure, code=code)
    )
    end_session(request, response, Area.PORTAL)
    return response


@router.post("/portal/erase")
@passes_witness_gate
def portal_erase(
    request: Request, service: ServiceDep, form: Annotated[TickedForm, Depends()],
) -> Response:
    """The person's own erasure, once they ticked the confirmation and signed it with their
    passkey (an ``erase`` act: the session alone erases no one): everything of theirs is
    destroyed, the page shows the erasure receipt (and the code to fetch it later), and the
    session ends, since there is no longer a subject to sign in to."""

    def act(actor: Actor) -> Response:
        erasure = service.erase(
            actor=actor, subject=actor.subject or "", reason=ErasureReason.REQUEST,
            signed=form.ticked_and_signed(vocabulary.CONFIRM_ERASURE))
        return _erased(request, service, erasure)

    return _form(request, service, form.csrf, act, field="erase", typed={})


def _own_export(
    request: Request, service: OptinFace,
    respond: Callable[[WebSession, AccessExport], Response],
) -> Response:
    """The signed-in person's access export, answered by ``respond`` (to the portal if no one
    is signed in)."""

    def build(session: WebSession, actor: Actor) -> Response:
        return respond(session, service.export(actor=actor, subject=actor.subject or ""))

    return signed_in(request, service, PORTAL, build)


def _data_page(request: Request, service: OptinFace, session: WebSession,
               export: AccessExport, *, refused: Refusal | None = None) -> Response:
    """"My data": the export in the reader's language, and the form for a copy of the
    templates, with its refusal beside its box if the person did not confirm."""
    words = words_for(request)
    return render(
        request, "portal_data.html",
        status_code=status_for(refused.code, default=400) if refused else 200,
        csrf=session.csrf, generated=my_data.generated(export, words),
        sections=my_data.sections(export, words, service.shown_texts(words)),
        errors={"template-copy": (advice(refused), refused.code)} if refused else {})


@router.get("/portal/data")
def portal_data(request: Request, service: ServiceDep) -> Response:
    """The access export inside the portal's frame, every label in the reader's language."""
    return _own_export(request, service, lambda session, export: _data_page(
        request, service, session, export))


@router.get("/portal/data.json")
def portal_data_json(request: Request, service: ServiceDep) -> Response:
    """The access export as the JSON file a person keeps (without the templates' vectors)."""
    return _own_export(request, service, lambda _, export: download(
        export.model_dump_json(indent=2), "my-data.json", "application/json"))


@router.post("/portal/data-with-templates.json")
def portal_data_with_templates(
    request: Request, service: ServiceDep, form: Annotated[TickedForm, Depends()],
) -> Response:
    """The access export with the person's templates as vectors, a copy they choose on "My
    data" after its warning (ticked: they understand that whoever holds it can recognise
    them) and sign with their passkey (a ``template_copy`` act: the session alone copies
    nothing). Unticked, unsigned or signed wrong, no copy is made: the page again, the advice
    beside the box."""

    def act(actor: Actor) -> Response:
        export = service.export(
            actor=actor, subject=actor.subject or "", vectors=True,
            signed=form.ticked_and_signed(vocabulary.CONFIRM_TEMPLATE_COPY))
        return download(export.model_dump_json(indent=2), "my-data-with-templates.json",
                        "application/json")

    def on_data_page(session: WebSession, actor: Actor, error: Refusal) -> Response:
        return _data_page(request, service, session,
                          service.export(actor=actor, subject=actor.subject or ""),
                          refused=error)

    return _form(request, service, form.csrf, act, refused=on_data_page)

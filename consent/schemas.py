"""The inputs and outputs of :class:`consent.service.OptinFace` (pydantic v2).

These are the API's bodies and answers too, so their names and fields are a public contract.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    computed_field,
    model_validator,
)

from optinface.consent.audit import AuditAction
from optinface.consent.audit_seals import Seal
from optinface.consent.identifiers import (
    MAX_INTEGER_COLUMN,
    SHA256_PATTERN,
    CountryCode,
    Identifier,
    LanguageTag,
    Name,
    OneLine,
    Text,
    Words,
)
from optinface.consent.log_seals import SealFailure
from optinface.consent.moments import Day, Moment
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.roles import Role
from optinface.consent.settings import Hosting, Jurisdiction, Recipient

MAX_PURPOSES_PER_CONSENT = 50


class Operation(StrEnum):
    """What a purpose may use a face for."""

    ENROL = "enrol"
    VERIFY = "verify"  # 1:1 against one named subject
    IDENTIFY = "identify"  # 1:N within the purpose's gallery


class AgeCategory(StrEnum):
    """An age bracket declared at the portal (from an ID check), never estimated from a face.

    Brackets are cut at every age of consent in use (13 to 16 under GDPR art. 8, 14 in Québec)
    so that the configured threshold decides, not the bracket.
    """

    ADULT = "adult"
    MINOR_16_17 = "minor_16_17"
    MINOR_15 = "minor_15"
    MINOR_14 = "minor_14"
    MINOR_13 = "minor_13"
    UNDER_13 = "under_13"

    @property
    def min_age(self) -> int:
        return _MIN_AGE[self]


_MIN_AGE = {
    AgeCategory.ADULT: 18,
    AgeCategory.MINOR_16_17: 16,
    AgeCategory.MINOR_15: 15,
    AgeCategory.MINOR_14: 14,
    AgeCategory.MINOR_13: 13,
    AgeCategory.UNDER_13: 0,
}


class ConsentMethod(StrEnum):
    """How consent was expressed. New consents are ``passkey``: signed by the person's own
    WebAuthn credential; the other values remain for consents recorded before."""

    PASSKEY = "passkey"
    E_SIGNATURE = "e_signature"
    SIGNED_FORM = "signed_form"
    PORTAL_CLICK = "portal_click"


class ConsentCapacity(StrEnum):
    SELF = "self"
    PARENTAL_AUTHORITY = "parental_authority"


class ErasureReason(StrEnum):
    REQUEST = "request"
    WITHDRAWAL = "withdrawal"
    EXPIRY = "expiry"
    RETENTION = "retention"
    REGULATOR_ORDER = "regulator_order"  # LCCJTI art. 45: the regulator ordered destruction
    # A guardian's consent once its person came of age without consenting in their own name
    # (consent.coming_of_age).
    CAME_OF_AGE = "came_of_age"


class DisclosureBasis(StrEnum):
    """The only grounds on which BIPA 15(d) lets biometric data be disclosed
    (:mod:`consent.disclosures`)."""

    CONSENT = "consent"  # (1) the person consents to this disclosure
    FINANCIAL_TRANSACTION = "financial_transaction"  # (2) completes one they asked for
    LAW = "law"  # (3) required by law
    WARRANT_SUBPOENA = "warrant_subpoena"  # (4) a valid warrant or subpoena


class SearchOutcome(StrEnum):
    """What a verify or identify found: candidates for people to review, never a verdict.

    No person has confirmed anything when the search answers, so the answer names candidates,
    not a "match". Audit rows written before issue 12 say ``match`` / ``no_match``: the pages
    and exports show them with these words (``api/web/vocabulary.py``).
    """

    CANDIDATES = "candidates_for_review"
    NO_CANDIDATE = "no_candidate"


# What the outcomes of audit rows written before issue 12 mean today. The rows stay as written
# (the chain hashes cover them); the dashboard, its filter and the subject's export read them so.
LEGACY_SEARCH_OUTCOMES: dict[str, SearchOutcome] = {
    "match": SearchOutcome.CANDIDATES,
    "no_match": SearchOutcome.NO_CANDIDATE,
}


def current_outcome(recorded: str) -> str:
    """An audit row's outcome in today's words: ``match`` reads ``candidates_for_review``."""
    return str(LEGACY_SEARCH_OUTCOMES.get(recorded, recorded))


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# Keys -----------------------------------------------------------------------------------------
class ApiKeyPublic(_Public):
    key_id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = Field(
        default=None, description="When the key stops working; none: it never expires (only a"
                                  " break-glass key expires, hours after it opened).")
    client_cert_sha256: str | None = Field(
        default=None, description="The SHA-256 of the client certificate the key is bound to.")


class ApiKeyCreated(ApiKeyPublic):
    secret: str = Field(description="Shown once; only a keyed hash is stored.")


class BreakGlassPublic(BaseModel):
    """One break-glass opening (:mod:`consent.break_glass`) as a reviewer checks it: why, when,
    for how long, and what was done under its key. Only ``seq`` is given for an opening whose
    details were edited past reading (the chain's check says where)."""

    seq: int = Field(description="The opening's position in the audit log.")
    readable: bool = Field(default=True, description="False: its details cannot be read.")
    key_id: str | None = None
    reason: str | None = Field(default=None, description="Why it was opened, as chained.")
    opened_at: datetime | None = None
    expires_at: datetime | None = Field(default=None,
                                        description="When the key stops working, as chained.")
    replayed: bool = Field(default=False, description="Chained again from the journal at a"
                                                      " start: the log had lost it (a restore).")
    revoked_at: datetime | None = Field(default=None,
                                        description="When the key was revoked, if it was.")
    acts: int = Field(default=0, description="Audited events done under the key (its actor).")
    acts_after_expiry: int = Field(
        default=0, description="Of those, done after the expiry the log recorded: the key's"
                               " row was edited to outlive it.")
    keys_created: list[str] = Field(default_factory=list,
                                    description="The API keys created under the key.")


# Purposes and notices -------------------------------------------------------------------------
class PurposeCreate(BaseModel):
    name: Name
    description: Words = Field(max_length=5_000)
    legal_basis: OneLine = Field(min_length=1, max_length=200)
    operations: set[Operation] = Field(min_length=1)
    # At most a century: a longer keep is no retention limit, and past SQLite's 64-bit integers
    # or Python's dates a larger number was a 500 instead of a 422.
    retention_days: int = Field(gt=0, le=36_500)
    study: OneLine | None = Field(default=None, max_length=200)


class PurposePublic(_Public):
    id: str
    name: str
    description: str
    legal_basis: str
    operations: list[Operation]
    retention_days: int
    study: str | None
    created_at: datetime


class ExportedPurpose(PurposePublic):
    """A purpose as the person's access export lists it: whether it still covers them."""

    in_force: bool = Field(description=(
        "True while a consent in force covers it; false once withdrawn, ended or expired: the"
        " person's data are no longer processed for it."))


class TranslationLanguage(StrEnum):
    """The languages the operator's English texts are translated into (Québec: French)."""

    FR = "fr"


class OperatorTextSet(BaseModel):
    """The translation of one of the operator's texts (see :mod:`consent.operator_texts`)."""

    text: Words = Field(min_length=1, max_length=5_000, description=(
        "What readers of the language are shown instead of the English; one line where the"
        " English is one line (else 422 invalid_request, details.field text)."))


class OperatorTextPublic(BaseModel):
    """One English text the operator typed that consent forms show, and its translation."""

    source_sha256: str = Field(description="The SHA-256 of the English text: its key.")
    source: str = Field(description="The English text, as typed.")
    places: list[str] = Field(description="Where consent forms show it, e.g. 'purpose pur_1"
                              " description', 'recipient 1 name', 'transfer_safeguards'.")
    language: TranslationLanguage
    text: str | None = Field(description="The translation; null: none yet, so readers of the"
                             " language are shown the English, marked as English only.")
    updated_at: datetime | None


class NoticeCreate(BaseModel):
    version: OneLine = Field(min_length=1, max_length=50)
    language: LanguageTag
    text: Words = Field(max_length=100_000)


# Accountability -------------------------------------------------------------------------------
class RightInstruction(BaseModel):
    right: str
    basis: str
    how: str


class Accountability(BaseModel):
    """Who answers for the database and how to reach them (see :mod:`consent.accountability`)."""

    controller_name: str
    controller_contact: str
    privacy_officer_name: str
    privacy_officer_title: str
    privacy_officer_contact: str
    dpo_contact: str
    eu_representative: str | None
    pia_reference: str
    pia_sha256: str
    policy_url: str
    hosting: Hosting
    non_biometric_alternative: str
    rights: list[RightInstruction]
    rights_request_days: int
    demo_mode: bool


class NoticePublic(_Public):
    id: str
    version: str
    language: str
    text: str
    sha256: str
    published_at: datetime
    accountability: Accountability | None = Field(
        default=None, description="Who answers, the alternative and the rights: shown with"
        " every notice.")


# Subjects and consents ------------------------------------------------------------------------
class SubjectCreate(BaseModel):
    age_category: AgeCategory
    # The day this service's desk checked the bracket, not a birth date: the span's 1970 floor
    # holds for it as for every record of the service, and an earlier day would only make the
    # bracket an adult's (a bracket ages from the day it was declared).
    age_declared_on: Day | None = Field(
        default=None,
        description="The day the age bracket was checked (today or before); default today.")
    jurisdiction: Jurisdiction | None = Field(
        default=None, description="Defaults to the deployment's jurisdiction."
    )
    searchable: bool = Field(
        default=False,
        description="Only false: opting in to 1:N search is the subject's own signed act "
        "(true is refused with subject_credential_required).")


class SubjectPublic(_Public):
    pseudonym: str
    status: str
    age_category: AgeCategory
    jurisdiction: Jurisdiction
    searchable: bool
    created_at: datetime
    last_interaction_at: datetime
    alternative_chosen_at: datetime | None = Field(
        default=None, description="When the person chose the non-biometric alternative.")
    age_declared_on: date | None = Field(
        default=None, description="The day the age bracket was declared (a bracket ages).")
    own_consent_requested_at: datetime | None = Field(
        default=None, description="When a minor who came of age was asked to consent in "
        "their own name.")
    first_enrolled_at: datetime | None = Field(
        default=None, description="When the subject's first template was stored (kept while "
        "the subject exists): from then on, a photo with no template of theirs to compare it "
        "with is enrolled only from a capture session the desk opened (reenrol_at_desk).")


class AlternativeChosenResult(BaseModel):
    subject: SubjectPublic
    alternative: str = Field(description="What the person uses instead of their face.")
    templates_destroyed: int


class EnrolmentLink(BaseModel):
    """A one-time, short-lived link for a person to register their own passkey."""

    link_url: str = Field(description="The page to open; the secret rides in its fragment.")
    secret: str = Field(description="Shown once; the link's one-time secret.")
    capacity: ConsentCapacity
    expires_at: datetime
    qr_svg: str = Field(description="The link as a QR code (SVG), to show on the desk's screen.")


class SubjectCreated(BaseModel):
    """What the operator gets: a shell and links to hand over, never a credential."""

    pseudonym: str
    subject: SubjectPublic
    enrolment: EnrolmentLink
    guardian_enrolment: EnrolmentLink | None = Field(
        default=None, description="For a minor under the age of consent: their guardian's.")


class EnrolmentLinkCreate(BaseModel):
    capacity: ConsentCapacity = ConsentCapacity.SELF


class LinkSecret(BaseModel):
    link: str = Field(min_length=8, max_length=200)


class PasskeyChallenge(BaseModel):
    """WebAuthn options for ``navigator.credentials.create/get`` and, for a signed act, the
    statement whose SHA-256 is the challenge (show it to the person)."""

    ceremony_id: str
    options: dict[str, Any]
    statement: dict[str, Any] | None = None


def _unicode_text(credential: dict[str, Any]) -> dict[str, Any]:
    """Refuse a credential holding a string with no UTF-8 form: JSON's escapes spell a lone
    surrogate (``"\\ud800"``), which the signed act's evidence, kept as UTF-8, cannot hold (a
    500 once the passkey had verified). Walked without recursion: JSON nests deep."""
    pending: list[Any] = [credential]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("a string of the credential is not Unicode text") from None
    return credential


class PasskeyResponse(BaseModel):
    """The browser's (or authenticator's) answer to a challenge, in WebAuthn's JSON form."""

    ceremony_id: Identifier
    credential: Annotated[dict[str, Any], AfterValidator(_unicode_text)]


class PasskeyRegistered(BaseModel):
    subject: str | None
    capacity: str
    credential_id: str


class AdminPasskeyAsk(BaseModel):
    """What an admin key asks a passkey's creation options with (:mod:`consent.admin_mfa`)."""

    link: str | None = Field(
        default=None, min_length=8, max_length=200,
        description="The operator's one-time link (optinface keys admin-passkey-link): for the"
                    " key's first passkey, or one replacing a passkey lost. Without it, the"
                    " answer's approval is for the key's current passkey to sign.")


class AdminPasskeyChallenge(PasskeyChallenge):
    """Creation options for an admin key's passkey and, to replace its passkey without the
    operator's link, the challenge its current passkey signs to approve the replacement."""

    approval: PasskeyChallenge | None = None


class AdminPasskeyResponse(PasskeyResponse):
    """The new passkey's registration and, on the key's own link, its current passkey's
    signed approval."""

    approval: PasskeyResponse | None = None


class AdminPasskeyLink(BaseModel):
    """The operator's one-time link for an admin key's passkey; its secret is shown once."""

    key_id: str
    secret: str
    expires_at: datetime


class AdminPasskeyRegistered(BaseModel):
    """An admin key's passkey, now its second factor (:mod:`consent.admin_mfa`)."""

    key_id: str
    credential_id: str
    registered_at: datetime
    replaced: bool = Field(description="Whether it replaced the key's earlier passkey.")


class StepUp(BaseModel):
    """A step-up token: with its admin key, admin-only acts until it expires."""

    step_up_token: str = Field(description="Shown once; send it in X-OptinFace-Step-Up with the"
                                           " same admin key.")
    expires_at: datetime


class SignedIn(BaseModel):
    """The subject's own API token, issued to the person who signed in with their passkey."""

    subject: str
    capacity: ConsentCapacity
    subject_token: str = Field(description="Shown once; scoped to this subject; expires.")
    token_expires_at: datetime
    ends_processing_only: bool = Field(default=False, description=(
        "True for a sign-in made while the audit log's witness folder refused checkpoints: the"
        " token may only end processing (withdraw, erase, opt out, revoke) for its whole life;"
        " anything else is refused 403 ends_processing_only. Sign in again for the rest."))


class SubjectTokenPublic(BaseModel):
    """One of the person's live API tokens as they see it: never its secret or hash."""

    token_id: str = Field(description="The public id before the secret's dot (``stk_...``).")
    capacity: ConsentCapacity
    created_at: datetime
    expires_at: datetime
    issued_by: str | None = Field(
        description="The keyed hash of the passkey that issued it, as the log and the receipts"
                    " name passkeys; null for a token issued before this was recorded.")
    current: bool = Field(description="Whether this is the token (or page session) asking.")
    last_used_on: date | None = Field(
        description="The day (UTC) it last authenticated, recorded at most once a day; never a"
                    " time, an address or a route; null when not used since it was recorded.")
    ends_processing_only: bool = Field(default=False, description=(
        "Issued by a sign-in made while the audit log's witness folder refused checkpoints: it"
        " may only end processing (a token the person does not recognise is theirs to revoke)."))


class SubjectTokensRevoked(BaseModel):
    """What a revocation ended: the ids of the tokens revoked (none where none was live)."""

    revoked: list[str]


class ConsentAct(BaseModel):
    """Ask to sign a consent: the statement commits to the notice's SHA-256, the purposes, the
    expiry and the pseudonym."""

    act: Literal["consent"] = "consent"
    purposes: list[Identifier] = Field(min_length=1, max_length=MAX_PURPOSES_PER_CONSENT)
    notice_id: Identifier
    language: LanguageTag = Field(description="The notice's own language: the one the person"
                                  " read.")
    expires_at: AwareDatetime = Field(description="With its UTC offset: a bare time is refused.")
    given_by: ConsentCapacity | None = Field(
        default=None, description="Defaults to the signer's capacity; never more than it.")
    wording_sha256: str | None = Field(
        default=None, pattern=SHA256_PATTERN, description=(
            "The SHA-256 of the consent form's wording the person was shown (the portal sends"
            " it): refused (409 wording_changed) when the wording to sign is no longer that."))


class WithdrawAct(BaseModel):
    """Withdraw a consent, or only one of its purposes."""

    act: Literal["withdraw"] = "withdraw"
    consent_id: Identifier
    purpose_id: Identifier | None = None


class SearchableAct(BaseModel):
    """Opt in to, or out of, 1:N searches. Strict: what the person signs is exactly ``true`` or
    ``false``, never a ``"yes"`` or a ``1`` read as one."""

    act: Literal["searchable"] = "searchable"
    searchable: StrictBool


class CaptureAct(BaseModel):
    """A capture session: the subject approves enrolling the photo with this SHA-256, and,
    to rectify a poor template, that it replaces ``replaces`` (see :mod:`consent.rectification`)."""

    act: Literal["enrol"] = "enrol"
    consent_id: Identifier
    photo_sha256: str = Field(pattern=SHA256_PATTERN)
    replaces: StrictInt | None = Field(  # strict: ``true`` is not template 1
        default=None, ge=1, le=MAX_INTEGER_COLUMN,
        description="A template of this subject under this consent that the"
        " new one replaces (rectification): destroyed when the photo is enrolled, allowed at"
        " the template cap. The subject signs it with the photo.")


class DisclosureTerms(BaseModel):
    """Who receives the subject's record, on which basis, under which document: what a
    disclosure states and what the person's ``disclose`` act signs."""

    recipient: Name = Field(description="Who receives the record: one line.")
    legal_basis: DisclosureBasis
    document_reference: Name = Field(
        description="The document the disclosure rests on, as it is written (``2027/SW/42``,"
        " ``No. 12 (Cook Cty.)``): the warrant's, subpoena's or law's reference, or the"
        " person's authorisation. One line of printable text.")
    recipient_country: CountryCode = Field(
        description="Where the recipient is: an ISO 3166-1 alpha-2 code (``CA``, ``US``).")
    recipient_region: Name | None = Field(
        default=None, description="The recipient's province, state or region, by name: a"
        " recipient in Canada is within Québec only when this is Québec's own name (Québec,"
        " Quebec, QC or CA-QC), nothing else around it.")
    transfer_assessment: Name | None = Field(
        default=None, description="The controller's document that allows the data out of the"
        " area whose law protects the person, required when the recipient is outside it:"
        " for Québec the assessment made before communicating outside Québec (P-39.1 s. 17),"
        " for the EEA the safeguard or derogation of GDPR chapter V. One line.")


class DiscloseAct(DisclosureTerms):
    """The person authorises one disclosure of their record, to one recipient, on
    their own basis (``consent`` or ``financial_transaction``); see :mod:`consent.disclosures`."""

    act: Literal["disclose"] = "disclose"


class EraseAct(BaseModel):
    """The person erases everything held about them (GDPR art. 17): signed like a consent, so
    a session or a token alone never erases them."""

    act: Literal["erase"] = "erase"


class TemplateCopyAct(BaseModel):
    """The person takes a copy of their own templates as vectors (GDPR art. 15(3), 20): whoever
    holds it can recognise them, so it is their signed act, never a session's."""

    act: Literal["template_copy"] = "template_copy"


class TokenAct(BaseModel):
    """The person takes an API token from the portal: that bearer credential then acts as them
    (erases them, copies their templates) for its lifetime, so it is their signed act, never a
    session's."""

    act: Literal["subject_token"] = "subject_token"


SubjectAct = Annotated[ConsentAct | WithdrawAct | SearchableAct | CaptureAct | DiscloseAct
                       | EraseAct | TemplateCopyAct | TokenAct, Field(discriminator="act")]


class ProbeConsentRequest(BaseModel):
    """A researcher asks the person in a probe for their consent: one image, one purpose."""

    purpose_id: Identifier
    notice_id: Identifier
    probe_sha256: str = Field(pattern=SHA256_PATTERN)
    subject: Identifier | None = Field(
        default=None, description="For a verify: the subject the probe is compared with. That"
        " subject then signs with the passkey they registered (a verify needs it); no new"
        " passkey is made on the link.")


class SignedReceipt(BaseModel):
    receipt: dict[str, Any]
    signature: str = Field(description="Ed25519 over the canonical JSON of receipt, base64.")
    public_key: str = Field(description="Ed25519 public key, base64 of the raw 32 bytes.")

    @classmethod
    def served(cls, receipt: dict[str, Any], signature: str, *, keys: ReceiptKeys,
               **fields: Any) -> Self:
        """A stored receipt as the service hands it out: naming the key among the
        deployment's ``keys`` that checks it (:meth:`ReceiptKeys.signer_of`: the key in force,
        or the retired one it names and dates), never the key its row names. The one place
        every served receipt gets its key (``fields``: a subclass's own, the salt of
        :class:`SignedErasureReceipt`)."""
        return cls(receipt=receipt, signature=signature, public_key=keys.signer_of(receipt),
                   **fields)


class SignedErasureReceipt(SignedReceipt):
    """An erasure receipt as the service hands it out: with the deployment's receipt key, never
    the key its stored row names, and the salt that opens its commitment to the pseudonym."""

    pseudonym_salt: str | None = Field(
        default=None, description="Hex salt: SHA-256(salt || pseudonym) is the receipt's"
        " pseudonymCommitment (`optinface receipt verify --pseudonym` checks it). Not in the"
        " signed receipt, nor kept in the database: the key store derives it. Null for a"
        " receipt signed before receipts carried the commitment.")


class ConsentPublic(BaseModel):
    id: str
    subject: str = Field(description="The pseudonym, or the tombstone hash once erased.")
    purposes: list[str]
    notice_id: str
    notice_version: str
    notice_sha256: str
    retention_policy_sha256: str | None = Field(
        default=None, description="The retention policy version the person signed"
        " (/privacy/policy/{sha256}); null for a consent given before policies were signed.")
    language: str
    method: ConsentMethod
    given_by: ConsentCapacity
    guardian_name: str | None
    evidence_sha256: str
    obtained_at: datetime
    expires_at: datetime
    retained_until: datetime = Field(
        description="The end of the purposes' retention: the consent authorises nothing after "
        "it, nor after expires_at.")
    withdrawn_at: datetime | None
    guardian_until: datetime | None = Field(
        default=None, description="A guardian's consent: it ends then unless the person, come "
        "of age, consented in their own name to each of its purposes before.")
    ends_at: datetime = Field(
        description="When the consent ends unless withdrawn first: the earliest of expires_at, "
        "retained_until and guardian_until (what the gates and the sweep apply).")
    status: str
    receipt: SignedReceipt | None = None
    withdrawal_receipt: SignedReceipt | None = None
    end_receipt: SignedReceipt | None = Field(
        default=None, description="Signed by the controller when the consent ended (expiry,"
        " retention, coming of age, withdrawal) while another kept the subject: its templates"
        " destroyed, how many, and from when copies made before cannot be decrypted.")


class ConsentGiven(BaseModel):
    consent: ConsentPublic
    receipt: SignedReceipt


class ProbeConsentLink(BaseModel):
    """The one-time link the researcher hands to the person in the probe."""

    request_id: str
    link_url: str = Field(description="The page to open; the secret rides in its fragment.")
    secret: str
    expires_at: datetime
    qr_svg: str


class PurposeShown(BaseModel):
    """A purpose's name and description as the reader of ``language`` is shown them (see
    :mod:`consent.operator_texts`): translated, else in English and listed in
    ``english_only``, for the page to mark."""

    language: str
    name: str
    description: str
    english_only: list[str]


class ProbeLinkRequest(BaseModel):
    """What a probe link asks of the person in the photo, shown before they agree or decline:
    the statement they would sign commits to this notice (its version and SHA-256), this
    purpose, this image's SHA-256 and this researcher's key."""

    notice: NoticePublic = Field(description="The notice's text and version, and who answers.")
    purpose: PurposePublic
    purpose_shown: PurposeShown = Field(description="The purpose in the reader's language"
                                        " (`lang`, else Accept-Language, else the default).")
    probe_sha256: str
    researcher_key_id: str
    for_subject: bool = Field(description="A verify's link: the subject signs with a passkey"
                              " they already have.")
    expires_at: datetime


class ProbeConsentPublic(_Public):
    id: str
    purpose_id: str
    notice_id: str
    method: ConsentMethod
    evidence_sha256: str
    obtained_at: datetime
    expires_at: datetime
    used_at: datetime | None
    probe_sha256: str | None = None
    researcher_key_id: str | None = None
    receipt: SignedReceipt | None = None


class CapturePublic(BaseModel):
    """A capture session: approved by the subject's passkey for one photo's SHA-256."""

    id: str
    subject: str
    consent_id: str
    photo_sha256: str
    approved: bool
    expires_at: datetime
    replaces: int | None = None


class PendingCapture(BaseModel):
    """A capture session the desk opened, with the WebAuthn options to approve it."""

    capture: CapturePublic
    options: dict[str, Any]


# Templates and matching -----------------------------------------------------------------------
class TemplatePublic(BaseModel):
    """That a template exists and how it was made; never the vector."""

    id: int
    subject: str
    consent_id: str
    model_id: str
    quality: float
    created_at: datetime


class TemplateVector(BaseModel):
    """One of the person's templates as the recognizer computed it from their photo: the copy
    they asked for (GDPR art. 15(3), 20; P-39.1 s. 27), never given by default."""

    template_id: int
    model_id: str
    model_sha256: str | None = Field(description=(
        "The SHA-256 of the recognizer's weights that computed it, from the model manifest;"
        " null for a model this deployment no longer loads."))
    vector: list[float] = Field(description=(
        "The embedding in the recognizer's own space (L2-normalised, 512 numbers for ArcFace),"
        " not the deployment's protected one: anyone holding it and the same model can"
        " recognise the person."))


class ReviewStatus(StrEnum):
    PROVISIONAL = "provisional"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    LAPSED = "lapsed"  # the candidate's basis ended before verifiers decided (consent.review)


class ReviewDecision(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"


class Candidate(BaseModel):
    """A possible identity for a person to review: never an identification by itself."""

    subject: str
    score: float = Field(description="Cosine similarity rounded to 2 decimals.")
    review_id: str = Field(description="Verifiers confirm or reject it: POST /v1/reviews/{id}.")
    status: ReviewStatus = ReviewStatus.PROVISIONAL


class AutomatedDecisionNotice(BaseModel):
    """What a relying party that declared a decision use must tell the person in the probe, no
    later than its decision (P-39.1 s. 12.1; GDPR art. 22(3)): built from the accountability
    record, so it names the same contact and routes as the register and every export."""

    basis: str = Field(description="The law that owes the person this notice.")
    notice: str = Field(description="To relay to the person, no later than the decision.")
    controller_name: str
    privacy_officer_contact: str = Field(
        description="Where the person submits observations to a person who can review.")
    rights: list[RightInstruction] = Field(
        description="Access (the personal information used, the reasons and principal factors),"
        " rectification, review by a person with the person's observations, complaint.")
    review: str = Field(description="Candidates stay provisional until verifiers review them.")


class MatchResult(BaseModel):
    outcome: SearchOutcome = Field(
        description="candidates_for_review: provisional candidates for verifiers to confirm or"
        " reject, not an identification; no_candidate: nobody at or above the threshold.")
    threshold: float
    fmr: float = Field(description="The false-match rate the threshold was calibrated for.")
    fnmr: float
    model_id: str
    purpose_id: str
    candidates: list[Candidate] = Field(
        description="Only candidates at or above the threshold: never the nearest stranger."
        " Candidates, not verdicts: each is provisional until verifiers confirm it."
    )
    confirmations_required: int = Field(
        description="Distinct verifier keys that must confirm a candidate (two for 1:N).")
    automated_decision_notice: AutomatedDecisionNotice | None = Field(
        description="With automated_decision only: the notice the caller must relay to the"
        " person no later than its decision; null otherwise.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def automated_decision(self) -> bool:
        """True when the caller declared decision_use: it will base a decision about the person
        on this answer (P-39.1 s. 12.1). Always present, false otherwise."""
        return self.automated_decision_notice is not None


class ReviewDecisionCreate(BaseModel):
    decision: ReviewDecision
    reason: Text | None = Field(default=None, max_length=2000)


class ReviewPublic(BaseModel):
    id: str
    operation: str
    purpose_id: str
    searcher_key_id: str
    candidate: str
    score: float
    created_at: datetime
    status: ReviewStatus
    confirmations_required: int
    verifiers: list[str] = Field(description="key_id:decision of each verifier, in order.")
    decided_at: datetime | None


# Erasure --------------------------------------------------------------------------------------
class ErasureReceipt(BaseModel):
    subject_hash: str = Field(description="Keyed hash of the pseudonym: the tombstone.")
    reason: ErasureReason
    templates_destroyed: int
    index_entries_removed: int
    index_file_keys_destroyed: int | None = Field(
        description="Index files saved before the erasure (this worker's, other workers', the"
        " copies in backups) whose keys were destroyed, so that none of them opens again; null"
        " on a receipt signed before receipts stated it.")
    key_destroyed: bool
    unsearchable_ms: float
    gone_ms: float
    copies_undecryptable_at: datetime = Field(
        description="When the epoch key that wrapped the subject's key in earlier copies of "
        "the data (backups, snapshots) is due to be destroyed: the next epoch boundary.")
    recipients_to_notify: list[str] = Field(
        default=[], description="Those the subject's data were disclosed to: the controller"
        " tells each of the erasure (GDPR art. 19).")
    signed: SignedErasureReceipt


class PurposeWithdrawalPublic(BaseModel):
    """One purpose withdrawn from a consent that keeps its others, and the signed receipt."""

    id: str
    consent_id: str
    purpose_id: str
    withdrawn_at: datetime
    receipt: SignedReceipt


class WithdrawalResult(BaseModel):
    consent: ConsentPublic
    templates_erased: int
    subject_erased: bool
    erasure: ErasureReceipt | None = None
    purpose_withdrawal: PurposeWithdrawalPublic | None = Field(
        default=None, description="Set when one purpose left a consent that keeps others."
    )


class SweepReport(BaseModel):
    ran_at: datetime
    consents_expired: int  # past their expiry or their purposes' retention
    templates_destroyed: int = 0  # enrolled under those consents, their subject kept
    erasures: list[ErasureReceipt]
    own_consent_requested: int = 0  # minors come of age under a guardian's consent (asked)
    erasures_unfinished: int = 0  # raised, reported (erasure_unfinished), retried next sweep


class KeyEpochPublic(_Public):
    """An epoch key's life: copies of the data made during it are readable until destroyed_at."""

    id: int
    created_at: datetime
    destroyed_at: datetime | None


class ReconcileReport(BaseModel):
    ledger_templates: int
    index_entries: int
    removed: int
    re_added: int
    erasures_completed: int  # interrupted by a crash, finished on start-up
    consents_ended_erased: int  # no consent in force any more: erased on start-up
    templates_destroyed: int = 0  # their own consent ended, another keeps the subject
    subject_keys_lost: int = 0  # wrapped under a destroyed epoch (a restored old copy)
    erasures_replayed: int = 0  # erased after the restored copy was taken: erased again
    withdrawals_replayed: int = 0  # consents withdrawn after it: withdrawn again
    templates_replayed: int = 0  # templates replaced or given up after it: destroyed again
    purpose_withdrawals_replayed: int = 0  # purposes taken out of a consent after it: again
    revocations_replayed: int = 0  # API keys revoked after it: revoked again
    break_glass_replayed: int = 0  # break-glass openings after it: chained again
    admin_passkeys_replayed: int = 0  # admin keys' passkeys bound after it: bound again
    opt_outs_replayed: int = 0  # opted out of 1:N search after it: opted out again
    alternatives_replayed: int = 0  # chose the non-biometric alternative after it: again
    orders_replayed: int = 0  # regulators' orders placed after it: placed again, chained
    order_lifts_replayed: int = 0  # orders lifted after it: lifted again, chained
    index_discarded: str | None = None  # why the saved file was unusable and rebuilt
    templates_left_out: int = 0  # seal failed or ciphertext unreadable: chained, not indexed
    erasures_unfinished: int = 0  # raised: kept unsearchable, reported, left for the sweep


# Audit ----------------------------------------------------------------------------------------
class AuditEventPublic(_Public):
    seq: int
    at: str
    actor_key_id: str | None
    actor_role: str | None
    action: str
    purpose: str | None
    subjects: list[str]
    subject_seals: list[Seal] | None = Field(
        default=None, description="Each subject's salted hash, which the chain covers in place"
        " of the pseudonym; an erased subject's keeps no salt. Absent before migration 0019.")
    outcome: str
    probe_sha256: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str
    pruned_leaf: str | None = Field(
        default=None, description="An access event whose content retention removed: the Merkle"
        " leaf hash (hex) kept in its place, what checkpoints committed to; None otherwise.")
    keyed_seal: str | None = Field(
        default=None, description="HMAC-SHA256 of the chain hash under the key store's HMAC"
        " key (consent.log_seals), which only the key store's holder can check; None: the"
        " event carries none (from before migration 0031, or appended with the database"
        " alone). Absent from exports made before it was exported.")


class ExportedEvent(AuditEventPublic):
    """An event of the log's JSON export (``GET /v1/audit/export``, ``optinface audit
    export``, the dashboard's ``audit.json``)."""

    checkpoint: str | None = Field(
        default=None, description="Only on the event the newest signed checkpoint covering the"
        " export ends at (its tree size is this event's seq): that checkpoint's C2SP signed"
        " note, so that whoever holds the export and the published key holds the log to"
        " something the deployment signed (`optinface audit verify-export`). Absent from every"
        " other event, and from exports made before it was carried.")


class AccessEvent(AuditEventPublic):
    """An event of a person's access export, as they may see it (:func:`consent.access.own_view`):
    their own pseudonym, the other subjects' seals without their salts, and none of the details
    that describe other people or the gallery (:mod:`consent.audit_redaction`)."""

    redacted: str | None = Field(
        default=None, description="The commitment (hex SHA-256 over a salt and the details left"
        " out) that the event's hash covers in their place: with it, the event as shown matches"
        " its hash and its inclusion proof. None: nothing was left out, or the event was"
        " chained before commitments.")
    seal_root: str | None = Field(
        default=None, description="The root (hex) over the seal hashes of every subject the"
        " event named, which its hash covers in place of their list (consent.audit_seal_tree):"
        " the export then shows the person's own seal alone, and `seal_proof` proves it is"
        " among them without saying how many they were. None: the event was chained before"
        " its kind took seal roots, and shows the other subjects' seal hashes, or its kind"
        " names one person (a consent, an enrolment), whose own seal it shows.")
    seal_proof: list[str] | None = Field(
        default=None, description="The path (hex hashes, leaf first) from the person's own"
        " seal to `seal_root`: the same length whoever else the event named.")
    redacted_before_commitments: bool = Field(
        default=False, description="True: details or pseudonyms were left out of an event"
        " chained before commitments, whose hash covered them as they were: it cannot be"
        " checked against its hash or its proof (`optinface audit verify-access` says so).")


class AuditFilter(BaseModel):
    action: AuditAction | None = None
    subject: Identifier | None = None
    actor_key_id: Identifier | None = None
    purpose: Identifier | None = None
    outcome: Identifier | None = None  # a code: "ok", "candidates", an error's code
    since: Moment | None = Field(default=None, description="ISO time with its offset, inclusive.")
    until: Moment | None = Field(default=None, description="ISO time with its offset, exclusive.")

    @property
    def whole(self) -> bool:
        """Whether no filter is set: the whole log, whose export is checked against its root."""
        return self == AuditFilter()


class AnomalyAlert(BaseModel):
    """A researcher key whose searches in the last 24 hours form an enumeration pattern (see
    :mod:`consent.anomalies`): for a reviewer to look into, not a verdict."""

    key_id: str
    kind: str = Field(description="no_candidate_sweep, repeated_refusals,"
                      " many_subjects_verified or unsigned_verify_links.")
    count: int = Field(description="Searches that found no one, refused searches, distinct"
                       " subjects verified against, or verify links that expired with no"
                       " subject's signature.")
    of: int = Field(description="Out of how many searches by the key in the window (for"
                    " unsigned_verify_links: verify links it asked for).")
    since: datetime


class SearchCount(BaseModel):
    """Searches (identify and verify) of one purpose in one UTC hour."""

    hour: str = Field(description="ISO UTC hour, e.g. 2026-11-30T14.")
    purpose: str | None
    searches: int


class KeyName(BaseModel):
    """Who an API key belongs to, as the log's reader needs it: never its secret."""

    key_id: str
    name: str
    role: str
    revoked_at: datetime | None = Field(
        default=None, description="When the key was revoked, as authentication reads it (a"
                                  " restore's replay and a plain SQL edit included).")


class AuditPage(BaseModel):
    events: list[AuditEventPublic]
    total: int
    offset: int
    limit: int


class UnsealedEvent(BaseModel):
    """An event past the adoption point that carries no valid keyed seal (consent.log_seals)."""

    seq: int
    reason: SealFailure


class ChainStatus(BaseModel):
    ok: bool
    events: int
    checkpoints: int = Field(description="Signed checkpoint rows checked.")
    witnessed: int = Field(default=0, description="Checkpoints from the witness folder (and"
                           " files given to the CLI) checked.")
    root_hash: str = Field(default="", description="Base64 RFC 6962 root over every event.")
    first_bad_sequence: int | None
    problem: str | None = Field(default=None, description="The first inconsistency, in words.")
    reason: str | None = Field(
        default=None, description="A stable code for the first inconsistency, where it has one:"
        " keyed_seal_missing, keyed_seal_invalid (an event past the adoption point that the"
        " service did not append), pruned_without_record (an access event emptied that no"
        " retention run's log_pruned event names), regulator_orders_altered (the log verifies,"
        " but the regulator's orders in the database are not those its order and lift events"
        " leave in force: checked with the key store only; the chain's other problems are told"
        " in words only).")
    keyed_seals_checked: bool = Field(
        default=False, description="Each event's keyed seal was checked with the key store's"
        " HMAC key (the server's own check, and `optinface audit verify` where the key store"
        " is): without it, an event appended with the database alone is not told apart.")
    unsealed_count: int = Field(default=0, description="Events past the adoption point"
                                " without a valid keyed seal.")
    unsealed: list[UnsealedEvent] = Field(
        default_factory=list, description="The first 1,000 of them, by sequence number.")


class CheckpointPublic(BaseModel):
    """A signed tree head a reviewer can keep and check without optinface.

    ``note`` is the C2SP checkpoint (origin, tree size, base64 root hash, Ed25519 signature);
    the other fields repeat it for reading, plus the chain hash and time of the last event it
    covers, which the root commits to. Check it with ``optinface audit verify --against FILE``
    or any C2SP note verifier given ``verifier_key``.
    """

    type: str = "optinface-audit-checkpoint/v1"
    origin: str
    seq: int = Field(description="The tree size: the sequence number of the last event.")
    tree_size: int
    root_hash: str = Field(description="Base64 RFC 6962 Merkle root over events 1..seq.")
    head_hash: str = Field(description="The hash-chain hash of event seq (hex).")
    at: str = Field(description="When event seq was recorded (ISO 8601).")
    key_id: str = Field(description="The note key hash (hex), as in the signature line.")
    verifier_key: str = Field(description="The C2SP verifier key: name+keyhash+key.")
    note: str = Field(description="The signed note itself.")


class ConsistencyProof(BaseModel):
    """That the log of ``second_size`` events extends the one of ``first_size`` (RFC 9162
    2.1.4): check it against the roots of two signed checkpoints you hold, not these."""

    first_size: int
    second_size: int
    first_root: str = Field(description="Base64 root of the first tree, as the log has it now.")
    second_root: str = Field(description="Base64 root of the second tree.")
    proof: list[str] = Field(description="Base64 hashes (RFC 9162 2.1.4.1).")


class InclusionProof(BaseModel):
    """That event ``seq`` is leaf ``seq - 1`` of the tree in the export's checkpoint."""

    seq: int
    leaf_index: int
    tree_size: int
    audit_path: list[str] = Field(description="Base64 hashes, bottom up (RFC 9162 2.1.3).")


class RetentionPolicyPublic(_Public):
    """A version of the public retention policy (see :mod:`consent.retention_policy`)."""

    sha256: str = Field(description="The version: SHA-256 of the canonical JSON of"
                        " {policyUrl, rules}.")
    policy_url: str
    rules: list[str]
    published_at: datetime = Field(description="When the service first applied it (each period"
                                   " in force is an audit event, retention_policy_published).")


class OperatingPoint(BaseModel):
    """The accuracy operating point in force (GDPR art. 5(1)(d)): how a search decides who is a
    candidate, how often it errs there, and who must confirm a candidate. Part of the material
    a declaration and an assessment cover (:mod:`consent.operating_point`)."""

    model_id: str = Field(description="The recognizer whose scores are compared.")
    fmr: float = Field(description="The false-match rate in force (OPTINFACE_MATCH_FMR).")
    threshold: float | None = Field(
        description="The cosine score at or above which a template is a candidate, calibrated"
        " for that rate; null when none is (matching is then refused).")
    fnmr: float | None = Field(description="The false non-match rate measured at that threshold.")
    dataset: str | None = Field(description="The data set the threshold was calibrated on.")
    calibrated_on: str | None = Field(description="The day of that calibration.")
    outcomes: list[SearchOutcome] = Field(
        description="What a search may answer: candidates for review or none, never a match.")
    confirmations_required: dict[Operation, int] = Field(
        description="Distinct verifier keys that must confirm a candidate, per operation.")
    searcher_may_confirm: Literal[False] = Field(
        default=False, description="Never: the key that ran a search cannot confirm its own"
        " candidate.")


class PrivacyStatement(BaseModel):
    """The public privacy page (``/privacy``): accountability, purposes and retention."""

    accountability: Accountability
    purposes: list[PurposePublic]
    recipients: list[Recipient] = Field(description="Who receives data (GDPR art. 13(1)(e));"
                                        " none by default.")
    disclosures: str = Field(description="The only grounds on which data are disclosed beyond"
                             " those recipients (BIPA 15(d)), each disclosure recorded and"
                             " shown to the person.")
    retention_policy: RetentionPolicyPublic = Field(
        description="The retention policy in force, the version each consent now signs.")
    source: str = Field(description="Where the data come from (P-39.1 s. 8: the means of"
                        " collection).")
    matching: str = Field(description="How a face is used: the matching logic in words.")
    accuracy: OperatingPoint = Field(
        description="The accuracy operating point in force, as the register declares it: the"
        " threshold, its false-match and false non-match rates, candidates only, and the"
        " verifiers who must confirm one (GDPR art. 13(2)(f), P-39.1 s. 8).")
    transfers: list[Transfer] = Field(
        description="For each area whose persons the deployment accepts (Québec, the EEA),"
        " whether their data are kept outside it and under which safeguards: told at"
        " collection (P-39.1 s. 8: the possibility of a communication outside Québec; GDPR"
        " art. 13(1)(f)).")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def retention_rules(self) -> list[str]:
        """The policy's rules, as /privacy.json always gave them."""
        return self.retention_policy.rules


# Rights requests ------------------------------------------------------------------------------
class RightKind(StrEnum):
    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    WITHDRAWAL = "withdrawal"
    COMPLAINT = "complaint"  # about how the person's information is handled (P-39.1 s. 3.2)


class RightsRequestCreate(BaseModel):
    kind: RightKind
    channel: OneLine = Field(default="api", min_length=1, max_length=50,
                             description="How it arrived: api, portal, e-mail, letter...")
    note: Text | None = Field(default=None, max_length=2000)


class RequestOutcome(StrEnum):
    """How a reviewer closes a request; a closed request's status is its outcome."""

    ANSWERED = "answered"
    REFUSED = "refused"


class RefusalGround(StrEnum):
    """The only grounds on which a request may be refused (GDPR art. 12(5)), each a person's
    decision: nothing refuses a request by itself, whatever the number before it (G-10)."""

    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
    MANIFESTLY_EXCESSIVE = "manifestly_excessive"


class RightsRequestAnswer(BaseModel):
    """A reviewer's answer; a refusal names its ground and gives written reasons, which the
    person sees with their right to complain (GDPR art. 12(4); P-39.1 s. 34)."""

    answer: Words = Field(max_length=2000, description="What the person is told.")
    outcome: RequestOutcome = RequestOutcome.ANSWERED
    ground: RefusalGround | None = Field(default=None, description="A refusal's ground.")
    reasons: Words | None = Field(default=None, max_length=2000,
                                description="A refusal's written reasons.")

    @model_validator(mode="after")
    def _refusal_is_reasoned(self) -> Self:
        """A refusal without a ground or reasons is refused; a plain answer carries neither,
        so nothing reads as a refusal that was not decided as one."""
        if self.outcome is RequestOutcome.ANSWERED:
            if self.ground is not None or self.reasons is not None:
                raise ValueError("a ground and reasons go with a refusal only")
        elif self.ground is None or self.reasons is None:
            raise ValueError("a refusal needs its ground and written reasons")
        return self


class RightsRequestPublic(BaseModel):
    id: str
    subject: str
    kind: str
    channel: str
    note: str | None
    received_at: datetime
    due_at: datetime = Field(description="Received + 30 days (P-39.1 s. 32; GDPR art. 12(3)).")
    status: str
    answer: str | None
    answered_at: datetime | None
    ground: str | None = Field(description="A refusal's ground, else null.")
    reasons: str | None = Field(description="A refusal's written reasons, else null.")
    overdue: bool = Field(description="Past the deadline, unanswered or answered late.")
    due_soon: bool = Field(description="Still open with 7 days or less left, or late: the"
                           " reviewers' alert before the deadline passes.")


# Incidents ------------------------------------------------------------------------------------
class IncidentCreate(BaseModel):
    """Every field the Québec register (reg. A-2.1 r. 3.1 s. 7) and GDPR art. 33(3) ask for."""

    model_config = ConfigDict(extra="forbid")

    description: Words = Field(max_length=4000, description="What happened.")
    circumstances: Words = Field(max_length=4000, description="How, and the cause.")
    occurred_from: Moment
    occurred_until: Moment | None = Field(default=None, description="Not before occurred_from.")
    became_aware_at: Moment = Field(description="Starts the 72-hour clock; not before"
                                    " occurred_from, and not in the future.")
    data_categories: list[Name] = Field(min_length=1, description="e.g. face templates.")
    # Bounded by what an Integer column holds on PostgreSQL (about 2.1 billion persons).
    subjects_affected: int | None = Field(default=None, ge=0, le=MAX_INTEGER_COLUMN)
    affected_is_estimate: bool = False
    quebec_residents: int | None = Field(default=None, ge=0, le=MAX_INTEGER_COLUMN)
    involves_templates: bool = True
    risk_of_serious_injury: bool = Field(
        default=True, description="Presumed when templates are involved (see downgrade_reason).")
    risk_assessment: Words = Field(max_length=4000,
                                  description="Sensitivity, consequences, likelihood.")
    downgrade_reason: Text | None = Field(default=None, max_length=4000)
    measures_taken: Words = Field(max_length=4000)
    measures_suggested: Words = Field(max_length=4000,
                                     description="What the persons can do to reduce the risk.")

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        """An incident ends after it starts and is noticed once it has started: a register
        saying otherwise would start the 72-hour clock from a typo."""
        if self.occurred_until is not None and self.occurred_until < self.occurred_from:
            raise ValueError("occurred_until is before occurred_from")
        if self.became_aware_at < self.occurred_from:
            raise ValueError("became_aware_at is before occurred_from")
        return self


class IncidentNotification(BaseModel):
    """What goes with a notification: after 72 hours, the regulator's needs the reasons for
    the delay (GDPR art. 33(1)); in time, or to the persons, there is no delay to explain."""

    model_config = ConfigDict(extra="forbid")

    delay_reason: Words | None = Field(
        default=None, max_length=4000,
        description="Why the regulator is notified more than 72 hours after awareness:"
                    " required then, refused otherwise.")


class IncidentPublic(BaseModel):
    id: str
    description: str
    circumstances: str
    occurred_from: datetime
    occurred_until: datetime | None
    became_aware_at: datetime
    data_categories: list[str]
    subjects_affected: int | None
    affected_is_estimate: bool
    quebec_residents: int | None
    involves_templates: bool
    risk_of_serious_injury: bool
    risk_assessment: str
    downgrade_reason: str | None
    measures_taken: str
    measures_suggested: str
    recorded_at: datetime
    keep_until: datetime = Field(description="At least 5 years after awareness.")
    notify_by: datetime = Field(description="Awareness + 72 hours (GDPR art. 33(1)).")
    regulator_notified_at: datetime | None
    regulator_notified_after_hours: float | None = Field(
        description="Hours from awareness to the regulator's notification; null until then.")
    regulator_delay_reason: str | None = Field(
        description="The reasons for a notification after 72 hours (GDPR art. 33(1)); null for"
                    " one in time, or one recorded before reasons were kept.")
    subjects_notified_at: datetime | None
    subjects_notice_pending: bool = Field(
        description="A risk of serious injury and the persons not yet notified: they are to be"
                    " notified promptly (P-39.1 s. 3.5; GDPR art. 34(1)).")
    hours_left: float | None = Field(description="Until notify_by; negative once late.")
    notification_overdue: bool


class IncidentNotice(BaseModel):
    incident_id: str
    audience: str
    text: str
    generated_at: datetime


# Access ---------------------------------------------------------------------------------------
class MatchingLogic(BaseModel):
    """GDPR art. 15(1)(h): how a face is compared, and how often it errs."""

    model_id: str
    threshold: float | None
    fmr: float | None = Field(description="False-match rate the threshold was calibrated for.")
    fnmr: float | None = Field(description="False non-match rate measured at that threshold.")
    description: str


class RetentionDate(BaseModel):
    what: str
    until: datetime
    rule: str


class SearchInvolvement(BaseModel):
    """One verify or identify that involved the subject, whatever its outcome."""

    seq: int
    at: str
    operation: str
    outcome: str = Field(description="For you: candidate (with its review status), identified once"
                         " verifiers confirmed it, no_candidate, or refused with its code.")
    purpose: str | None
    actor_key_id: str | None
    actor_role: str | None
    score: float | None = Field(description="Your score, rounded to 2 decimals, when known.")
    review_status: str | None = Field(
        default=None, description="provisional, confirmed or rejected by verifiers; only"
        " confirmed counts as an identification.")
    verifiers: list[str] = Field(default=[], description="key_id:decision of each verifier.")
    decision_use: bool = Field(
        default=False, description="The caller declared it would base a decision about the"
        " person on this search (P-39.1 s. 12.1): you may submit your observations to a person"
        " who can review it (see your rights).")


class DisclosureCreate(DisclosureTerms):
    """A disclosure of the subject's record (:class:`DisclosedRecord`) to one recipient
    (BIPA 15(d)).

    ``law`` and ``warrant_subpoena``: an administrator's act, without ``signed``. ``consent``
    and ``financial_transaction``: the person's, with ``signed``, their passkey's answer to a
    ``disclose`` challenge naming this very recipient, basis and reference.
    """

    signed: PasskeyResponse | None = None


class DisclosurePublic(_Public):
    """A disclosure as the person and the reviewers read it: to whom, on which ground, under
    which document, and for the person's own grounds the signature that authorised it, so the
    person can check that nothing went out in their name without it."""

    id: str
    recipient: str
    legal_basis: DisclosureBasis
    document_reference: str
    recipient_country: str | None = Field(description="Null for disclosures recorded before"
                                          " their recipient's place was.")
    recipient_region: str | None
    area_left: str | None = Field(description="The area whose law protects the person that"
                                  " this disclosure took their data out of (Québec, the EEA),"
                                  " or null when it stayed within.")
    transfer_assessment: str | None
    disclosed_at: datetime
    disclosed_by: str = Field(description="The key that made the disclosure.")
    evidence: dict[str, Any] | None = Field(
        default=None, description="On the person's own grounds: their WebAuthn assertion over"
        " the disclose statement they signed, with the credential's public key, verifiable"
        " offline like a consent receipt's subjectSignature; null on the controller's grounds"
        " (law, warrant or subpoena).")


class PasskeyPublic(BaseModel):
    """A passkey that acts for the subject, as its person sees it: in which capacity and since
    when; never its id or public key, which act for no one outside a ceremony."""

    capacity: ConsentCapacity
    registered_at: datetime


class AccessExport(BaseModel):
    generated_at: datetime
    controller_name: str
    controller_contact: str
    accountability: Accountability
    purposes: list[ExportedPurpose] = Field(description=(
        "The texts of the purposes consented to, each saying whether it is still in force (one"
        " withdrawn or ended since is listed too: events name it)."))
    recipients: list[Recipient]
    source: str
    retention: list[RetentionDate]
    matching_logic: MatchingLogic
    searches: list[SearchInvolvement]
    rights_requests: list[RightsRequestPublic]
    disclosures: list[DisclosurePublic] = Field(
        description="To whom your data were disclosed, on which basis (BIPA 15(d)).")
    subject: SubjectPublic
    passkeys: list[PasskeyPublic] = Field(
        default=[], description="Every passkey that can sign in and act for you: one you did"
        " not register is one to report.")
    consents: list[ConsentPublic]
    templates: list[TemplatePublic]
    template_vectors: list[TemplateVector] | None = Field(default=None, description=(
        "The templates themselves, only when the person asked for them with their own sign-in"
        " (`vectors=true`); null otherwise."))
    events: list[AccessEvent]
    checkpoint: CheckpointPublic | None = Field(
        default=None, description="The signed tree head the inclusion proofs lead to.")
    inclusion_proofs: list[InclusionProof] = Field(
        default=[], description="One per event: proof that it is in the signed log.")


class DisclosedConsent(_Public):
    """A consent as a recipient of a disclosure sees it: its purposes, dates and status; not
    its receipts, its evidence or a guardian's name."""

    id: str
    purposes: list[str]
    given_by: ConsentCapacity
    obtained_at: datetime
    expires_at: datetime
    withdrawn_at: datetime | None
    status: str


class DisclosedRecord(BaseModel):
    """What a recipient of a disclosure is handed, and no more (GDPR art. 5(1)(c)): who holds
    the data, the subject's record, their consents and their templates' metadata (never a
    vector). Not the person's earlier disclosures (a warrant's number), requests, searches or
    log events: those are the person's own to read in their access export. The person signs
    the list of these parts (:data:`consent.disclosures.CONTENTS`)."""

    generated_at: datetime
    controller_name: str
    controller_contact: str
    subject: SubjectPublic
    consents: list[DisclosedConsent]
    templates: list[TemplatePublic]


class DisclosureMade(BaseModel):
    """The disclosure as recorded, and what to hand to its recipient."""

    disclosure: DisclosurePublic
    handed_over: DisclosedRecord


# Register and reviewer views ------------------------------------------------------------------
class ModelInfo(BaseModel):
    id: str
    role: str
    sha256: str
    licence: str


class DeclarationPublic(_Public):
    declared_on: date
    reference: str
    recorded_at: datetime
    material_sha256: str | None
    period_days: int


class RegulatorOrderPublic(_Public):
    reference: str
    kind: str
    recorded_at: datetime
    lifted_at: datetime | None
    templates_destroyed: int


class PublishedKey(BaseModel):
    """A public key anyone may use to check what the deployment signed."""

    key_id: str = Field(description="ed25519: and the first 16 hex digits of the key's SHA-256.")
    algorithm: Literal["Ed25519"] = "Ed25519"
    public_key: str = Field(description="The raw public key, base64.")
    signs: list[str]
    verifier_key: str | None = Field(
        default=None, description="For the checkpoint key: its C2SP note verifier key"
        " (name+keyhash+key), what `optinface audit verify --public-key` and tlog tools take.")
    retired_at: datetime | None = Field(
        default=None, description="For a receipt key replaced by `optinface keys"
        " rotate-receipt-key`: when it stopped signing. It checks only what states it was signed"
        " no later (a receipt's publicKey names it); null for a key in force.")


class DocumentSignature(BaseModel):
    """The deployment's detached signature of a document it serves (the register, its record of
    processing): Ed25519 by the receipt key over the canonical JSON of the whole document less
    this field (:mod:`consent.signed_documents`)."""

    alg: Literal["Ed25519"] = "Ed25519"
    kid: str = Field(description="The signing key's id, as published (ed25519: and the first 16"
                     " hex digits of the key's SHA-256): the receipt key.")
    value: str = Field(description="The signature, base64.")


class Transfer(BaseModel):
    """Where one jurisdiction's persons' data are kept (see :mod:`consent.transfers`)."""

    jurisdiction: Jurisdiction
    area: str = Field(description="The area the persons' data would leave: the EEA (GDPR"
                      " chapter V) or Québec (P-39.1 s. 17).")
    hosted_in: Hosting
    transfer: bool = Field(description="Kept outside the area (GDPR: outside the EEA;"
                           " Québec: outside Québec, P-39.1 s. 17).")
    safeguards: str | None = Field(description="For a transfer, the safeguards configured"
                                   " (OPTINFACE_TRANSFER_SAFEGUARDS); null when none is stated.")


class PromiseBound(BaseModel):
    """A setting that bounds one of the service's promises, as in force (see
    :func:`consent.register.promise_bounds`): stated for a reviewer, not declared material."""

    setting: str = Field(description="Its environment variable, e.g. OPTINFACE_KEY_EPOCH_HOURS.")
    value: int | float = Field(description="Its value in force.")
    bounds: str = Field(description="The promise it bounds, in English.")


class Register(BaseModel):
    generated_at: datetime
    controller_name: str
    controller_contact: str
    accountability: Accountability
    jurisdiction: Jurisdiction
    purposes: list[PurposePublic]
    categories_of_persons: list[str]
    categories_of_data: list[str] = Field(
        description="GDPR art. 30(1)(c), from consent.classification: each category with the"
        " ledger's tables that hold it.")
    biometric_characteristic: str
    models: list[ModelInfo]
    active_model_id: str
    accuracy: OperatingPoint = Field(
        description="The accuracy operating point in force; part of the declared material.")
    subjects: int
    templates: int
    templates_needing_reenrolment: int
    database_location: str
    hosting: Hosting
    retention_rules: list[str]
    security_measures: list[str]
    rotation_fingerprint: str
    recipients: list[Recipient] = Field(
        description="Recipients of disclosures (GDPR art. 30(1)(d)); empty when none."
    )
    disclosure_rule: str = Field(
        description="The only grounds on which a person's data are disclosed beyond those"
        " recipients (BIPA 15(d)), each disclosure recorded and shown to the person.")
    transfers: list[Transfer] = Field(
        description="Transfers out of each jurisdiction served, and their safeguards (GDPR"
        " art. 30(1)(e)); derived from the hosting location and the persons accepted.")
    signing_keys: list[PublishedKey] = Field(
        description="The keys that sign receipts and checkpoints, also at"
        " /.well-known/optinface-keys.json."
    )
    retired_signing_keys: list[PublishedKey] = Field(
        default_factory=list, description="The receipt keys replaced since (each with its"
        " retired_at), which still check the receipts they signed before; also at"
        " /.well-known/optinface-keys.json (retired_keys).")
    declaration: DeclarationPublic | None
    in_service_from: date | None = Field(
        description="Declaration date + the notice period (Québec: 60 days before service)."
    )
    in_service: bool = Field(description="Matching allowed today (see consent.declaration).")
    material_sha256: str = Field(
        description="SHA-256 of the register's material fields now; a declaration covers the"
        " register only while its own hash equals this one."
    )
    material_version: int = Field(
        default=2, description="The material `material_sha256` hashes: 2 binds the deployment"
        " (its controller and the signing keys above); 1, that of a declaration recorded"
        " before, binds neither (the warnings say so): a new declaration records version 2.")
    material: dict[str, Any] = Field(
        description="The material itself, of `material_version`:"
        " `material_sha256` is the SHA-256 of its canonical JSON, so a reader holding the signed"
        " register recomputes it (`optinface register verify`).")
    orders: list[RegulatorOrderPublic]
    confirmed_identifications: int = Field(
        description="Candidates verifiers confirmed: the only count of identifications.")
    promise_bounds: list[PromiseBound] = Field(
        description="The settings that bound a promise (how long a copy stays decryptable, how"
        " far the witnessed checkpoints lag the log, the daily search quota), with their values;"
        " not part of the declared material, so an upgrade needs no new declaration.")
    biometric_data_sold_or_traded: Literal[False] = Field(
        default=False, description="Never: no sale, lease, trade or profit (BIPA s. 15(c)).")
    warnings: list[str]
    signature: DocumentSignature | None = Field(
        default=None, description="The deployment's signature of this register (every served"
        " one carries it): outside what it signs, and not material.")


class RopaEntry(BaseModel):
    """One point of the record of processing activities (see :mod:`consent.ropa`)."""

    point: str = Field(description="The point of GDPR art. 30(1) it answers, e.g. '30(1)(e)'.")
    title: str
    items: list[str] = Field(description="What the live system states for that point, one"
                             " statement each; never empty (an absence is stated as 'none').")


class Ropa(BaseModel):
    """The record of processing activities (GDPR art. 30(1)), generated from the register."""

    generated_at: datetime = Field(description="When the register it was built from was"
                                   " generated: both are one reading of the live system.")
    register_material_sha256: str = Field(
        description="The register's material SHA-256 at that instant: the ROPA describes the"
        " register whose declaration (or assessment) names this hash.")
    declaration: DeclarationPublic | None
    warnings: list[str] = Field(
        description="The register's warnings of that instant (demo mode's placeholders first):"
        " what a reader must know before trusting any entry.")
    entries: list[RopaEntry]
    signature: DocumentSignature | None = Field(
        default=None, description="The deployment's signature of this record (every served one"
        " carries it): outside what it signs.")


class TombstonePublic(_Public):
    subject_hash: str
    reason: ErasureReason
    erased_at: datetime
    receipt: dict[str, Any] | None
    receipt_signature: str | None


class ConsentLedger(BaseModel):
    by_status: dict[str, int]
    by_purpose: dict[str, dict[str, int]]
    consents: list[ConsentPublic]


class ExportFormat(StrEnum):
    """How an access export is written: as data (JSON) or as a page (Markdown, HTML)."""

    JSON = "json"
    MD = "md"
    HTML = "html"

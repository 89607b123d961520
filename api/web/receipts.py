"""Receipts people keep: a plain-language summary, "Download receipt" and "Print", and a list.

Every consent, purpose withdrawal and erasure ends on :func:`receipt_page`; ``/portal/receipts``
lists every signed receipt the person holds, each viewable and downloadable again. The download
is the signed JSON exactly as signed, which ``optinface receipt verify`` checks against the key
at ``/.well-known/optinface-keys.json``. The erasure receipt cannot be listed later (the person
is gone), so its page carries a one-time code that fetches it once more: the ledger keeps the
code's keyed hash with the tombstone (:mod:`consent.after_erasure`), so it survives a restart
and works on every worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from optinface.api.attachments import download
from optinface.api.deps import ServiceDep, failures_throttled
from optinface.api.error_codes import ApiErrorCode, status_for
from optinface.api.errors import ApiError
from optinface.api.uploads import InMemoryFormRoute
from optinface.api.web.auth import PORTAL, signed_in
from optinface.api.web.i18n import N_, Words
from optinface.api.web.rendering import attempt, render, words_for
from optinface.api.web.sessions import WebSession
from optinface.api.web.vocabulary import ENDED_REASONS
from optinface.consent.erasure_receipts import COMMITMENT
from optinface.consent.errors import ErasureReceiptAltered, ReceiptCodeInvalid
from optinface.consent.roles import Actor
from optinface.consent.schemas import (
    ConsentCapacity,
    ConsentPublic,
    ErasureReceipt,
    PurposeWithdrawalPublic,
    SignedReceipt,
)
from optinface.consent.service import OptinFace

router = APIRouter(include_in_schema=False, route_class=InMemoryFormRoute)


@dataclass(frozen=True, slots=True)
class Summary:
    """What a receipt says, in the reader's words, and the signed JSON behind it."""

    title: str
    lines: list[str]
    receipt_id: str
    signed: SignedReceipt | None = None
    code: str | None = None  # the erasure receipt's one-time code
    notes: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # what an erasure receipt says remains
    # A consent's: the form's wording its passkey signed, its uses narrowed to those consented.
    wording: dict[str, Any] | None = None


def names_in(wording: dict[str, Any]) -> dict[str, str]:
    """Each purpose's name as a consent form's ``wording`` shows it (:mod:`consent.consent_form`):
    translated by the operator, else the English."""
    return {p["purposeId"]: p["name"] for p in wording["purposes"]}


def purpose_names(service: OptinFace, words: Words) -> dict[str, str]:
    """Each purpose's name as the consent form shows it to this reader today."""
    return names_in(service.consent_form(words))


def _signed_purposes(consent: ConsentPublic, names: dict[str, str]) -> str:
    """The purposes the person signed for, by the names their receipt gives, in the language
    they read them (its ``wording``; before it was signed, the Kantara English): a use stopped
    since is still one they agreed to then (a consent without a receipt: today's names)."""
    if consent.receipt is None:
        return ", ".join(sorted(names.get(p, p) for p in consent.purposes))
    receipt = consent.receipt.receipt
    read = names_in(receipt["wording"]) if "wording" in receipt else {}
    return ", ".join(sorted(read.get(p["purposeId"], p["purpose"])
                            for service in receipt["services"] for p in service["purposes"]))


def _signed_wording(consent: ConsentPublic) -> dict[str, Any] | None:
    """The wording the person signed, with the uses they consented to only (the form offered
    every use; the receipt keeps them all, as signed)."""
    receipt = consent.receipt.receipt if consent.receipt else {}
    if "wording" not in receipt:
        return None
    agreed = {p["purposeId"] for service in receipt["services"] for p in service["purposes"]}
    wording: dict[str, Any] = receipt["wording"]
    return {**wording, "purposes": [p for p in wording["purposes"] if p["purposeId"] in agreed]}


def _ends_sooner(words: Words, consent: ConsentPublic) -> list[str]:
    """Why the consent ends before the day the person chose, when it does: said with the end
    (``ConsentPublic.ends_at``), so the day told is the day the system applies."""
    if consent.ends_at >= consent.expires_at:
        return []
    if consent.ends_at == consent.guardian_until:
        return [words("You chose {chosen}; it ends sooner, when the person comes of age"
                      " (unless they consent in their own name before).",
                      chosen=words.when(consent.expires_at))]
    return [words("You chose {chosen}; it ends sooner, when the retention of its uses ends.",
                  chosen=words.when(consent.expires_at))]


AGREED = {
    ConsentCapacity.SELF: N_("You agreed that we use your face for: {purposes}."),
    ConsentCapacity.PARENTAL_AUTHORITY: N_(
        "You agreed that we use the face of the person you act for: {purposes}."),
}
NO_LONGER = {
    ConsentCapacity.SELF: N_("We no longer use your face for: {purposes}."),
    ConsentCapacity.PARENTAL_AUTHORITY: N_(
        "We no longer use the face of the person you act for: {purposes}."),
}
"""Whose face a receipt speaks of: a guardian signs for the person they act for, not for
themselves."""


def _recipients(words: Words, consent: ConsentPublic) -> list[str]:
    """Whom the receipt says the data go to (GDPR art. 13(1)(e)), when it names anyone: as the
    person read them (its ``wording``), else as the controller stated them."""
    receipt = consent.receipt.receipt if consent.receipt else {}
    named = receipt.get("wording", receipt).get("recipients", [])
    if not named:
        return []
    return [words("Your receipt names who receives your data: {recipients}.",
                  recipients="; ".join(f"{r['name']} ({r['purpose']})" for r in named))]


def consent_summary(words: Words, consent: ConsentPublic, names: dict[str, str]) -> Summary:
    """A consent in plain words, as signed: its purposes by name, whom the data go to, when it
    was given, the day it ends at the latest (and why, if sooner than chosen), and that each
    use can be stopped at any time."""
    return Summary(
        title=words("Consent recorded"),
        lines=[
            words(AGREED[consent.given_by], purposes=_signed_purposes(consent, names)),
            *_recipients(words, consent),
            words("Given on {when}; it ends on {until} at the latest.",
                  when=words.when(consent.obtained_at), until=words.when(consent.ends_at)),
            *_ends_sooner(words, consent),
            words("You can stop any of these uses at any time from your page."),
        ],
        receipt_id=consent.id,
        signed=consent.receipt,
        wording=_signed_wording(consent),
    )


def purpose_withdrawal_summary(words: Words, withdrawal: PurposeWithdrawalPublic,
                               given_by: ConsentCapacity) -> Summary:
    """One use stopped while the consent stays for the others (``given_by``: the consent's).
    The purposes are named as the signed receipt names them, so the page says what the person
    holds, not today's names."""
    receipt = withdrawal.receipt.receipt
    kept = ", ".join(p["name"] for p in receipt.get("purposesKept", []))
    return Summary(
        title=words("Use stopped"),
        lines=[
            words(NO_LONGER[given_by],
                  purposes=receipt.get("withdrawnPurpose", withdrawal.purpose_id)),
            words("Stopped on {when}, at once.", when=words.when(withdrawal.withdrawn_at)),
            words("Still in force, as you chose: {kept}.", kept=kept),
        ],
        receipt_id=withdrawal.id,
        signed=withdrawal.receipt,
    )


def withdrawal_summary(words: Words, consent: ConsentPublic, names: dict[str, str]) -> Summary:
    """A whole consent withdrawn (through the API, or its last use stopped), its receipt
    signed by the person's passkey and the controller."""
    listed = ", ".join(sorted(names.get(p, p) for p in consent.purposes))
    return Summary(
        title=words("Consent withdrawn"),
        lines=[
            words(NO_LONGER[consent.given_by], purposes=listed),
            words("Withdrawn on {when}, at once.", when=words.when(consent.withdrawn_at)),
        ],
        receipt_id=f"{consent.id}-withdrawn",
        signed=consent.withdrawal_receipt,
    )


def end_summary(words: Words, consent: ConsentPublic, names: dict[str, str],
                signed: SignedReceipt) -> Summary:
    """A consent that ended (its expiry, its uses' retention, coming of age, or withdrawn)
    while another kept the person: its templates destroyed, as its ``signed`` receipt states
    (:mod:`consent.end_receipts`)."""
    receipt = signed.receipt
    listed = ", ".join(sorted(names.get(p, p) for p in consent.purposes))
    return Summary(
        title=words("Consent ended, its photo templates destroyed"),
        lines=[
            words("Your consent to {purposes} ended on {when}: {why}.", purposes=listed,
                  when=words.when(receipt["endedAt"]),
                  why=words(ENDED_REASONS.get(receipt["reason"], receipt["reason"]))),
            words("The photo templates taken under it ({n}) were destroyed on {destroyed}.",
                  n=words.number(receipt["destroyed"]["templates"]),
                  destroyed=words.when(receipt["destroyedAt"])),
            words("Copies made before (backups, snapshots) can no longer be decrypted from"
                  " {when}: the key that encrypted them there is destroyed then.",
                  when=words.when(receipt["copiesUndecryptableAt"])),
            words("After the destruction: {statement}.",
                  statement=words.reword(receipt["afterDestroyedAt"])),
            words("Your other consents and what they cover stay as they are."),
        ],
        receipt_id=f"{consent.id}-ended",
        signed=signed,
        kept=[words.reword(item) for item in receipt["kept"]],
    )


ERASED = {
    True: N_("Everything we held about you is erased: your photo templates ({n}), your key, your"
             " consents' link to you, your access."),
    False: N_("Everything we held about you is erased: your photo templates ({n}), your"
              " consents' link to you, your access."),
}
"""Whether the receipt states a subject key destroyed (a record never enrolled had none)."""


def _told(words: Words, recipients: list[str]) -> list[str]:
    """Whom the controller tells of the erasure (GDPR art. 19), when the receipt names anyone."""
    if not recipients:
        return []
    return [words("Those your data were disclosed to are told of the erasure: {recipients}.",
                  recipients="; ".join(recipients))]


def _index_copies(words: Words, keys: int | None) -> list[str]:
    """The copies of the search index the erasure made unreadable, when its receipt counts any
    (one signed before receipts stated it says nothing)."""
    if not keys:
        return []
    return [words("Copies of the search index saved before the erasure ({n}) no longer open:"
                  " their keys are destroyed.", n=words.number(keys))]


NAMED = {
    False: N_("This signed receipt names you only by a keyed hash of your pseudonym."),
    True: N_("This signed receipt names you by a keyed hash of your pseudonym, and by a salted"
             " hash whose salt comes with the file you download: with your pseudonym, it shows"
             " the receipt is yours (optinface receipt verify --pseudonym)."),
}
"""How the receipt names the person: whether it commits to the pseudonym
(:mod:`consent.erasure_receipts`; not one signed before it did)."""


def erasure_summary(words: Words, erasure: ErasureReceipt, *, code: str) -> Summary:
    """An erasure in plain words, stating what its signed receipt states, in the reader's
    language: what was destroyed and when, when copies made before become undecryptable, what
    outlives the destruction in the live database and what is kept as proof (the receipt's
    English, from the consent core's source strings), with the one-time ``code`` that fetches
    it once more: the person can no longer sign in to list it, and this page ends their
    session."""
    signed = erasure.signed.receipt
    destroyed = signed["destroyed"]
    return Summary(
        title=words("Everything erased"),
        lines=[
            words(ERASED[bool(destroyed["subjectKey"])], n=words.number(destroyed["templates"])),
            words("Asked on {asked}; no search could find you from {unsearchable}; destroyed on"
                  " {destroyed}.", asked=words.when(signed["requestedAt"]),
                  unsearchable=words.when(signed["unsearchableAt"]),
                  destroyed=words.when(signed["destroyedAt"])),
            words("Copies made before the erasure (backups, snapshots) can no longer be"
                  " decrypted from {when}: the key that encrypts your data there is destroyed"
                  " then.", when=words.when(signed["copiesUndecryptableAt"])),
            *_index_copies(words, destroyed.get("indexFileKeys")),
            words("After the destruction: {statement}.",
                  statement=words.reword(signed["afterDestroyedAt"])),
            *_told(words, signed.get("recipientsToNotify", [])),
            *([words("You asked for it with your passkey: the receipt names the passkey that"
                     " signed, by a keyed hash.")] if "personSignature" in signed else []),
            words(NAMED[COMMITMENT in signed]),
            words("Download it now: this page is the last one of your session."),
        ],
        receipt_id=erasure.subject_hash[:16],
        signed=erasure.signed,
        code=code,
        kept=[words.reword(item) for item in signed["kept"]],
    )


def receipt_page(request: Request, summary: Summary, *, status_code: int = 200) -> HTMLResponse:
    return render(request, "receipt.html", status_code=status_code, summary=summary)


def signed_json(signed: SignedReceipt) -> str:
    return signed.model_dump_json(indent=2)


def _all(service: OptinFace, actor: Actor, words: Words) -> list[Summary]:
    """Every receipt the person holds, newest first."""
    subject = actor.subject or ""
    names = purpose_names(service, words)
    consents = service.list_consents(actor=actor, subject=subject)
    dated: list[tuple[Any, Summary]] = [
        (c.obtained_at, consent_summary(words, c, names)) for c in consents if c.receipt is not None
    ]
    stopped = service.purpose_withdrawals(actor=actor, subject=subject)
    given_by = {c.id: c.given_by for c in consents}
    dated += [(w.withdrawn_at, purpose_withdrawal_summary(words, w, given_by[w.consent_id]))
              for w in stopped]
    # A consent ended by stopping its last use already has that receipt, naming the use.
    ended_by_a_use = {w.consent_id for w in stopped if w.receipt.receipt.get("consentWithdrawn")}
    dated += [
        (c.withdrawn_at, withdrawal_summary(words, c, names))
        for c in consents
        if c.withdrawal_receipt is not None and c.id not in ended_by_a_use
    ]
    dated += [(datetime.fromisoformat(c.end_receipt.receipt["destroyedAt"]),
               end_summary(words, c, names, c.end_receipt))
              for c in consents if c.end_receipt is not None]
    return [s for _, s in sorted(dated, key=lambda d: d[0], reverse=True)]


def _one(service: OptinFace, actor: Actor, words: Words, receipt_id: str) -> Summary:
    for summary in _all(service, actor, words):
        if summary.receipt_id == receipt_id:
            return summary
    raise ApiError(ApiErrorCode.NOT_FOUND, f"no receipt {receipt_id}")


@router.get("/portal/receipts")
def portal_receipts(request: Request, service: ServiceDep) -> Response:
    def build(session: WebSession, actor: Actor) -> Response:
        receipts = _all(service, actor, words_for(request))
        return render(request, "receipts.html", csrf=session.csrf, receipts=receipts)

    return signed_in(request, service, PORTAL, build)


@router.get("/portal/receipts/{receipt_id}")
def portal_receipt(request: Request, service: ServiceDep, receipt_id: str) -> Response:
    """One receipt's page, or with ``.json`` its signed JSON to keep."""

    def build(_: WebSession, actor: Actor) -> Response:
        summary = _one(service, actor, words_for(request), receipt_id.removesuffix(".json"))
        if receipt_id.endswith(".json") and summary.signed is not None:
            return download(signed_json(summary.signed), f"receipt-{summary.receipt_id}.json",
                            "application/json")
        return receipt_page(request, summary)

    return signed_in(request, service, PORTAL, build)


_CODE_REFUSALS = {
    ReceiptCodeInvalid.code: N_("This code is wrong, expired or already used twice."),
    ErasureReceiptAltered.code: N_(
        "The receipt kept for this code is not the one this service signed: it was changed"
        " after your erasure. It is not given to you, and this refusal is recorded in the audit"
        " log. Keep the receipt you downloaded when you were erased; you may complain to the"
        " regulator."),
}
"""What the code's page tells the person of each refusal, in their words."""


@router.get("/portal/erasure-receipt")
def erasure_receipt_form(request: Request) -> Response:
    return render(request, "erasure_code.html", error=None, code="")


@router.post("/portal/erasure-receipt")
def erasure_receipt(
    request: Request, service: ServiceDep, code: Annotated[str, Form()] = ""
) -> Response:
    """The erasure receipt for its one-time code: no session, the person is gone. A wrong code
    counts as a failed authentication of its client, so guessing meets the same limit as keys
    (a client past it gets the 429 refusal page before its code is looked up). A receipt the
    database altered is not served (409 ``erasure_receipt_altered``): the person is told so."""

    def action() -> Response:
        try:
            with failures_throttled(request, ReceiptCodeInvalid):
                signed = service.erasure_receipt_by_code(code)
        except (ReceiptCodeInvalid, ErasureReceiptAltered) as error:
            return render(
                request,
                "erasure_code.html",
                status_code=status_for(error.code, default=410),
                error=_CODE_REFUSALS[error.code],
                code=code,
            )
        return download(signed_json(signed), "erasure-receipt.json", "application/json")

    return attempt(request, action)

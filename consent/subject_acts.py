"""The person's own acts, signed with their passkey: the legal basis is theirs to create or end.

Two steps each. :func:`begin` checks what can be checked before anyone signs (the consent
exists, the purposes and notice exist, the capacity is held) and writes the statement; the
person's authenticator signs its SHA-256; :func:`complete` verifies the assertion with the
credentials the signer may use and returns the evidence for the receipt. Which capacity a
consent is given in comes from the credential that signed it, never from the request: a minor's
own passkey is never the holder of parental authority.

Credentials allowed to sign:

* a subject token acts with the credentials of the capacity its sign-in had (the subject's own,
  or the guardian's);
* a capture session opened at the desk (portal key) may be approved by any credential of the
  subject, self or guardian, but only through a subject token: the desk never signs. Its
  statement says who opened it (:data:`OPENED_BY`): a subject left with no template to compare
  a face with enrols again only from one the desk opened (:mod:`consent.one_person`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from optinface.consent import (
    authority,
    consent_form,
    declaration,
    disclosures,
    ending_acts,
    erasure_journal,
    ledger,
    ledger_alterations,
    one_person,
    passkeys,
    policies,
    receipt_key_in_force,
    rectification,
    retention_policy,
    row_seals,
)
from optinface.consent.accountability import require_subject_accepted
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import canonical_json
from optinface.consent.errors import (
    CapacityNotHeld,
    ChallengeInvalid,
    InvalidRequest,
    SubjectCredentialRequired,
)
from optinface.consent.keys import KeyRing
from optinface.consent.passkeys import Signed
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.receipts import CONSENT_RECEIPT_VERSION, stated_recipients
from optinface.consent.roles import Actor, Role
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    CaptureAct,
    CapturePublic,
    ConsentAct,
    ConsentCapacity,
    DiscloseAct,
    EraseAct,
    PasskeyChallenge,
    PasskeyResponse,
    PendingCapture,
    SearchableAct,
    SubjectAct,
    SubjectPublic,
    TemplateCopyAct,
    TokenAct,
    WithdrawAct,
)
from optinface.consent.settings import ConsentSettings, Jurisdiction
from optinface.consent.tables import Ceremony, Consent, PasskeyCredential, Subject
from optinface.consent.wording import Say, english

CAPTURE = "enrol"
"""The act, and the kind of its ceremony, by which a subject approves the photo a capture session
enrols: the ceremony keeps the approval's evidence after it is used
(:func:`consent.captures.open_capture`)."""
OPENED_BY = "openedBy"
"""The field of a capture statement that names who opened the session: the desk (its role,
``portal``) or the subject's own token (``subject``). The person signs it with the rest, so no
database writer, nor the subject, makes a session they opened themselves pass for the desk's
(:func:`opened_at_desk`)."""
DISCLOSE = "disclose"
"""The act by which the person authorises one disclosure (:mod:`consent.disclosures`)."""
ERASE = "erase"
"""The person's own erasure, signed (:func:`signed_right`): a session or token alone never
erases them."""
TEMPLATE_COPY = "template_copy"
"""The person's own copy of their templates as vectors, signed (:func:`signed_right`)."""
SUBJECT_TOKEN = "subject_token"  # noqa: S105 (an act's name)
"""An API token issued to the person from the portal, signed (:func:`signed_right`): it then
erases them or copies their templates over the API, unsigned, for its lifetime."""
RIGHTS = (ERASE, TEMPLATE_COPY, SUBJECT_TOKEN)
"""The person's acts whose every use they sign, though none creates or ends a legal basis:
each hands over or destroys their face, or (a token) a credential that can, so the session
that carries it is not proof enough."""
ACT_KINDS = ("consent", "withdraw", "searchable", CAPTURE, DISCLOSE, *RIGHTS)


def _base(act: str, subject: Subject, settings: ConsentSettings, now: datetime) -> dict[str, Any]:
    return {**passkeys.issued(act, now), "subject": subject.pseudonym,
            "rpId": settings.passkey_rp_id}


def signers(session: Session, subject: Subject, actor: Actor) -> list[PasskeyCredential]:
    """The credentials that may sign for ``actor`` (see the module docstring)."""
    if actor.role is Role.SUBJECT:
        return passkeys.credentials_of(session, subject, capacity=actor.capacity)
    return passkeys.credentials_of(session, subject)


def consent_statement(session: Session, subject: Subject, act: ConsentAct, *, actor: Actor,
                      settings: ConsentSettings, keys: KeyRing, now: datetime,
                      say: Say = english) -> dict[str, Any]:
    """The consent statement to sign: purposes, the notice's version and SHA-256, the retention
    policy in force (its whole text and SHA-256, :mod:`consent.retention_policy`), the
    recipients (GDPR art. 13(1)(e), as the consent form shows them), the expiry, and the
    consent form's wording as its reader read it, in ``say``'s language
    (:mod:`consent.consent_form`): refused (``wording_changed``) when the act names a wording
    the page showed and it is no longer that one.

    Refused before anyone signs: an expiry in the past or beyond ``max_consent_days`` (a minor's
    shorter, :func:`consent.policies.max_consent_days`), a ``given_by`` the signer's capacity
    does not match, and a capacity the subject's age does not allow (a minor's own consent below
    the age of consent). Hashing the notice into the statement makes the signature cover the
    very text the person was shown.
    """
    days = policies.max_consent_days(subject, settings, today=now.date())
    if act.expires_at <= now or act.expires_at > now + timedelta(days=days):
        raise InvalidRequest(f"a consent must expire in the future and within {days} days",
                             details={"max_consent_days": days})
    capacity = ConsentCapacity(actor.capacity)
    if act.given_by is not None and act.given_by is not capacity:
        raise CapacityNotHeld(
            f"this passkey signs as {capacity}, not as {act.given_by}",
            details={"subject": subject.pseudonym, "capacity": str(capacity)})
    policies.require_capacity(subject, capacity, settings, today=now.date(), keys=keys)
    require_subject_accepted(subject, settings)
    purposes = [ledger.get_purpose(session, p) for p in dict.fromkeys(act.purposes)]
    notice = ledger.get_notice(session, act.notice_id)
    if act.language.casefold() != notice.language.casefold():  # BCP 47 tags ignore case
        raise InvalidRequest(f"a consent is given in the language of the notice read,"
                             f" {notice.language}",
                             details={"field": "language", "notice_language": notice.language})
    shown = consent_form.wording(session, settings, say)
    consent_form.require_shown(shown, act.wording_sha256)
    return {**_base("consent", subject, settings, now), "capacity": str(capacity),
            "purposes": sorted(p.id for p in purposes),
            "notice": {"id": notice.id, "version": notice.version, "sha256": notice.sha256,
                       "language": act.language},
            "retentionPolicy": retention_policy.versioned(settings),
            "recipients": stated_recipients(settings),
            "wording": shown,
            "expiresAt": act.expires_at.isoformat()}


def statement_for(session: Session, subject: Subject, act: SubjectAct, *, actor: Actor,
                  settings: ConsentSettings, keys: KeyRing, now: datetime,
                  say: Say = english) -> dict[str, Any]:
    """What the person is asked to sign, after the checks that need no signature; a consent's
    wording in ``say``'s language."""
    if isinstance(act, ConsentAct):
        return consent_statement(session, subject, act, actor=actor, settings=settings,
                                 keys=keys, now=now, say=say)
    if isinstance(act, WithdrawAct):
        ledger.get_consent(session, subject=subject, consent_id=act.consent_id)
        return {**_base("withdraw", subject, settings, now), "consentId": act.consent_id,
                "purposeId": act.purpose_id}
    if isinstance(act, SearchableAct):
        return {**_base("searchable", subject, settings, now), "searchable": act.searchable}
    if isinstance(act, EraseAct | TemplateCopyAct | TokenAct):
        _require_the_person(actor, act.act)
        # Its end signed too: the statement says how long the signature may be used.
        return {**_base(act.act, subject, settings, now),
                "validUntil": (now + timedelta(seconds=settings.challenge_seconds)).isoformat()}
    if isinstance(act, DiscloseAct):
        disclosures.require_signature_fits(act.legal_basis, signed=True)
        disclosures.area_left(act, Jurisdiction(subject.jurisdiction))
        # As for a consent: a child below the age of consent is never asked to sign.
        policies.require_capacity(subject, ConsentCapacity(actor.capacity), settings,
                                  today=now.date(), keys=keys)
        return {**_base(DISCLOSE, subject, settings, now), **disclosures.statement(act)}
    assert isinstance(act, CaptureAct)
    consent = ledger.get_consent(session, subject=subject, consent_id=act.consent_id)
    policies.require_enrol_consent(subject, consent, now=now, settings=settings, keys=keys)
    statement = {**_base(CAPTURE, subject, settings, now), "consentId": act.consent_id,
                 "photoSha256": act.photo_sha256, OPENED_BY: str(actor.role)}
    if act.replaces is not None:  # the person signs which template goes (consent.rectification)
        rectification.require_replaceable(session, subject, consent, act.replaces)
        statement["replaces"] = act.replaces
    return statement


def asked(runtime: Runtime, ceremony_id: str) -> dict[str, Any] | None:
    """The statement a challenge asks its person to sign (None: no such challenge, or one
    that asks none), read only: what an act posted with its signature says it is before it is
    taken (:func:`consent.witness_gate.require_witnessing_unless_ending`); taking it checks the
    rest (:func:`complete`)."""
    with runtime.db.reading() as session:
        return session.scalar(select(Ceremony.statement).where(Ceremony.id == ceremony_id))


def opened_at_desk(statement: dict[str, Any] | None) -> bool:
    """Whether the desk opened the capture session of ``statement`` (:data:`OPENED_BY`): where
    a person checks who stands there, what re-enrols a subject left with no template to compare
    a face with (:mod:`consent.one_person`). A statement from before the field: not the desk."""
    return (statement or {}).get(OPENED_BY) == str(Role.PORTAL)


def begin(session: Session, subject: Subject, act: SubjectAct, *, actor: Actor,
          settings: ConsentSettings, keys: KeyRing, now: datetime,
          say: Say = english) -> PasskeyChallenge:
    """Check ``act``, write its statement and open a single-use assertion ceremony whose
    challenge is the statement's hash; refused when no passkey may sign for ``actor``, or when
    ``actor`` may only end processing and the act does not
    (:func:`consent.ending_acts.require_ending_if_limited`)."""
    statement = statement_for(session, subject, act, actor=actor, settings=settings, keys=keys,
                              now=now, say=say)
    ending_acts.require_ending_if_limited(actor, statement)
    allowed = signers(session, subject, actor)
    if not allowed:
        raise ChallengeInvalid(f"no passkey is registered to sign for {subject.pseudonym}",
                               details={"subject": subject.pseudonym})
    ceremony, options = passkeys.assertion_options(
        session, statement=statement, credentials=allowed,
        subject_id=subject.id, settings=settings, now=now)
    return PasskeyChallenge(ceremony_id=ceremony.id, options=options, statement=statement)


def complete(session: Session, subject: Subject, response: PasskeyResponse, *, act: str,
             actor: Actor, keys: KeyRing, settings: ConsentSettings, now: datetime) -> Signed:
    """The verified signature of ``act`` by one of the signer's sealed credentials (single
    use), posted by an ``actor`` that may sign it: one that may only end processing posts only
    an act that does, whoever asked for its challenge."""
    ceremony = passkeys.take_ceremony(session, response.ceremony_id, kind=act, now=now,
                                      subject_id=subject.id)
    ending_acts.require_ending_if_limited(actor, ceremony.statement)
    return passkeys.verify_assertion(session, ceremony, response.credential,
                                     allowed=signers(session, subject, actor), keys=keys,
                                     settings=settings)


def signature_reference(runtime: Runtime, signed: Signed) -> dict[str, str]:
    """What the audit log keeps of a signed act: the credential's keyed hash and the statement's
    SHA-256, which tie the event to the signature without naming the credential."""
    return {"credential_hash": passkeys.audit_reference(runtime.keys, signed.credential),
            "statement_sha256": hashlib.sha256(
                canonical_json(signed.ceremony.statement)).hexdigest()}


@contextmanager
def signed_act(runtime: Runtime, pseudonym: str, response: PasskeyResponse, *, act: str,
               actor: Actor, now: datetime) -> Iterator[tuple[Session, Subject, Signed]]:
    """A transaction in which the subject's signature of ``act`` is verified (:func:`complete`):
    the session, the subject, and the signature."""
    with runtime.db.transaction() as session:
        subject = ledger.get_subject(session, pseudonym, runtime=runtime)
        yield session, subject, complete(session, subject, response, act=act, actor=actor,
                                         keys=runtime.keys, settings=runtime.settings, now=now)


def _require_the_person(actor: Actor, act: str) -> None:
    """A right in :data:`RIGHTS` is asked and signed by the person's own sign-in only: an
    operator's key that may erase (the controller's erasure) never opens the person's."""
    if actor.role is not Role.SUBJECT:
        raise SubjectCredentialRequired(f"only the person signs their own {act}")


def signed_right(session: Session, runtime: Runtime, subject: Subject,
                 response: PasskeyResponse, *, act: str, actor: Actor,
                 now: datetime) -> dict[str, str]:
    """The person's signature of one use of a right in :data:`RIGHTS` (an erasure, a copy of
    their templates, an API token from the portal), checked as every signed act's
    (:func:`complete`: this subject's challenge for this very act, unused and unexpired, signed
    by one of the signer's sealed passkeys), and what the audit log and the receipt keep of it
    (:func:`signature_reference`). Only the person asks: an operator's key is refused
    (``subject_credential_required``)."""
    _require_the_person(actor, act)
    signed = complete(session, subject, response, act=act, actor=actor, keys=runtime.keys,
                      settings=runtime.settings, now=now)
    return signature_reference(runtime, signed)


# Use cases (each in its own transaction, its audit event chained in it) -----------------------
def challenge(runtime: Runtime, *, actor: Actor, pseudonym: str, act: SubjectAct,
              say: Say = english) -> PasskeyChallenge:
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        subject = ledger.get_subject(session, pseudonym, runtime=runtime)
        if isinstance(act, CaptureAct):  # no capture to approve while an order suspends them
            declaration.require_not_suspended(runtime, session)
        asked = begin(session, subject, act, actor=actor, settings=runtime.settings,
                      keys=runtime.keys, now=now, say=say)
        if isinstance(act, CaptureAct):  # refused before the person signs what cannot enrol
            one_person.require_enrolment_route(
                session, runtime.keys, subject, journal=runtime.journal_ends,
                model_id=runtime.pipeline.model_id,
                opened_at_desk=opened_at_desk(asked.statement), replacing=act.replaces)
        return asked


def sign_withdrawal(session: Session, runtime: Runtime, subject: Subject, consent: Consent, *,
                    actor: Actor, response: PasskeyResponse, now: datetime) -> ReceiptKeys:
    """Check the person's signature of this withdrawal and keep it, signed by the controller
    too, with the consent. Returns the receipt keys it signed and checked with (read once:
    :func:`consent.receipt_key_in_force.in_force`), for the caller to serve the receipts."""
    signed = complete(session, subject, response, act="withdraw", actor=actor,
                      keys=runtime.keys, settings=runtime.settings, now=now)
    statement = signed.ceremony.statement or {}
    if statement.get("consentId") != consent.id:
        raise ChallengeInvalid("this signature withdraws another consent")
    # A signature that stops one use never ends a consent that covers others too: others by
    # what the person signed (its receipt less their withdrawals), not by the row alone.
    named = statement.get("purposeId")
    ring = receipt_key_in_force.in_force(runtime)  # never a key another process retired
    keys = ring.loaded_receipt_keys
    if named is not None and authority.purposes_signed(
            session, consent, pseudonym=subject.pseudonym, public_key=keys) != [named]:
        raise ChallengeInvalid("this signature withdraws one purpose, not the whole consent")
    consent.withdrawal_receipt = {
        "version": CONSENT_RECEIPT_VERSION, "withdrawnConsentID": consent.id,
        # Withdrawn with its last purpose: the receipt names the purpose the person signed.
        **({"withdrawnPurposeID": named} if named is not None else {}),
        "piiPrincipalId": subject.pseudonym, "withdrawnAt": now.isoformat(),
        "publicKey": ring.public_key, "subjectSignature": signed.evidence}
    consent.withdrawal_signature = ring.sign(canonical_json(consent.withdrawal_receipt))
    return keys


def sign_right(runtime: Runtime, *, actor: Actor, pseudonym: str, act: str,
               response: PasskeyResponse) -> dict[str, str]:
    """:func:`signed_right` in a transaction of its own, spent once it commits: for an act that
    runs in transactions of its own after it (an erasure)."""
    _require_the_person(actor, act)
    with signed_act(runtime, pseudonym, response, act=act, actor=actor,
                    now=runtime.clock.now()) as (_, _, signed):
        return signature_reference(runtime, signed)


def set_searchable(runtime: Runtime, *, actor: Actor, pseudonym: str,
                   response: PasskeyResponse) -> SubjectPublic:
    """Opt in to (or out of) 1:N galleries: the subject's signed choice, audited."""
    now = runtime.clock.now()
    with signed_act(runtime, pseudonym, response, act="searchable", actor=actor,
                    now=now) as (session, subject, signed):
        if signed.credential.capacity == str(ConsentCapacity.PARENTAL_AUTHORITY):
            policies.require_guardian_speaks(subject, runtime.settings, today=now.date(),
                                             keys=runtime.keys)
        searchable = bool((signed.ceremony.statement or {})["searchable"])
        if searchable:  # an opt-in widens the processing, as a new consent would
            require_subject_accepted(subject, runtime.settings)
        else:  # journaled before it commits: a restored copy opts out again
            erasure_journal.record(runtime, erasure_journal.OptedOut(
                subject_hash=ledger.tombstone_hash(runtime.keys, pseudonym), at=now))
        row_seals.set_opt_in(runtime.keys, subject, searchable, at=now)
        subject.last_interaction_at = now
        runtime.audit(session, Entry(
            action=AuditAction.SUBJECT_UPDATED, actor=actor, subjects=[pseudonym],
            details={"searchable": searchable, **signature_reference(runtime, signed)}))
        if not searchable:  # an opt-out takes effect at once: read back before it is answered
            ledger_alterations.require_held(session, [
                (Subject.__tablename__, (Subject.id == subject.id) & or_(
                    Subject.searchable.is_(True), Subject.searchable_seal.is_not(None)))])
        session.flush()
        return SubjectPublic.model_validate(subject)


def approve_capture(runtime: Runtime, *, actor: Actor, pseudonym: str,
                    response: PasskeyResponse) -> CapturePublic:
    """The subject approves enrolling the photo whose SHA-256 the capture session names; not
    while a regulator's order suspends enrolment (the capture session opened before it stays
    unspent: its approval is rolled back with the refusal, and may follow the lift)."""
    now = runtime.clock.now()
    with signed_act(runtime, pseudonym, response, act=CAPTURE, actor=actor,
                    now=now) as (session, subject, signed):
        declaration.require_not_suspended(runtime, session)
        # A child under the age of consent does not approve their own photo: their guardian does.
        policies.require_capacity(subject, ConsentCapacity(signed.credential.capacity),
                                  runtime.settings, today=now.date(), keys=runtime.keys)
        signed.ceremony.evidence = signed.evidence
        runtime.audit(session, Entry(
            action=AuditAction.CAPTURE_APPROVED, actor=actor, subjects=[pseudonym],
            details={"capture_id": signed.ceremony.id,
                     "photo_sha256": (signed.ceremony.statement or {})["photoSha256"],
                     "credential_hash": passkeys.audit_reference(
                         runtime.keys, signed.credential)}))
        return capture_public(signed.ceremony, pseudonym)


def capture_public(ceremony: Ceremony, pseudonym: str) -> CapturePublic:
    statement = ceremony.statement or {}
    return CapturePublic(id=ceremony.id, subject=pseudonym, consent_id=statement["consentId"],
                         photo_sha256=statement["photoSha256"],
                         approved=ceremony.evidence is not None, expires_at=ceremony.expires_at,
                         replaces=statement.get("replaces"))


def pending_captures(runtime: Runtime, *, actor: Actor, pseudonym: str) -> list[PendingCapture]:
    """Capture sessions the desk opened that wait for the subject's approval, with the options
    their device signs (the challenge is the statement's hash, fixed when the desk opened it)."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        subject = ledger.get_subject(session, pseudonym, runtime=runtime)
        rows = session.scalars(select(Ceremony).where(
            Ceremony.subject_id == subject.id, Ceremony.kind == CAPTURE,
            Ceremony.used_at.is_(None), Ceremony.expires_at > now))
        allowed = [{"type": "public-key", "id": c.id}
                   for c in signers(session, subject, actor)]
        return [PendingCapture(
            capture=capture_public(row, pseudonym),
            options={"challenge": row.challenge, "rpId": runtime.settings.passkey_rp_id,
                     "allowCredentials": allowed, "userVerification": "required",
                     "timeout": 60000}) for row in rows]

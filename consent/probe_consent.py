"""Probe consent from the person in the probe, not from the researcher who searches.

The researcher asks for a one-time link bound to one purpose, one image (its SHA-256) and their
own key. The person in the photo opens it on their own device, registers a passkey there and
signs a statement that commits to the notice, the purpose, the image's hash and the researcher's
key. Identify and verify then refuse another image or another key, and the first attempt that
reaches the face consumes it, a refused one included: once the engine has admitted the upload and
its header passed the limits, before any pixel is decoded (:func:`consent.matching.match`). An
attempt refused before that (a spent quota, an unknown purpose, the engine busy, an upload too
large or whose header is refused, a regulator's order in force) processed nothing of the face
and leaves it unused; two
attempts at once are never both processed, as the use is read and written in one serialised
transaction.

A verify compares the probe with one subject, so the person in it claims to be that subject:
its link names the subject, and the subject signs with the passkey they registered, never with
one made on the link (:func:`subject_challenge`). Whoever holds the link, the researcher
included, cannot sign in the subject's name; a verify refuses any other probe consent
(``not_signed_by_the_subject``, ``other_subject``), and an identification refuses one bound to
a subject (``for_a_verify``): agreeing to be compared with one's own record is not agreeing to
a search among everyone.

While a regulator's order suspends matching, no link is made, registered or signed
(``suspended_by_regulator``, :func:`consent.declaration.require_not_suspended`): nobody is asked
to agree to a search that cannot run. Reading what a link asks stays open; it uses nothing up.

Asking for a verify's link tells the researcher nothing of the subject it names: the answer,
its link and the work behind it are the same whether the pseudonym is active, erased, never
existed or never consented to the purpose, and the request's event names no one (it would
otherwise land in the person's log and export for a purpose they never chose; they see the
probe consent they sign). Whether the subject may sign (active, a consent in force to the
purpose) is asked when they sign, at the challenge and again with their signature, and refused
with one code for every case (:func:`require_signing_subject`). The link keeps no pseudonym
and no foreign key to the subject (:func:`name_subject`): it outlives an erasure, so a link whose
subject was erased since it was made is refused as one for a pseudonym erased before, or never
made.

The row is only the ledger's copy of what was signed: it is used only when its receipt, signed
by the service's key, names the same purpose, image, researcher key and subject, and ends no
later (``receipt_mismatch`` otherwise: a row inserted or retargeted without the key store,
:func:`consent.authority.probe_problem`), and signed after the witness folder was last taken up
in place of a lost one (``witness_replaced`` otherwise: its use may be marked in the lost
folder only, :mod:`consent.spent_marks`).

The person in a probe is not a subject: nothing of theirs is kept longer than its job. Their
passkey is deleted as soon as it has signed (the receipt embeds its public key, so the
signature stays checkable offline), and the sweep (:func:`forget_spent`) deletes a passkey that
never signed once its one challenge has expired, and each probe consent, the proof that a search
had the person's consent, five years after it expired (:mod:`consent.proof_retention`). The
links and challenges that named the image and the researcher go once spent or expired, as every
one does (:func:`consent.passkeys.forget_spent_challenges`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from optinface.consent import (
    authority,
    declaration,
    ledger,
    operator_texts,
    passkeys,
    policies,
    receipt_key_in_force,
    spent_marks,
)
from optinface.consent.accountability import notice_public
from optinface.consent.audit import AuditAction, Entry, log_time
from optinface.consent.crypto import canonical_json
from optinface.consent.db import rows_deleted
from optinface.consent.errors import (
    RECEIPT_MISMATCH,
    ChallengeInvalid,
    ProbeConsentRequired,
    PurposeNotConsented,
)
from optinface.consent.keys import KeyRing
from optinface.consent.receipt_keys import ReceiptKeys, signed_at
from optinface.consent.receipts import CONSENT_RECEIPT_VERSION
from optinface.consent.retention_policy import receipts_expired
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    ConsentCapacity,
    ConsentMethod,
    LinkSecret,
    Operation,
    PasskeyChallenge,
    PasskeyResponse,
    ProbeConsentLink,
    ProbeConsentPublic,
    ProbeConsentRequest,
    ProbeLinkRequest,
    PurposePublic,
    PurposeShown,
    SignedReceipt,
)
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import (
    Ceremony,
    OneTimeLink,
    PasskeyCredential,
    ProbeConsent,
    Purpose,
    Subject,
    SubjectStatus,
)
from optinface.consent.wording import Say

PROBE = "probe"
SUBJECT_PROBE = "probe-subject"  # a verify's link: opened to sign, never to make a passkey


def request_link(session: Session, body: ProbeConsentRequest, *, key_id: str, keys: KeyRing,
                 settings: ConsentSettings, now: datetime) -> tuple[OneTimeLink, str]:
    """A one-time link, and its secret, bound to one purpose, one notice, one image and the
    requesting researcher's key.

    The image is named by its SHA-256 only: the researcher never sends the probe to ask for
    consent, and the service never stores it.
    """
    purpose = ledger.get_purpose(session, body.purpose_id)
    notice = ledger.get_notice(session, body.notice_id)
    named = {} if body.subject is None else name_subject(session, body.subject, keys=keys)
    return passkeys.new_link(
        session, kind=PROBE if body.subject is None else SUBJECT_PROBE, subject=None,
        capacity=PROBE,
        details={"purpose_id": purpose.id, "notice_id": notice.id,
                 "probe_sha256": body.probe_sha256, "researcher_key_id": key_id, **named},
        created_by=key_id, keys=keys, now=now, minutes=settings.enrolment_link_minutes)


def name_subject(session: Session, pseudonym: str, *, keys: KeyRing) -> dict[str, Any]:
    """How a verify's link names its subject, whatever the pseudonym is: the id of the row that
    holds it, if one does (active or not: whether they may sign is asked when they sign), and
    its keyed hash, which only that pseudonym has (:func:`consent.ledger.tombstone_hash`).

    One indexed read, whatever it finds, and never the pseudonym itself, nor a foreign key:
    a link naming an erased or unknown pseudonym writes nothing of it back into the ledger, and
    an erasure deletes none (a link gone would tell its holder that its subject was erased).
    The hash also stops a row id reused by a later subject, or a link moved to another subject
    in the database, from naming anyone (:func:`require_signing_subject`)."""
    row = session.scalar(select(Subject.id).where(Subject.pseudonym == pseudonym))
    return {"subject_row": row, "subject_ref": ledger.tombstone_hash(keys, pseudonym)}


def require_signing_subject(session: Session, link: OneTimeLink, *, runtime: Runtime,
                            now: datetime) -> Subject:
    """The subject a verify's link names, if they may sign it now: the row it found, still that
    pseudonym's (:func:`name_subject`) and active, not erased in the erasure journal (a copy
    restored behind the service: :meth:`consent.journal_ends.JournalEnds.erased`), with a
    consent in force to the link's purpose.

    Otherwise one refusal, ``purpose_not_consented``, with the same message and details for
    every case: a pseudonym never made, erased (before the link or since), excluded while its
    erasure runs, or one that never consented to the purpose or no longer does. The link
    passes through the researcher's hands, and its refusal must not tell them which.
    """
    details = link.details
    row = details.get("subject_row")
    subject = session.get(Subject, row) if isinstance(row, int) else None
    purpose = ledger.get_purpose(session, details["purpose_id"])
    if (subject is not None and subject.status == SubjectStatus.ACTIVE
            and secrets.compare_digest(ledger.tombstone_hash(runtime.keys, subject.pseudonym),
                                       str(details.get("subject_ref")))
            and not runtime.journal_ends.erased(runtime.keys, subject.pseudonym)
            and policies.consents_to(session, subject, purpose, now=now)):
        return subject
    raise PurposeNotConsented(
        "the subject this link names cannot sign it: no subject of that pseudonym holds a"
        " consent in force to its purpose", details={"purpose_id": purpose.id})


def statement(session: Session, link: OneTimeLink, signer: PasskeyCredential | Subject, *,
              settings: ConsentSettings, now: datetime) -> dict[str, Any]:
    """What the person in the probe signs: this purpose, this image, this researcher; and who
    signs: the passkey made on the link, or (for a verify) the subject, with any of theirs."""
    purpose = ledger.get_purpose(session, link.details["purpose_id"])
    notice = ledger.get_notice(session, link.details["notice_id"])
    who = ({"subject": signer.pseudonym} if isinstance(signer, Subject)
           else {"signer": signer.id})
    return {**passkeys.issued(PROBE, now), "requestId": link.id, "purposeId": purpose.id,
            "purpose": purpose.name, "probeSha256": link.details["probe_sha256"],
            "researcherKeyId": link.details["researcher_key_id"],
            "notice": {"id": notice.id, "version": notice.version, "sha256": notice.sha256,
                       "language": notice.language},
            **who, "rpId": settings.passkey_rp_id,
            "expiresAt": (now + timedelta(minutes=settings.enrolment_link_minutes)).isoformat()}


def record(session: Session, ceremony: Ceremony, signed: passkeys.Signed, *, keys: KeyRing,
           now: datetime) -> ProbeConsent:
    """Insert the probe consent from the statement the person signed, never from the
    researcher's request: purpose, image hash, researcher key, subject and expiry are what was
    signed. The row keeps only a hash of the evidence; the receipt carries the assertion."""
    body = signed.ceremony.statement or {}
    evidence_sha = hashlib.sha256(canonical_json(signed.evidence)).hexdigest()
    subject = body.get("subject")
    probe = ProbeConsent(
        id=ledger.new_id("prb"), purpose_id=body["purposeId"], notice_id=body["notice"]["id"],
        method=str(ConsentMethod.PASSKEY), evidence_sha256=evidence_sha, obtained_at=now,
        expires_at=datetime.fromisoformat(body["expiresAt"]), created_by=body["researcherKeyId"],
        probe_sha256=body["probeSha256"], researcher_key_id=body["researcherKeyId"],
        subject_ref=None if subject is None else ledger.tombstone_hash(keys, subject))
    session.add(probe)
    session.flush()
    return probe


def signers_of(session: Session, ceremony: Ceremony) -> list[PasskeyCredential]:
    """The passkeys that may sign: the one made on the link, or the subject's own."""
    if ceremony.subject_id is not None:
        subject = session.get(Subject, ceremony.subject_id)
        if subject is None:
            raise ChallengeInvalid("the subject of this probe consent no longer exists")
        return passkeys.credentials_of(session, subject)
    credential = session.get(PasskeyCredential, (ceremony.statement or {}).get("signer", ""))
    if credential is None:
        raise ChallengeInvalid("no passkey was registered for this probe consent")
    return [credential]


WITNESS_REPLACED = "witness_replaced"
"""The problem of a probe consent signed before the witness folder was taken up in place of a
lost one (:func:`consent.spent_marks.issued_before_marks`): its use may be marked in the lost
folder only, so it is not used again; the person is asked for a new one."""
UNSPENT = frozenset({"missing", "used"})
"""The problems of an attempt under a probe consent that spends nothing: there is none to
spend, or it was spent before (every other problem is found once the row is marked used)."""


def consume(session: Session, probe_consent_id: str, *, purpose: Purpose,
            operation: Operation, probe_sha256: str, key_id: str, subject: str | None,
            keys: KeyRing, receipt_keys: ReceiptKeys, now: datetime, witness_dir: Path,
            ) -> ProbeConsentRequired | None:
    """Use the probe consent once: the caller commits this even when the attempt is refused,
    right before the face is first processed (see the module docstring). Its use is marked in
    ``witness_dir`` as the transaction commits, and a probe consent marked there already is
    refused as used then, whatever its row said, with nothing committed and before any pixel
    is decoded (:mod:`consent.spent_marks`: the row's mark is the database's writer's to
    clear).

    ``subject`` is the subject a verify compares with (None for an identification). Returns
    (never raises, so that the use is committed) the :class:`ProbeConsentRequired` to raise
    when it is missing, used, expired, for another purpose, another image, another key or
    another subject, not signed by the subject, or when the row is not what its receipt, signed
    by the service's key, says the person signed (``receipt_mismatch``: a row written without
    the key, :func:`consent.authority.probe_problem`). ``receipt_keys``: what the receipt is
    checked against, as the search read them (once: on a shared ledger a key-store read).
    """
    subject_ref = None if subject is None else ledger.tombstone_hash(keys, subject)
    probe = session.get(ProbeConsent, probe_consent_id)
    problem = mismatch = None
    if probe is None:
        problem = "missing"
    elif probe.used_at is not None:
        problem = "used"
    else:
        probe.used_at = now
        spent_marks.claim_on_commit(
            session, witness_dir, spent_marks.probe_consent(probe_consent_id),
            what=f"probe consent {probe_consent_id}",
            used_already=_refusal(probe_consent_id, "used", operation))
        if probe.expires_at <= now:
            problem = "expired"
        elif probe.purpose_id != purpose.id:
            problem = "other_purpose"
        elif probe.probe_sha256 is None or probe.researcher_key_id is None:
            problem = "not_signed_by_the_person"
        elif probe.probe_sha256 != probe_sha256:
            problem = "other_image"
        elif probe.researcher_key_id != key_id:
            problem = "other_key"
        elif probe.subject_ref != subject_ref:
            problem = ("for_a_verify" if subject_ref is None
                       else "not_signed_by_the_subject" if probe.subject_ref is None
                       else "other_subject")
        elif mismatch := authority.probe_problem(probe, subject=subject,
                                                 public_key=receipt_keys):
            problem = RECEIPT_MISMATCH
        elif spent_marks.issued_before_marks(witness_dir, _consented_at(probe)):
            problem = WITNESS_REPLACED
    if problem is None:
        return None
    return _refusal(probe_consent_id, problem, operation, mismatch=mismatch)


def _consented_at(probe: ProbeConsent) -> datetime:
    """When the person signed ``probe``, as its receipt (checked first) says
    (:func:`consent.receipt_keys.signed_at`); the earliest instant where it says nothing
    readable."""
    return signed_at(probe.receipt or {}) or datetime.min.replace(tzinfo=UTC)


def _refusal(probe_consent_id: str, problem: str, operation: Operation, *,
             mismatch: authority.Mismatch | None = None) -> ProbeConsentRequired:
    return ProbeConsentRequired(
        f"probe consent {probe_consent_id} is {problem}",
        details={"probe_consent_id": probe_consent_id, "problem": problem,
                 "operation": str(operation),
                 **({} if mismatch is None else {"mismatch": str(mismatch)})})


# Use cases ------------------------------------------------------------------------------------
def request(runtime: Runtime, *, actor: Actor, body: ProbeConsentRequest) -> ProbeConsentLink:
    """The researcher's request: a one-time link for the person in the probe; not while a
    regulator's order suspends matching (nobody is asked to agree to a search that cannot
    run)."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        declaration.require_not_suspended(runtime, session)
        link, secret = request_link(session, body, key_id=actor.key_id, keys=runtime.keys,
                                    settings=runtime.settings, now=now)
        # Naming no one, even for a verify: the subject's log shows what they sign, not who
        # asked about them (a researcher could otherwise write into anyone's export).
        runtime.audit(session, Entry(
            action=AuditAction.PROBE_CONSENT_REQUESTED, actor=actor, purpose=body.purpose_id,
            probe_sha256=body.probe_sha256,
            details={"request_id": link.id,
                     **({} if body.subject is None else {
                         "for_a_verify": True,
                         # the enumeration alerts count it unsigned only once it expired
                         "expires_at": log_time(link.expires_at)})}))
        # The page asks the subject of a verify for their own passkey, anyone else for a new one.
        page = "probe" if body.subject is None else "probe?signer=subject"
        url = passkeys.link_url(runtime.settings, page, secret)
        return ProbeConsentLink(request_id=link.id, link_url=url, secret=secret,
                                expires_at=link.expires_at, qr_svg=passkeys.qr_svg(url))


def asked(runtime: Runtime, body: LinkSecret, say: Say) -> ProbeLinkRequest:
    """What the link asks the person to agree to, shown before any passkey is made or used:
    the notice's text and version with who answers for it, the purpose (as ``say``'s reader
    is shown the operator's texts, :mod:`consent.operator_texts`), the image's hash and the
    researcher's key. Reading it uses nothing up: declining is leaving without signing."""
    now = runtime.clock.now()
    with runtime.db.reading() as session:
        link = passkeys.open_link(session, body.link, kind=(PROBE, SUBJECT_PROBE),
                                  keys=runtime.keys, witness_dir=runtime.settings.witness_dir,
                                  now=now)
        notice = ledger.get_notice(session, link.details["notice_id"])
        purpose = ledger.get_purpose(session, link.details["purpose_id"])
        shown = operator_texts.shown(session, runtime.settings, say)
        name, description = shown(purpose.name), shown(purpose.description)
        return ProbeLinkRequest(
            notice=notice_public(notice, runtime.settings),
            purpose=PurposePublic.model_validate(purpose),
            purpose_shown=PurposeShown(language=say.language, name=name, description=description,
                                       english_only=list(shown.english_only)),
            probe_sha256=link.details["probe_sha256"],
            researcher_key_id=link.details["researcher_key_id"],
            for_subject=link.kind == SUBJECT_PROBE, expires_at=link.expires_at)


def challenge(runtime: Runtime, credential: PasskeyCredential,
              link: OneTimeLink) -> PasskeyChallenge:
    """Right after the person registered their passkey: the statement for them to sign."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        signer = session.get(PasskeyCredential, credential.id)
        assert signer is not None
        body = statement(session, link, signer, settings=runtime.settings, now=now)
        ceremony, options = passkeys.assertion_options(
            session, statement=body, credentials=[signer], subject_id=None,
            settings=runtime.settings, now=now, link_id=link.id)
        return PasskeyChallenge(ceremony_id=ceremony.id, options=options, statement=body)


def subject_challenge(runtime: Runtime, body: LinkSecret) -> PasskeyChallenge:
    """A verify's link, opened by its subject: the statement for them to sign with a passkey
    they registered (the link is used up by the signature: one link, one probe consent), if
    they may sign it (:func:`require_signing_subject`, else its one refusal).

    The options name no passkey: the link passes through the researcher's hands, and the
    subject's credential ids are what a sign-in presents (an erased one is told its erasure
    date). The person's device offers the passkey it holds, and :func:`sign` accepts only the
    subject's, in a capacity that may consent for them.
    """
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        link = passkeys.open_link(session, body.link, kind=SUBJECT_PROBE, keys=runtime.keys,
                                  witness_dir=runtime.settings.witness_dir, now=now)
        subject = require_signing_subject(session, link, runtime=runtime, now=now)
        # After what no lift would cure: an order's refusal tells a person who may sign that
        # they can once it is lifted.
        declaration.require_not_suspended(runtime, session)
        statement_ = statement(session, link, subject, settings=runtime.settings, now=now)
        ceremony, options = passkeys.assertion_options(
            session, statement=statement_, credentials=[], subject_id=subject.id,
            settings=runtime.settings, now=now, link_id=link.id)
        return PasskeyChallenge(ceremony_id=ceremony.id, options=options, statement=statement_)


def sign(runtime: Runtime, response: PasskeyResponse) -> ProbeConsentPublic:
    """Record the probe consent the person signed; its receipt embeds their assertion. Not
    while a regulator's order suspends matching: the challenge stays unspent, to sign after
    the lift."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        declaration.require_not_suspended(runtime, session)
        ceremony = passkeys.take_ceremony(session, response.ceremony_id, kind=PROBE, now=now)
        signed = passkeys.verify_assertion(session, ceremony, response.credential,
                                           allowed=signers_of(session, ceremony),
                                           keys=runtime.keys, settings=runtime.settings)
        if ceremony.subject_id is not None:  # a verify's: the subject's own act
            _use_subject_link(session, runtime, ceremony, signed, now=now)
        probe = record(session, ceremony, signed, keys=runtime.keys, now=now)
        subject = (signed.ceremony.statement or {}).get("subject")
        ring = receipt_key_in_force.in_force(runtime)  # never a key another process retired
        probe.receipt = {"version": CONSENT_RECEIPT_VERSION, "probeConsentID": probe.id,
                         "purposeId": probe.purpose_id, "probeSha256": probe.probe_sha256,
                         "researcherKeyId": probe.researcher_key_id,
                         "consentTimestampISO": now.isoformat(),
                         "expiresISO": probe.expires_at.isoformat(),
                         "publicKey": ring.public_key,
                         "subjectSignature": signed.evidence,
                         **({} if subject is None else {"subject": subject})}
        probe.receipt_signature = ring.sign(canonical_json(probe.receipt))
        runtime.audit(session, Entry(
            action=AuditAction.PROBE_CONSENT_CREATED, actor=None, purpose=probe.purpose_id,
            probe_sha256=probe.probe_sha256, subjects=[] if subject is None else [subject],
            details={"probe_consent_id": probe.id, "researcher_key_id": probe.researcher_key_id,
                     "request_id": ceremony.link_id,  # the enumeration alerts match it
                     "credential_hash": passkeys.audit_reference(
                         runtime.keys, signed.credential)}))
        if signed.credential.capacity == PROBE:  # made on the link for this one signature,
            session.delete(signed.credential)  # now made and in the receipt
        return probe_public(probe, public_key=ring.loaded_receipt_keys)


def _use_subject_link(session: Session, runtime: Runtime, ceremony: Ceremony,
                      signed: passkeys.Signed, *, now: datetime) -> None:
    """The subject's signature uses up their link, once, if they may still sign it (asked
    again: a consent may have ended since the challenge); and like a consent it must come from
    a capacity that may consent for them (a minor below the age of consent: their guardian)."""
    witness_dir = runtime.settings.witness_dir
    link = passkeys.unspent(session.get(OneTimeLink, ceremony.link_id or ""),
                            witness_dir=witness_dir, now=now)
    passkeys.use_up(session, link, witness_dir=witness_dir, now=now)
    subject = require_signing_subject(session, link, runtime=runtime, now=now)
    if subject.id != ceremony.subject_id:  # the challenge's row moved to another subject
        raise ChallengeInvalid("this challenge is not for the subject its link names")
    policies.require_capacity(subject, ConsentCapacity(signed.credential.capacity),
                              runtime.settings, today=now.date(), keys=runtime.keys)


def forget_spent(session: Session, *, settings: ConsentSettings, now: datetime) -> int:
    """Delete what people in probes left that can serve nothing more (see the module
    docstring); how many rows went. Run by the sweep."""
    challenge_expired = now - timedelta(seconds=settings.challenge_seconds)
    return rows_deleted(
        session,
        # Registered on a probe link, never signed: it could sign only the challenge issued
        # with its registration, expired by now.
        delete(PasskeyCredential).where(PasskeyCredential.capacity == PROBE,
                                        PasskeyCredential.subject_id.is_(None),
                                        PasskeyCredential.created_at < challenge_expired),
        delete(ProbeConsent).where(ProbeConsent.expires_at < receipts_expired(now)))


def probe_public(probe: ProbeConsent, *, public_key: ReceiptKeys) -> ProbeConsentPublic:
    """The probe consent as the API shows it, with its signed receipt once the person signed."""
    receipt = None
    if probe.receipt is not None and probe.receipt_signature is not None:
        receipt = SignedReceipt.served(probe.receipt, probe.receipt_signature,
                                       keys=public_key)
    return ProbeConsentPublic(
        id=probe.id, purpose_id=probe.purpose_id, notice_id=probe.notice_id,
        method=ConsentMethod(probe.method), evidence_sha256=probe.evidence_sha256,
        obtained_at=probe.obtained_at, expires_at=probe.expires_at, used_at=probe.used_at,
        probe_sha256=probe.probe_sha256, researcher_key_id=probe.researcher_key_id,
        receipt=receipt)

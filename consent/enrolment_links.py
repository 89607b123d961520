"""Subject shells and how a person takes them over: a one-time link, their own passkey, sign-in.

The operator creates the shell (an age bracket, a jurisdiction, a pseudonym) and receives only
one-time, short-lived links to hand over, with their QR code; never a credential. The person
opens the link on their own device and registers a passkey; from then on they sign in with it,
and the subject API token they may want is issued to them there (that sign-in is itself a fresh
assertion); another, from the portal, only with their passkey's signature of that act. For a
minor under the age of consent a second link is for the holder of parental authority, whose own
passkey is linked to the minor with that capacity.

The link's secret travels in the URL's fragment (after ``#``), which browsers never send to the
server, so it appears in no access log.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent import (
    after_erasure,
    apikeys,
    declaration,
    ending_acts,
    ledger,
    page_sessions,
    passkeys,
    policies,
    probe_consent,
    subject_acts,
    witness_gate,
)
from optinface.consent.accountability import require_accepted, require_subject_accepted
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.errors import (
    AlreadyRegistered,
    ChallengeInvalid,
    PasskeyInvalid,
    SubjectErased,
)
from optinface.consent.moments import require_not_future
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    ConsentCapacity,
    EnrolmentLink,
    LinkSecret,
    PasskeyChallenge,
    PasskeyRegistered,
    PasskeyResponse,
    SignedIn,
    SubjectCreate,
    SubjectCreated,
    SubjectPublic,
)
from optinface.consent.tables import OneTimeLink, PasskeyCredential, Subject

ENROLMENT = "enrolment"


def _enrolment_link(runtime: Runtime, link: OneTimeLink, secret: str) -> EnrolmentLink:
    url = passkeys.link_url(runtime.settings, "passkey", secret)
    return EnrolmentLink(link_url=url, secret=secret, capacity=ConsentCapacity(link.capacity),
                         expires_at=link.expires_at, qr_svg=passkeys.qr_svg(url))


def needs_guardian(subject: Subject, runtime: Runtime) -> bool:
    """Whether a guardian's link is made: only while the declared bracket, aged since it was
    declared, leaves the person below the age of consent (the row was sealed just now, by
    :func:`consent.ledger.create_subject`: no seal to check again)."""
    return policies.below_age_of_consent(subject, runtime.settings,
                                         today=runtime.clock.now().date())


def create_subject(runtime: Runtime, *, actor: Actor, body: SubjectCreate) -> SubjectCreated:
    """A subject shell and the one-time links to hand over: the person's own, and for a minor
    under the age of consent a second one for the holder of parental authority.

    The operator gets links, never a credential: only whoever opens a link can register the
    passkey that acts for the subject. An EU subject is refused, before anything is written,
    while the controller's EU representative is owed and not named (GDPR art. 27).
    """
    now = runtime.clock.now()
    jurisdiction = body.jurisdiction or runtime.settings.jurisdiction
    require_accepted(jurisdiction, runtime.settings)
    require_not_future(body.age_declared_on, now=now, field="age_declared_on")
    with runtime.db.transaction() as session:
        subject = ledger.create_subject(session, body, jurisdiction=jurisdiction,
                                        keys=runtime.keys, now=now)
        links = [ConsentCapacity.SELF]
        if needs_guardian(subject, runtime):
            links.append(ConsentCapacity.PARENTAL_AUTHORITY)
        made = []
        for capacity in links:
            link, secret = passkeys.new_link(
                session, kind=ENROLMENT, subject=subject, capacity=str(capacity), details={},
                created_by=actor.key_id, keys=runtime.keys, now=now,
                minutes=runtime.settings.enrolment_link_minutes)
            made.append(_enrolment_link(runtime, link, secret))
        runtime.audit(session, Entry(
            action=AuditAction.SUBJECT_CREATED, actor=actor, subjects=[subject.pseudonym],
            details={"age_category": subject.age_category, "jurisdiction": subject.jurisdiction,
                     "age_declared_on": str(subject.age_declared_on),
                     "links": [str(c) for c in links]}))
        return SubjectCreated(pseudonym=subject.pseudonym,
                              subject=SubjectPublic.model_validate(subject),
                              enrolment=made[0], guardian_enrolment=made[1] if len(made) > 1
                              else None)


def new_enrolment_link(runtime: Runtime, *, actor: Actor, pseudonym: str,
                       capacity: ConsentCapacity) -> EnrolmentLink:
    """A fresh link while no passkey of that capacity exists (a lost or expired link): once the
    person registered, nobody else can add a credential to their subject. Refused here when
    asked, and held again when a link is used (:func:`consent.passkeys.register`), so a link
    asked for before the person registered is void once they did."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        subject = ledger.get_subject(session, pseudonym, runtime=runtime)
        require_subject_accepted(subject, runtime.settings)
        if capacity is ConsentCapacity.PARENTAL_AUTHORITY:
            policies.require_guardian_speaks(subject, runtime.settings, today=now.date(),
                                             keys=runtime.keys)
        if passkeys.holds_passkey(session, subject, capacity=str(capacity), keys=runtime.keys):
            raise AlreadyRegistered(f"{subject.pseudonym} already has a {capacity} passkey",
                                    details={"subject": pseudonym, "capacity": str(capacity)})
        link, secret = passkeys.new_link(
            session, kind=ENROLMENT, subject=subject, capacity=str(capacity), details={},
            created_by=actor.key_id, keys=runtime.keys, now=now,
            minutes=runtime.settings.enrolment_link_minutes)
        subject.last_interaction_at = now  # a link in their hands: the wait restarts with it
        runtime.audit(session, Entry(action=AuditAction.ENROLMENT_LINK_CREATED, actor=actor,
                                     subjects=[pseudonym], details={"capacity": str(capacity)}))
        return _enrolment_link(runtime, link, secret)


def registration_options(runtime: Runtime, body: LinkSecret, *, kind: str) -> PasskeyChallenge:
    """The WebAuthn creation options for the person holding a valid ``kind`` link (enrolment
    or probe); the link is checked here but used up only when the passkey is registered.

    The name the authenticator shows is the pseudonym (or the probe link's id), prefixed for a
    guardian: the service holds no real name to send.
    """
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        link = passkeys.open_link(session, body.link, kind=kind, keys=runtime.keys,
                                  witness_dir=runtime.settings.witness_dir, now=now)
        _require_open(runtime, session, kind=kind)
        subject = _linked_subject(runtime, session, link)
        name = subject.pseudonym if subject is not None else f"probe {link.id}"
        if link.capacity == str(ConsentCapacity.PARENTAL_AUTHORITY):
            name = f"guardian of {name}"
        ceremony, options = passkeys.registration_options(
            session, link, user_name=name, settings=runtime.settings, now=now)
        return PasskeyChallenge(ceremony_id=ceremony.id, options=options)


def register(runtime: Runtime, body: PasskeyResponse, *, kind: str
             ) -> tuple[PasskeyCredential, OneTimeLink, str | None]:
    """Store the person's new passkey, on a ``kind`` link (enrolment or probe), audited without
    any secret; the link is used up."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        _require_open(runtime, session, kind=kind)
        credential, link = passkeys.register(session, body.ceremony_id, body.credential,
                                             kind=kind, keys=runtime.keys,
                                             settings=runtime.settings, now=now)
        subject = _linked_subject(runtime, session, link)
        pseudonym = subject.pseudonym if subject is not None else None
        if subject is not None:  # their person is here: the wait for a first consent restarts
            subject.last_interaction_at = now
        runtime.audit(session, Entry(
            action=AuditAction.PASSKEY_REGISTERED, actor=None,
            subjects=[pseudonym] if pseudonym else [],
            details={"credential_hash": passkeys.audit_reference(runtime.keys, credential),
                     "capacity": credential.capacity, "link_id": link.id}))
        session.expunge(credential)
        session.expunge(link)
    return credential, link, pseudonym


def _require_open(runtime: Runtime, session: Session, *, kind: str) -> None:
    """A probe's link asks a person to agree to a search: none is registered on while a
    regulator's order suspends matching (asked once the link is found valid: a lift cures
    only the order). A subject's own link (taking over their shell) stays open: what a person
    does for themselves never waits on an order."""
    if kind == probe_consent.PROBE:
        declaration.require_not_suspended(runtime, session)


def _linked_subject(runtime: Runtime, session: Session, link: OneTimeLink) -> Subject | None:
    """The subject ``link`` was made for (none for a probe's), refused as
    :func:`ledger.get_subject` refuses it: an erased subject's link restored with a copy of the
    ledger registers no passkey for them."""
    subject = session.get(Subject, link.subject_id) if link.subject_id else None
    if subject is not None:
        ledger.get_subject(session, subject.pseudonym, runtime=runtime)
    return subject


def registered(credential: PasskeyCredential, pseudonym: str | None) -> PasskeyRegistered:
    return PasskeyRegistered(subject=pseudonym, capacity=credential.capacity,
                             credential_id=credential.id)


def sign_in_options(runtime: Runtime) -> PasskeyChallenge:
    """A discoverable-credential challenge: the person's device offers the passkey it holds.
    What it signs is a statement too (:func:`consent.passkeys.issued`), so its answer opens
    nothing once the challenge's lifetime is over. Asked while the witness is stalled, the
    statement limits the token the sign-in issues to ending processing
    (:data:`consent.ending_acts.ENDS_PROCESSING_ONLY`): the one sign-in the gate lets through
    then."""
    now = runtime.clock.now()
    statement = {**passkeys.issued(ending_acts.SIGN_IN, now),
                 "rpId": runtime.settings.passkey_rp_id}
    if runtime.log.witness.stalled is not None:
        statement[ending_acts.ENDS_PROCESSING_ONLY] = True
    with runtime.db.transaction() as session:
        ceremony, options = passkeys.assertion_options(
            session, statement=statement, credentials=[],
            subject_id=None, settings=runtime.settings, now=now)
        return PasskeyChallenge(ceremony_id=ceremony.id, options=options, statement=statement)


def sign_in(runtime: Runtime, body: PasskeyResponse) -> SignedIn:
    """Verify the sign-in and issue the person's own subject token, in their capacity, for
    ``OPTINFACE_SUBJECT_TOKEN_DAYS`` (the API's sign-in: the person keeps the token)."""
    _require_witnessing_unless_limited(runtime, body)
    with runtime.db.transaction() as session:
        return _signed_in(runtime, session, body,
                          lifetime=timedelta(days=runtime.settings.subject_token_days))


def sign_in_to_page(runtime: Runtime, body: PasskeyResponse, *,
                    lifetime: timedelta) -> tuple[SignedIn, str]:
    """The portal's sign-in: the subject token it issues lives only as long as the page
    session that carries it, opened in the same transaction with the same expiry, and is
    revoked when that session ends (:func:`consent.page_sessions.end`); the session's id, for
    the cookie alone, with the person signed in. The token never leaves the server."""
    _require_witnessing_unless_limited(runtime, body)
    with runtime.db.transaction() as session:
        person = _signed_in(runtime, session, body, lifetime=lifetime)
        session_id = page_sessions.add(session, runtime, area=page_sessions.PORTAL,
                                       secret=person.subject_token, subject=person.subject,
                                       expires_at=person.token_expires_at, issued=True)
        return person, session_id


def _require_witnessing_unless_limited(runtime: Runtime, body: PasskeyResponse) -> None:
    """While the witness is stalled, refuse before anything is done a sign-in whose challenge
    was asked before (its token would not be limited to ending processing): the gate's rule
    over the statement it asks to sign (:mod:`consent.witness_gate`), read before the
    transaction, as the gate's try takes the ledger's write lock."""
    witness_gate.require_witnessing_unless_ending(
        runtime, lambda: subject_acts.asked(runtime, body.ceremony_id), act="a sign-in")


def _signed_in(runtime: Runtime, session: Session, body: PasskeyResponse, *,
               lifetime: timedelta) -> SignedIn:
    """In ``session``'s transaction: verify the sign-in and issue the person's own subject
    token, in their capacity, for ``lifetime``: limited to ending processing where the
    statement signed says so."""
    now = runtime.clock.now()
    settings = runtime.settings
    ceremony = passkeys.take_ceremony(session, body.ceremony_id, kind=ending_acts.SIGN_IN,
                                      now=now)
    scope = ending_acts.scope_of(ceremony.statement)
    credential_id = str(body.credential.get("id", ""))
    credential = session.scalar(select(PasskeyCredential).where(
        PasskeyCredential.id == credential_id)) if passkeys.is_credential_id(
            credential_id) else None
    if credential is None:
        erased = after_erasure.erased_by_credential(session, runtime.keys, credential_id)
        if erased is not None:
            raise SubjectErased("the record of this passkey was erased",
                                details={"erased_at": erased.erased_at.isoformat()})
    if credential is None or credential.subject_id is None:
        raise PasskeyInvalid("this passkey opens no subject here")
    passkeys.verify_assertion(session, ceremony, body.credential, allowed=[credential],
                              keys=runtime.keys, settings=settings)
    subject = session.get(Subject, credential.subject_id)
    if subject is None:
        raise ChallengeInvalid("the subject of this passkey no longer exists")
    ledger.get_subject(session, subject.pseudonym, runtime=runtime)  # erased: refused
    if credential.capacity == str(ConsentCapacity.PARENTAL_AUTHORITY):
        policies.require_guardian_speaks(subject, settings, today=now.date(), keys=runtime.keys)
    credential_hash = passkeys.audit_reference(runtime.keys, credential)
    token = apikeys.issue_subject_token(session, subject=subject, keys=runtime.keys, now=now,
                                        lifetime=lifetime, capacity=credential.capacity,
                                        credential_hash=credential_hash,
                                        scope=scope)
    runtime.audit(session, Entry(action=AuditAction.PASSKEY_SIGN_IN, actor=None,
                                 subjects=[subject.pseudonym],
                                 details={"credential_hash": credential_hash,
                                          "capacity": credential.capacity,
                                          **({"scope": scope} if scope else {})}))
    return SignedIn(subject=subject.pseudonym, capacity=ConsentCapacity(credential.capacity),
                    subject_token=token, token_expires_at=now + lifetime,
                    ends_processing_only=ending_acts.limited(scope))


def issue_token(runtime: Runtime, *, actor: Actor, signed: PasskeyResponse) -> SignedIn:
    """Another API token for the signed-in person, in their capacity (shown to them once),
    only with their passkey's signature of a ``subject_token`` act
    (:func:`subject_acts.signed_right`), spent in the transaction that issues the token and
    named in its event: the session that asks is not proof enough."""
    now = runtime.clock.now()
    settings = runtime.settings
    with runtime.db.transaction() as session:
        subject = ledger.get_subject(session, actor.subject or "", runtime=runtime)
        signature = subject_acts.signed_right(session, runtime, subject, signed,
                                              act=subject_acts.SUBJECT_TOKEN, actor=actor,
                                              now=now)
        token = apikeys.issue_subject_token(
            session, subject=subject, keys=runtime.keys, now=now,
            lifetime=timedelta(days=settings.subject_token_days), capacity=actor.capacity,
            credential_hash=signature["credential_hash"])
        runtime.audit(session, Entry(action=AuditAction.SUBJECT_TOKEN_ISSUED, actor=actor,
                                     subjects=[subject.pseudonym],
                                     details={"signed": signature}))
        return SignedIn(subject=subject.pseudonym, capacity=ConsentCapacity(actor.capacity),
                        subject_token=token,
                        token_expires_at=now + timedelta(days=settings.subject_token_days))

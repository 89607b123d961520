"""Passkeys (WebAuthn): one-time links, registration, sign-in and signed acts.

Every act that creates or ends a legal basis is a *signed act*: the server writes a statement
(what is authorised: the act, the pseudonym, the notice's SHA-256, the purposes, the expiry, a
photo's or a probe's SHA-256...), the WebAuthn challenge is the SHA-256 of its canonical JSON,
and the person's authenticator signs it. The evidence kept in receipts holds the statement, the
assertion and the credential's public key, so :func:`verify_evidence` needs nothing else: the
operator, who never holds the private key, cannot produce such evidence afterwards.

The ``webauthn`` library does every check of a response (challenge, origin, relying party,
flags, signature); this module keeps the state around it: links, ceremonies, credentials.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidCBORData,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from optinface.consent import row_seals, spends, spent_marks
from optinface.consent.crypto import canonical_json
from optinface.consent.db import rows_deleted
from optinface.consent.ending_acts import ends_processing
from optinface.consent.errors import (
    AlreadyRegistered,
    ChallengeInvalid,
    LinkInvalid,
    PasskeyInvalid,
)
from optinface.consent.identifiers import is_identifier
from optinface.consent.keys import KeyRing
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import Ceremony, OneTimeLink, PasskeyCredential, Subject

LINK_PREFIX = "otl_"
LINK_HASH_DOMAIN = "one-time-link"
AUDIT_HASH_DOMAIN = "audit-credential"
REGISTER = "register"
_LOCALHOST = re.compile(r"^https?://localhost(:\d{1,5})?$")


MAX_CREDENTIAL_ID_BYTES = 1023
"""WebAuthn's bound on a credential id (credentialIdLength), which the ``webauthn`` library does
not check: in base64url, 1364 characters, within the column's 1400 (past them, a 500 on
PostgreSQL)."""
_CREDENTIAL_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{-(-MAX_CREDENTIAL_ID_BYTES * 4 // 3)}}}")
"""A credential id as stored: base64url of at most :data:`MAX_CREDENTIAL_ID_BYTES`."""


def is_credential_id(text: str) -> bool:
    """Whether ``text`` can name a stored credential; anything else (a NUL, which PostgreSQL
    refuses in any text) is never looked up."""
    return _CREDENTIAL_ID.fullmatch(text) is not None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def challenge_for(statement: dict[str, Any]) -> bytes:
    """The WebAuthn challenge of a signed act: SHA-256 of the statement's canonical JSON."""
    return hashlib.sha256(canonical_json(statement)).digest()


def issued(act: str, now: datetime) -> dict[str, Any]:
    """What every statement a passkey signs begins with: the act, when it was asked
    (``issuedAt``, from which :func:`require_signed_recently` counts, and which no one moves
    afterwards: the statement's hash is the challenge signed) and a nonce that makes each
    challenge new. A sign-in's statement is no more than this and the relying party, so a
    sign-in's answer, kept by whoever saw it pass, opens nothing once its challenge's lifetime
    is over, whatever a row written to the database says."""
    return {"act": act, "issuedAt": now.isoformat(), "nonce": secrets.token_hex(16)}


def qr_svg(url: str) -> str:
    """The URL as an inline SVG QR code, drawn here: nothing is fetched from elsewhere.
    segno is imported here, where a page draws one, not by every command's start."""
    import segno

    return str(segno.make(url, error="m").svg_inline(scale=4))


def link_url(settings: ConsentSettings, page: str, secret: str) -> str:
    """The secret travels in the fragment: browsers never send it, no access log holds it."""
    return f"{settings.public_url.rstrip('/')}/{page}#{secret}"


# One-time links -------------------------------------------------------------------------------
def new_link(
    session: Session, *, kind: str, subject: Subject | None, capacity: str,
    details: dict[str, Any], created_by: str | None, keys: KeyRing, now: datetime,
    minutes: int,
) -> tuple[OneTimeLink, str]:
    """A link row and its secret (shown once; a keyed hash of it and of what it opens is
    stored, :func:`_link_digest`)."""
    link_id = _new_id("lnk")
    secret = f"{LINK_PREFIX}{link_id}.{secrets.token_urlsafe(24)}"
    row = OneTimeLink(id=link_id, kind=kind, subject_id=subject.id if subject else None,
                      capacity=capacity, details=details, created_by=created_by,
                      created_at=now, expires_at=now + timedelta(minutes=minutes))
    row.secret_hash = _link_digest(keys, secret, row,
                                   pseudonym=subject.pseudonym if subject else None)
    session.add(row)
    session.flush()
    return row, secret


def open_link(session: Session, secret: str, *, kind: str | tuple[str, ...], keys: KeyRing,
              witness_dir: Path, now: datetime) -> OneTimeLink:
    """The unused, unexpired link of ``kind`` (or of one of those kinds) behind ``secret``, or
    :class:`LinkInvalid` (:func:`unspent`). A
    secret whose id part cannot be an id (a NUL, which PostgreSQL refuses in any text) names no
    link and is never looked up."""
    link_id = secret.removeprefix(LINK_PREFIX).partition(".")[0]
    row = session.get(OneTimeLink, link_id) if is_identifier(link_id) else None
    if row is not None:
        subject = session.get(Subject, row.subject_id) if row.subject_id is not None else None
        digest = _link_digest(keys, secret, row,
                              pseudonym=subject.pseudonym if subject is not None else None)
        if (not secrets.compare_digest(row.secret_hash, digest)
                or row.kind not in ((kind,) if isinstance(kind, str) else kind)):
            row = None
    return unspent(row, witness_dir=witness_dir, now=now)


def _link_digest(keys: KeyRing, secret: str, link: OneTimeLink, *,
                 pseudonym: str | None) -> str:
    """The keyed hash a link's row keeps: of its secret and of what the link opens, its kind,
    its subject (by pseudonym: a row moved to another subject's id is another subject's), the
    capacity a passkey registered on it gets, its details (a probe's image, purpose and
    researcher; an admin passkey's key), and when it was made and ends. Whoever writes the
    database alone, without the key store's HMAC key, could otherwise point a link the desk
    handed out at another subject or capacity and register a passkey there, give it a longer
    life, or date it after a witness folder was taken up (:func:`unspent`); so changed, the link
    opens nothing."""
    opens = {"secret": secret, "kind": link.kind, "subject": pseudonym,
             "capacity": link.capacity, "details": link.details,
             "createdAt": link.created_at.astimezone(UTC).isoformat(),
             "expiresAt": link.expires_at.astimezone(UTC).isoformat()}
    return keys.keyed_hash(canonical_json(opens).decode(), domain=LINK_HASH_DOMAIN)


def unspent(link: OneTimeLink | None, *, witness_dir: Path, now: datetime) -> OneTimeLink:
    """``link`` if it exists, unused and unexpired, else :class:`LinkInvalid`: the one rule for
    opening a link and for the ceremony that uses it up. Used is its row's mark or, whatever
    the row says, its mark in the witness folder (:func:`use_up`); and a link made before the
    witness folder was taken up in place of a lost one may have been marked in the lost one
    only (:func:`consent.spent_marks.issued_before_marks`, by the time its keyed hash binds)."""
    if (link is None or link.used_at is not None or link.expires_at <= now
            or spent_marks.marked(witness_dir, spent_marks.link(link.id))
            or spent_marks.issued_before_marks(witness_dir, link.created_at)):
        raise LinkInvalid("this link is unknown, used or expired; ask for a new one")
    return link


def use_up(session: Session, link: OneTimeLink, *, witness_dir: Path, now: datetime,
           voided: Collection[str] = ()) -> None:
    """Mark ``link`` used, in its row and, as the transaction commits, in the witness folder
    (:func:`consent.spent_marks.claim_on_commit`: a link marked meanwhile refuses the act), and
    the ``voided`` links beside it too (their rows are the caller's): whoever clears a row
    then reopens no link."""
    link.used_at = now
    spent_marks.claim_on_commit(
        session, witness_dir, spent_marks.link(link.id), what=f"link {link.id}",
        used_already=LinkInvalid("this link was used meanwhile; ask for a new one"))
    for sibling in voided:
        spent_marks.claim_on_commit(session, witness_dir, spent_marks.link(sibling),
                                    what=f"link {sibling}", used_already=None)


# Ceremonies -----------------------------------------------------------------------------------
def _ceremony(session: Session, *, kind: str, challenge: bytes, subject_id: int | None,
              statement: dict[str, Any] | None, link_id: str | None, now: datetime,
              settings: ConsentSettings) -> Ceremony:
    row = Ceremony(id=_new_id("cer"), kind=kind, subject_id=subject_id, link_id=link_id,
                   challenge=b64url(challenge), statement=statement, created_at=now,
                   expires_at=now + timedelta(seconds=settings.challenge_seconds))
    session.add(row)
    session.flush()
    return row


def take_ceremony(session: Session, ceremony_id: str, *, kind: str, now: datetime,
                  subject_id: int | None = None) -> Ceremony:
    """Mark the ceremony used, or :class:`ChallengeInvalid`: single use, once the transaction
    that takes it commits. A refusal later in that transaction rolls the mark back with
    everything else, so the same challenge may be answered again until it expires
    (``challenge_seconds``): a retry gains nothing, since only the passkey's private key can
    sign it. As it commits, the challenge is marked answered in the witness folder, and a
    challenge marked there is refused whatever its row says (:mod:`consent.spent_marks`:
    the row's mark is the database's writer's to clear). Once it commits, the act under way
    signs the log's head into the witness folder before it answers
    (:func:`consent.spends.spent_on_commit`), as every single-use right's: a copy of the
    ledger loaded later, holding the challenge unused, is then found and voided before the
    same assertion can act again.

    Raises:
        RuntimeError: no act is under way (:func:`consent.spends.current`).
    """
    spend = spends.current()
    row = session.get(Ceremony, ceremony_id)
    if (row is None or row.kind != kind or row.used_at is not None or row.expires_at <= now
            or (subject_id is not None and row.subject_id != subject_id)
            # The row's kind is the database's; the act signed is the statement's (its hash is
            # the challenge): a signed withdrawal relabelled an erasure is for another act.
            or (row.statement is not None and row.statement.get("act") != kind)
            or spent_marks.used(spend.witness_dir, _answered(row), issued_at=_signed_at(row))):
        raise ChallengeInvalid(f"challenge {ceremony_id} is unknown, used, expired or for "
                               "another act", details={"ceremony_id": ceremony_id})
    row.used_at = now
    ending = ends_processing(row.statement)
    spent_marks.claim_on_commit(
        session, spend.witness_dir, _answered(row), what=f"challenge {ceremony_id}",
        used_already=ChallengeInvalid(f"challenge {ceremony_id} was answered already",
                                      details={"ceremony_id": ceremony_id}),
        ends_processing=ending)
    spends.spent_on_commit(session, spend, ends_processing=ending)
    return row


def _signed_at(ceremony: Ceremony) -> datetime | None:
    """When the person's device was asked to sign ``ceremony``, as its statement binds (the
    earliest instant where the statement names none: not ours); None for a registration,
    whose random challenge binds no time."""
    if ceremony.statement is None:
        return None
    return issued_at(ceremony.statement) or datetime.min.replace(tzinfo=UTC)


def _answered(ceremony: Ceremony) -> bytes:
    """What the witness folder's mark of ``ceremony``, once answered, names: the challenge the
    person's device signed (:mod:`consent.spent_marks`)."""
    return spent_marks.challenge(_signed_challenge(ceremony))


def forget_spent_challenges(session: Session, *, now: datetime,
                            keep_used: Collection[str]) -> int:
    """Delete every one-time link and every ceremony that is used or expired, except the used
    ceremonies of the kinds in ``keep_used``; how many rows went. Run by the sweep.

    A spent one can open or sign nothing more, and what it held is in the receipts and the
    audit log already: kept, links and challenges would only grow, naming pseudonyms, probe
    hashes and researcher keys. A used capture session is the exception the sweep names: its
    evidence is the person's approval of the photo enrolled (:mod:`consent.proof_retention`
    ends it with its consent's proof).
    """
    return rows_deleted(
        session,
        delete(OneTimeLink).where(or_(OneTimeLink.used_at.is_not(None),
                                      OneTimeLink.expires_at <= now)),
        delete(Ceremony).where(
            or_(Ceremony.used_at.is_not(None), Ceremony.expires_at <= now),
            ~(Ceremony.kind.in_(list(keep_used)) & Ceremony.used_at.is_not(None))))


def _options_json(options: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return parsed


def _origins(settings: ConsentSettings, origin: str) -> bool:
    if settings.passkey_origins:
        return origin in settings.passkey_origins
    if settings.passkey_rp_id == "localhost":
        return bool(_LOCALHOST.fullmatch(origin))
    return origin == f"https://{settings.passkey_rp_id}"


def _client_origin(response: dict[str, Any]) -> str:
    try:
        client_data = json.loads(from_b64url(response["response"]["clientDataJSON"]))
        return str(client_data["origin"])
    except (KeyError, TypeError, ValueError) as error:
        raise PasskeyInvalid("the WebAuthn response has no readable clientDataJSON") from error


def _service_origin(response: dict[str, Any], settings: ConsentSettings) -> str:
    """The origin the browser reports for ``response``, once it is known to be this service's."""
    origin = _client_origin(response)
    if not _origins(settings, origin):
        raise PasskeyInvalid(f"origin {origin} is not this service's")
    return origin


_MALFORMED = (InvalidJSONStructure, InvalidCBORData, ValueError, KeyError, TypeError)
"""What py_webauthn raises for a malformed response, beside its ``Invalid...Response``."""


def _expected(ceremony: Ceremony, response: dict[str, Any], origin: str,
              settings: ConsentSettings) -> dict[str, Any]:
    """What every ceremony checks, registration and assertion alike: its own challenge, this
    relying party, this service's origin, and the person verified on their device."""
    return {"credential": response, "expected_challenge": _signed_challenge(ceremony),
            "expected_rp_id": settings.passkey_rp_id, "expected_origin": origin,
            "require_user_verification": True}


def _signed_challenge(ceremony: Ceremony) -> bytes:
    """The challenge the person's device must have signed: a statement's hash, computed again
    from the statement the act is about to carry out, never read from the row's challenge
    column. Whoever writes the database alone could otherwise edit a statement under its
    challenge (other purposes, an ``issuedAt`` moved to pass :func:`require_signed_recently`
    with a receipt's kept answer: a consent withdrawn since made again) and the answer would
    still verify; so edited, it verifies against nothing. A challenge that asks no statement
    (a registration's) is the random one the row keeps."""
    if ceremony.statement is not None:
        return challenge_for(ceremony.statement)
    return from_b64url(ceremony.challenge)


# Registration ---------------------------------------------------------------------------------
def registration_options(session: Session, link: OneTimeLink, *, user_name: str,
                         settings: ConsentSettings, now: datetime) -> tuple[Ceremony,
                                                                            dict[str, Any]]:
    """A single-use registration ceremony for ``link`` and its ``navigator.credentials.create``
    options.

    User verification is required, so the device's PIN or biometric shows that the holder
    acted; a resident key is preferred, so sign-in can later be discoverable. The user handle
    is random, never the subject's id, and the subject's existing credentials are excluded so
    one authenticator is not registered twice.
    """
    existing = session.scalars(select(PasskeyCredential.id).where(
        PasskeyCredential.subject_id == link.subject_id)).all() if link.subject_id else []
    options = generate_registration_options(
        rp_id=settings.passkey_rp_id, rp_name=settings.passkey_rp_name, user_name=user_name,
        user_id=secrets.token_bytes(16),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=from_b64url(c)) for c in existing],
    )
    ceremony = _ceremony(session, kind=REGISTER, challenge=options.challenge,
                         subject_id=link.subject_id, statement=None, link_id=link.id, now=now,
                         settings=settings)
    return ceremony, _options_json(options)


def register(session: Session, ceremony_id: str, response: dict[str, Any], *, kind: str,
             keys: KeyRing, settings: ConsentSettings,
             now: datetime) -> tuple[PasskeyCredential, OneTimeLink]:
    """Verify a registration on a link of ``kind`` and store the credential; the link is used
    up, and with it every other unused link of its kind for the same subject and capacity. A
    link of another kind is refused before anything is stored: each route completes only its
    own (a person's route, never an admin key's registration).

    A link that names a subject registers only while that subject has no passkey of the link's
    capacity, checked here, in the registration's own (serialised) transaction: a second link
    obtained before the person registered (kept by whoever asked for it, or raced against the
    person's) can never add a credential that acts in their name. The person who lost theirs
    is not locked out: a new link is issued while none of that capacity is registered.

    The credential is sealed (:mod:`consent.row_seals`): only a passkey registered here signs.
    """
    ceremony = take_ceremony(session, ceremony_id, kind=REGISTER, now=now)
    link = session.get(OneTimeLink, ceremony.link_id or "")
    if link is not None and link.kind != kind:
        raise ChallengeInvalid(f"challenge {ceremony_id} is for another act",
                               details={"ceremony_id": ceremony_id})
    if link is not None and link.subject_id is not None:
        _require_none_registered(session, link, keys=keys)
    witness_dir = settings.witness_dir
    link = unspent(link, witness_dir=witness_dir, now=now)
    origin = _service_origin(response, settings)
    try:
        verified = verify_registration_response(
            **_expected(ceremony, response, origin, settings))
    except (InvalidRegistrationResponse, *_MALFORMED) as error:
        raise PasskeyInvalid(f"the passkey registration does not verify: {error}") from error
    if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
        raise PasskeyInvalid(f"the credential id is longer than WebAuthn allows"
                             f" ({MAX_CREDENTIAL_ID_BYTES} bytes)")
    credential = PasskeyCredential(
        id=b64url(verified.credential_id), subject_id=link.subject_id, capacity=link.capacity,
        public_key=verified.credential_public_key, sign_count=verified.sign_count,
        created_at=now)
    row_seals.seal_passkey(keys, session, credential)
    session.add(credential)
    voided = _void_siblings(session, link, now=now) if link.subject_id is not None else []
    use_up(session, link, witness_dir=witness_dir, now=now, voided=voided)
    session.flush()
    return credential, link


def _require_none_registered(session: Session, link: OneTimeLink, *, keys: KeyRing) -> None:
    """:class:`AlreadyRegistered` if the link's subject holds a passkey of its capacity."""
    subject = session.get(Subject, link.subject_id)
    if subject is not None and holds_passkey(session, subject, capacity=link.capacity,
                                             keys=keys):
        raise AlreadyRegistered(f"a {link.capacity} passkey is registered for this subject"
                                " already; this link can add no other",
                                details={"capacity": link.capacity})


def _void_siblings(session: Session, link: OneTimeLink, *, now: datetime) -> list[str]:
    """Mark used every other unused link for the same subject, kind and capacity, and say
    which: once one registered, the others would only be refused, and a spent link opens
    nothing."""
    siblings = list(session.scalars(select(OneTimeLink.id).where(
        OneTimeLink.subject_id == link.subject_id, OneTimeLink.kind == link.kind,
        OneTimeLink.capacity == link.capacity, OneTimeLink.id != link.id,
        OneTimeLink.used_at.is_(None))))
    if siblings:
        session.execute(update(OneTimeLink).where(OneTimeLink.id.in_(siblings))
                        .values(used_at=now))
    return siblings


# Assertions: sign-in and signed acts ----------------------------------------------------------
def assertion_options(
    session: Session, *, statement: dict[str, Any], credentials: list[PasskeyCredential],
    subject_id: int | None, settings: ConsentSettings, now: datetime,
    link_id: str | None = None,
) -> tuple[Ceremony, dict[str, Any]]:
    """A challenge: the hash of the statement signed (:func:`issued` begins every one), a
    sign-in's included; its kind, the act the statement names (:func:`take_ceremony` takes it
    for that act alone)."""
    challenge = challenge_for(statement)
    kind = statement["act"]
    options = generate_authentication_options(
        rp_id=settings.passkey_rp_id, challenge=challenge,
        allow_credentials=[PublicKeyCredentialDescriptor(id=from_b64url(c.id))
                           for c in credentials],
        user_verification=UserVerificationRequirement.REQUIRED)
    ceremony = _ceremony(session, kind=kind, challenge=challenge, subject_id=subject_id,
                         statement=statement, link_id=link_id, now=now, settings=settings)
    return ceremony, _options_json(options)


@dataclass(frozen=True)
class Signed:
    """A verified assertion: which credential, and the evidence to embed in a receipt."""

    ceremony: Ceremony
    credential: PasskeyCredential
    evidence: dict[str, Any]


def verify_assertion(
    session: Session, ceremony: Ceremony, response: dict[str, Any], *,
    allowed: list[PasskeyCredential], keys: KeyRing, settings: ConsentSettings,
) -> Signed:
    """Check ``response`` against the (already taken) ceremony and one of ``allowed``, whose
    seal must hold (:class:`PasskeyUnsealed` otherwise: a row the service never registered)."""
    by_id = {c.id: c for c in allowed}
    credential = by_id.get(str(response.get("id", "")))
    if credential is None:
        raise PasskeyInvalid("this passkey is not one allowed for this act")
    row_seals.require_sealed_passkey(keys, session, credential)
    origin = _service_origin(response, settings)
    try:
        verified = verify_authentication_response(
            **_expected(ceremony, response, origin, settings),
            credential_public_key=credential.public_key,
            credential_current_sign_count=credential.sign_count)
    except (InvalidAuthenticationResponse, *_MALFORMED) as error:
        raise PasskeyInvalid(f"the passkey assertion does not verify: {error}") from error
    credential.sign_count = verified.new_sign_count
    require_signed_recently(ceremony.statement, at=ceremony.used_at, ceremony_id=ceremony.id,
                            settings=settings)
    evidence = {
        "statement": ceremony.statement,
        "assertion": response,
        "credentialId": credential.id,
        "credentialPublicKey": b64url(credential.public_key),
        "capacity": credential.capacity,
        "rpId": settings.passkey_rp_id,
        "origin": origin,
    }
    return Signed(ceremony=ceremony, credential=credential, evidence=evidence)


def require_signed_recently(statement: dict[str, Any] | None, *, at: datetime | None,
                            ceremony_id: str, settings: ConsentSettings) -> None:
    """Refuse a statement signed longer before ``at`` than a challenge lives
    (``challenge_seconds``).

    The challenge row's use mark, its expiry and the passkey's sign count are the database's:
    whoever writes it alone can clear them, then post again a person's answer that a receipt
    keeps (a consent withdrawn since comes back), or use again a photo the person approved
    (:mod:`consent.captures`). The statement's ``issuedAt`` is not theirs to move: its hash is
    the challenge the person's device signed. So a stored answer is refused once its statement
    is older than any challenge may be, whatever the row says. ``at``: when
    :func:`take_ceremony` took the challenge (now), or when an approved capture is used."""
    asked_at = issued_at(statement)
    # Every statement carries one (:func:`issued`): one without is not ours.
    age = timedelta.max if asked_at is None or at is None else at - asked_at
    if age > timedelta(seconds=settings.challenge_seconds):  # a worker's clock a little behind
        # another's makes the age negative: harmless, no one can sign a statement to come
        raise ChallengeInvalid(f"challenge {ceremony_id} was signed"
                               f" {(statement or {}).get('issuedAt')}: longer ago than a"
                               " challenge lives", details={"ceremony_id": ceremony_id})


def issued_at(statement: dict[str, Any] | None) -> datetime | None:
    """When ``statement`` was asked, as it says (:func:`issued`): the time its signature
    binds; None where it names no time with its zone."""
    asked_at = (statement or {}).get("issuedAt")
    if not isinstance(asked_at, str):
        return None
    try:
        asked = datetime.fromisoformat(asked_at)
    except ValueError:
        return None
    return None if asked.tzinfo is None else asked


def audit_reference(keys: KeyRing, credential: PasskeyCredential | str) -> str:
    """How the audit log names a passkey: a keyed hash of its credential id, never the id.

    An auditor can still follow one passkey from its registration to every act it signed. But
    the log outlives an erasure, and the credential id is what the person's authenticator
    presents at every sign-in: in the clear, it would lead whoever reads the log and sees that
    id back to the erased pseudonym's events. Hashed, it leads nowhere without the key store's
    HMAC key, as the erased credentials' own hashes (:mod:`consent.after_erasure`).
    ``credential``: the row, or its id."""
    credential_id = credential if isinstance(credential, str) else credential.id
    return keys.keyed_hash(credential_id, domain=AUDIT_HASH_DOMAIN)


def verify_evidence(evidence: dict[str, Any]) -> bool:
    """Offline: does the embedded assertion sign this statement with this public key?

    Recomputes the challenge from the statement, so an edited statement (other purposes,
    another expiry, another pseudonym) fails, as does any other key or relying party.
    """
    try:
        statement = evidence["statement"]
        assertion = evidence["assertion"]
        if assertion.get("id") != evidence["credentialId"]:
            return False
        verify_authentication_response(
            credential=assertion, expected_challenge=challenge_for(statement),
            expected_rp_id=evidence["rpId"], expected_origin=evidence["origin"],
            credential_public_key=from_b64url(evidence["credentialPublicKey"]),
            credential_current_sign_count=0, require_user_verification=True)
    except (InvalidAuthenticationResponse, *_MALFORMED, AttributeError):
        return False
    return True


def holds_passkey(session: Session, subject: Subject, *, capacity: str, keys: KeyRing) -> bool:
    """Whether ``subject`` holds a passkey of ``capacity`` that can sign (sealed): one planted
    in the database neither signs nor keeps the person from registering their own."""
    return any(row_seals.passkey_sealed(keys, session, credential)
               for credential in credentials_of(session, subject, capacity=capacity))


def credentials_of(session: Session, subject: Subject, *,
                   capacity: str | None = None) -> list[PasskeyCredential]:
    query = select(PasskeyCredential).where(PasskeyCredential.subject_id == subject.id)
    if capacity is not None:
        query = query.where(PasskeyCredential.capacity == capacity)
    return list(session.scalars(query.order_by(PasskeyCredential.created_at)))

"""A second factor for admin keys: one passkey per key, and the short step-ups it signs.

An admin API key is a bearer secret: whoever copies it acts as the admin from anywhere. With
``admin_mfa`` on, every act of an admin key (:data:`STEP_UP_ACTS`, read from the permission
table) also needs a *step-up token* for the same key, which only a signature by
that key's own passkey obtains (WebAuthn, user verification required): a copied key alone no
longer does them. The token is short-lived (``step_up_minutes``), one per key at a time, and
kept as a keyed hash, as the keys are.

The passkey ceremonies are the people's own (:mod:`consent.passkeys`). What a copied key and
its step-up token (two headers of one request) could otherwise turn into lasting control is
held back by signatures the copy cannot make:

- a key's first passkey is registered on a one-time link the operator issues on the command
  line (:func:`issue_link`, ``optinface keys admin-passkey-link``), the operator's own access
  as break-glass is: a copied key alone never binds its thief's passkey, before or after its
  owner registers; the same link replaces a passkey lost;
- replacing the passkey over the API needs a fresh assertion by the *current* passkey of a
  statement naming the act, the key and the new registration's ceremony, checked in the
  registration's own transaction: a step-up token does not do it;
- a new admin key is made only on the command line while ``admin_mfa`` is on;
- the passkey routes are closed while it is off, so nothing is bound before the operator
  turns it on;
- each binding is journaled in the witness folder, so a restored copy binds it again;
- the binding row, with its step-up's keyed hash and expiry, carries a seal only the service
  makes (:func:`consent.row_seals.seal_admin_passkey`, at every write) and names a passkey
  registered as an admin's (its sealed capacity): a row written by SQL, binding a person's
  passkey or moving a step-up's expiry, grants nothing (``passkey_unsealed``), so neither a
  planted passkey nor a captured token revived in the database steps a key up.

The step-up's lifetime is sealed with the binding rather than written into a self-describing
token: the token stays a random secret kept as a keyed hash, one per key, and the one seal
already checked at every use covers its hash and expiry, so an expiry moved by SQL breaks the
seal (the binding then grants nothing until the key registers again on the operator's link) and
a row copied back from earlier carries its own, earlier, expiry.

What it does not cover, on purpose: a break-glass key (:func:`consent.break_glass.is_break_glass`),
whose controls are its expiry and the witness; the command line, which acts in process with the
data directory and the key store (the operator's own access); and, for as long as a step-up
lasts, the other admin-only acts a copied key and token do (keys revoked, purposes changed).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from optinface.consent import apikeys, erasure_journal, passkeys, row_seals
from optinface.consent.audit import AuditAction, Entry, log_time
from optinface.consent.break_glass import is_break_glass
from optinface.consent.errors import (
    ChallengeInvalid,
    Forbidden,
    LinkInvalid,
    NotFound,
    PasskeyInvalid,
    SecondFactorOff,
    SecondFactorRequired,
)
from optinface.consent.identifiers import is_identifier
from optinface.consent.keys import KeyRing
from optinface.consent.roles import PERMISSIONS, Actor, Permission, Role
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    AdminPasskeyAsk,
    AdminPasskeyChallenge,
    AdminPasskeyLink,
    AdminPasskeyRegistered,
    AdminPasskeyResponse,
    PasskeyChallenge,
    PasskeyResponse,
    StepUp,
)
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import (
    AdminPasskey,
    ApiKey,
    AuditEvent,
    Ceremony,
    OneTimeLink,
    PasskeyCredential,
)

logger = logging.getLogger(__name__)

ADMIN_PASSKEY = row_seals.ADMIN_CAPACITY
"""The kind of the one-time link a registration rides on, and the passkey's capacity."""
STEP_UP = "admin_step_up"
"""The ceremony kind, and the act its statement names."""
REPLACE = "admin_replace"
"""The ceremony kind (a column of 20 characters) and the act named by the statement with which
a key's current passkey approves its replacement."""
STEP_UP_PREFIX = "stu_"
STEP_UP_HASH_DOMAIN = "step-up"

STEP_UP_ACTS: frozenset[Permission] = frozenset(PERMISSIONS[Role.ADMIN]
                                                - {Permission.SECOND_FACTOR})
"""Everything an admin key may do, from the permission table, but obtaining its second factor
(the passkey's own acts are how a step-up is obtained): an admin key alone reads nothing and
changes nothing, not even what another role may do with its own key (an erasure, an export of
a person's record, the log), since the copied key is the admin's. Other roles' keys need no
step-up for the same acts."""


class Problem(StrEnum):
    """Why a second factor is refused: ``details.problem`` of ``second_factor_required``."""

    NO_PASSKEY = "no_passkey"
    NO_STEP_UP = "no_step_up"
    STEP_UP_WRONG = "step_up_wrong"
    STEP_UP_EXPIRED = "step_up_expired"
    NO_APPROVAL = "no_approval"
    PASSKEY_UNSEALED = "passkey_unsealed"


def needs_step_up(settings: ConsentSettings, actor: Actor, permission: Permission) -> bool:
    """Whether ``actor`` needs a step-up for ``permission``, without reading the ledger: so
    every other request (a search, a reviewer's read) costs nothing."""
    return settings.admin_mfa and actor.role is Role.ADMIN and permission in STEP_UP_ACTS


def require_on(settings: ConsentSettings) -> None:
    """Refuse (``second_factor_off``) the passkey's own acts while ``admin_mfa`` is off: a
    step-up would open nothing, and a passkey bound meanwhile, perhaps by a thief's copy of the
    key, would be the one the setting trusts once on."""
    if not settings.admin_mfa:
        raise SecondFactorOff("OPTINFACE_ADMIN_MFA is off: admin keys have no second factor"
                              " here")


def require_operator_for_admin_key(settings: ConsentSettings, role: Role) -> None:
    """Refuse (``forbidden``) a new admin key over the API where ``admin_mfa`` is on: a key and
    its step-up copied together would otherwise mint a lasting admin; the operator's command
    line (``optinface keys create --role admin``) makes it."""
    if settings.admin_mfa and role is Role.ADMIN:
        raise Forbidden("with OPTINFACE_ADMIN_MFA on, an admin key is made by the operator's"
                        " command line (optinface keys create --role admin), not over the API")


def _unsealed(runtime: Runtime, factor: AdminPasskey) -> bool:
    """Whether ``factor`` carries no valid seal (written or edited without the key store): it
    grants nothing, and is said once (:func:`_say_once`)."""
    if row_seals.admin_passkey_sealed(runtime.keys, factor):
        return False
    _say_once(runtime, factor, "carries no valid seal (written or edited in the database"
                               " without the key store)")
    return True


def _say_once(runtime: Runtime, factor: AdminPasskey, why: str) -> None:
    """Log as an error, once per process for each such row, a binding that grants nothing."""
    runtime.error_once(logger, ("admin binding", factor.api_key_id, factor.seal),
                       "admin key %s: its passkey binding %s: it grants no second factor; the"
                       " key registers its passkey again on the operator's link",
                       factor.api_key_id, why)


def _problem(factor: AdminPasskey | None, token: str | None, *, runtime: Runtime,
             now: datetime) -> Problem | None:
    """Why ``token`` does not stand for the key of ``factor`` now, or None when it does: the
    binding's seal first, since it covers the step-up's hash and expiry."""
    if factor is None:
        return Problem.NO_PASSKEY
    if _unsealed(runtime, factor):
        return Problem.PASSKEY_UNSEALED
    if not token:
        return Problem.NO_STEP_UP
    digest = runtime.keys.keyed_hash(token, domain=STEP_UP_HASH_DOMAIN)
    if factor.step_up_hash is None or not hmac.compare_digest(factor.step_up_hash, digest):
        return Problem.STEP_UP_WRONG
    if factor.step_up_expires_at is None or factor.step_up_expires_at <= now:
        return Problem.STEP_UP_EXPIRED
    return None


_ADVICE = {
    Problem.NO_PASSKEY: "ask the operator for this key's passkey link (optinface keys"
                        " admin-passkey-link KEY_ID), register it, then step up",
    Problem.NO_APPROVAL: "sign the approval of POST /v1/admin/passkey/options with this key's"
                         " current passkey, or ask the operator for a link",
    Problem.PASSKEY_UNSEALED: "this key's passkey was not bound by this service; ask the"
                              " operator for this key's passkey link (optinface keys"
                              " admin-passkey-link KEY_ID) and register it again",
}
_STEP_UP_ADVICE = ("step up with this key's passkey (POST /v1/admin/step-up) and send the token"
                   " in X-OptinFace-Step-Up")


def _refuse(problem: Problem) -> SecondFactorRequired:
    return SecondFactorRequired(
        f"this admin act needs this key's second factor ({problem}): "
        f"{_ADVICE.get(problem, _STEP_UP_ADVICE)}", details={"problem": str(problem)})


@contextmanager
def _tallied(runtime: Runtime, actor: Actor) -> Iterator[None]:
    """Refusals of the second factor are tallied with the failed authentications (one
    ``login_failure`` event per window), after their transaction has rolled back."""
    try:
        yield
    except SecondFactorRequired as refusal:
        apikeys.tally_failure(runtime, reason=f"second_factor:{refusal.details['problem']}",
                              key_id=actor.key_id)
        raise
    except (PasskeyInvalid, ChallengeInvalid, LinkInvalid) as refusal:
        apikeys.tally_failure(runtime, reason=f"second_factor:{refusal.code}",
                              key_id=actor.key_id)
        raise


def require_step_up(runtime: Runtime, actor: Actor, permission: Permission,
                    token: str | None) -> None:
    """Refuse (:class:`SecondFactorRequired`, tallied) an admin-only act of ``actor`` that
    ``token`` does not step up, where ``admin_mfa`` is on; a break-glass key is exempt."""
    if not needs_step_up(runtime.settings, actor, permission):
        return
    with _tallied(runtime, actor):
        with runtime.db.reading() as session:
            problem = _problem(session.get(AdminPasskey, actor.key_id), token,
                               runtime=runtime, now=runtime.clock.now())
            if problem is None:
                return
            key = session.get(ApiKey, actor.key_id)  # read only when it would be refused
            if key is not None and is_break_glass(runtime.keys, key):
                return
        raise _refuse(problem)


def issue_link(runtime: Runtime, *, key_id: str) -> AdminPasskeyLink:
    """The operator's one-time link (:data:`ADMIN_PASSKEY`) with which the admin key
    ``key_id`` registers a passkey: its first, or one replacing a passkey lost. The command
    line's act, never the API's: so a copied key alone never binds its thief's passkey, before
    or after its owner registered. Audited without the secret."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        key = session.get(ApiKey, key_id) if is_identifier(key_id) else None
        if (key is None or key.revoked_at is not None or key.role != Role.ADMIN
                or is_break_glass(runtime.keys, key)
                or (key.expires_at is not None and key.expires_at <= now)):
            raise NotFound(f"no admin key {key_id} in force (a break-glass key takes none)",
                           details={"key_id": key_id})
        link, secret = _new_link(session, runtime, key_id=key_id, created_by=None, now=now)
        runtime.audit(session, Entry(action=AuditAction.ADMIN_PASSKEY_LINK_ISSUED, actor=None,
                                     details={"key_id": key_id}))
        return AdminPasskeyLink(key_id=key_id, secret=secret, expires_at=link.expires_at)


def _new_link(session: Session, runtime: Runtime, *, key_id: str, created_by: str | None,
              now: datetime) -> tuple[OneTimeLink, str]:
    return passkeys.new_link(
        session, kind=ADMIN_PASSKEY, subject=None, capacity=ADMIN_PASSKEY,
        details={"key_id": key_id}, created_by=created_by, keys=runtime.keys, now=now,
        minutes=runtime.settings.enrolment_link_minutes)


def registration_options(runtime: Runtime, *, actor: Actor,
                         body: AdminPasskeyAsk) -> AdminPasskeyChallenge:
    """The creation options of a passkey for ``actor``'s key: on the operator's link
    (``body.link``), or, to replace the key's passkey, with the challenge its current passkey
    signs to approve the replacement (``approval``)."""
    now = runtime.clock.now()
    with _tallied(runtime, actor), runtime.db.transaction() as session:
        approver: PasskeyCredential | None = None
        if body.link is not None:
            link = passkeys.open_link(session, body.link, kind=ADMIN_PASSKEY, keys=runtime.keys,
                                      witness_dir=runtime.settings.witness_dir, now=now)
            if _key_of(link) != actor.key_id:
                raise LinkInvalid("this link is unknown, used or expired; ask for a new one")
        else:
            _, approver = _passkey_of(session, runtime, actor)
            link, _ = _new_link(session, runtime, key_id=actor.key_id,
                                created_by=actor.key_id, now=now)
        ceremony, options = passkeys.registration_options(
            session, link, user_name=f"admin key {actor.key_id}", settings=runtime.settings,
            now=now)
        approval = None
        if approver is not None:
            statement = {**passkeys.issued(REPLACE, now), "key_id": actor.key_id,
                         "ceremony_id": ceremony.id}
            asked, asked_options = passkeys.assertion_options(
                session, statement=statement, credentials=[approver],
                subject_id=None, settings=runtime.settings, now=now)
            approval = PasskeyChallenge(ceremony_id=asked.id, options=asked_options,
                                        statement=statement)
        return AdminPasskeyChallenge(ceremony_id=ceremony.id, options=options,
                                     approval=approval)


def _key_of(link: OneTimeLink | None) -> str | None:
    """The admin key a link of :data:`ADMIN_PASSKEY` registers for."""
    if link is None or link.kind != ADMIN_PASSKEY:
        return None
    return str((link.details or {}).get("key_id", "")) or None


def _approve(session: Session, runtime: Runtime, actor: Actor, body: AdminPasskeyResponse,
             now: datetime) -> None:
    """Refuse a replacement on the key's own link that its current passkey did not approve,
    by signing a statement naming this act, this key and this registration's ceremony."""
    _, current = _passkey_of(session, runtime, actor)
    if body.approval is None:
        raise _refuse(Problem.NO_APPROVAL)
    ceremony = passkeys.take_ceremony(session, body.approval.ceremony_id, kind=REPLACE, now=now)
    statement = ceremony.statement or {}
    if (statement.get("key_id"), statement.get("ceremony_id")) != (actor.key_id,
                                                                   body.ceremony_id):
        raise ChallengeInvalid(f"challenge {ceremony.id} approves another registration",
                               details={"ceremony_id": ceremony.id})
    passkeys.verify_assertion(session, ceremony, body.approval.credential, allowed=[current],
                              keys=runtime.keys, settings=runtime.settings)


def register(runtime: Runtime, *, actor: Actor,
             body: AdminPasskeyResponse) -> AdminPasskeyRegistered:
    """Verify the registration and bind the passkey to ``actor``'s key, replacing its earlier
    one, whose step-up ends with it: on the operator's link, or on the key's own with its
    current passkey's approval, both checked before the credential is stored. Journaled in the
    witness folder before it commits, so a restored copy binds it again
    (:func:`bind_again`); audited without any secret."""
    now = runtime.clock.now()
    with _tallied(runtime, actor), runtime.db.transaction() as session:
        ceremony = session.get(Ceremony, body.ceremony_id)
        link = session.get(OneTimeLink, ceremony.link_id or "") if ceremony else None
        if link is None or _key_of(link) != actor.key_id:
            raise ChallengeInvalid(f"challenge {body.ceremony_id} is for another act",
                                   details={"ceremony_id": body.ceremony_id})
        if link.created_by is not None:  # the key's own link, not the operator's
            _approve(session, runtime, actor, body, now)
        credential, _ = passkeys.register(session, body.ceremony_id, body.credential,
                                          kind=ADMIN_PASSKEY, keys=runtime.keys,
                                          settings=runtime.settings, now=now)
        replaced = _bind(session, runtime.keys, key_id=actor.key_id, credential=credential,
                         now=now)
        erasure_journal.record(runtime, erasure_journal.AdminPasskeyBound(
            key_id=actor.key_id, credential_id=credential.id,
            public_key=passkeys.b64url(credential.public_key), at=now))
        runtime.audit(session, Entry(
            action=AuditAction.ADMIN_PASSKEY_REGISTERED, actor=actor,
            details={"credential_hash": passkeys.audit_reference(runtime.keys, credential),
                     "replaced": replaced}))
        registered = AdminPasskeyRegistered(key_id=actor.key_id, credential_id=credential.id,
                                            registered_at=now, replaced=replaced)
    return registered


def _bind(session: Session, keys: KeyRing, *, key_id: str, credential: PasskeyCredential,
          now: datetime) -> bool:
    """Make ``credential`` the key's one passkey, its earlier one and step-up gone, sealed;
    whether it replaced one."""
    factor = session.get(AdminPasskey, key_id)
    if factor is None:
        factor = AdminPasskey(api_key_id=key_id, credential_id=credential.id, registered_at=now)
        row_seals.seal_admin_passkey(keys, factor)
        session.add(factor)
        return False
    earlier = factor.credential_id
    factor.credential_id, factor.registered_at = credential.id, now
    factor.step_up_hash = factor.step_up_expires_at = None
    row_seals.seal_admin_passkey(keys, factor)
    session.flush()
    session.execute(delete(PasskeyCredential).where(  # never a person's, bound by SQL
        PasskeyCredential.id == earlier, PasskeyCredential.capacity == ADMIN_PASSKEY,
        PasskeyCredential.subject_id.is_(None)))
    return True


def bind_again(runtime: Runtime, journal: Sequence[erasure_journal.Entry],
               session: Session) -> int:
    """Bind again, in ``session``, each admin key's last passkey the journal holds where the
    database binds another or none and the log lost its registration (a copy restored from
    before it): a passkey replaced since must not open the key again. A binding whose
    registration the log still holds was removed in this very ledger (a downgrade asked to drop
    the second factor), and stays removed. How many keys; at start-up."""
    last = {entry.key_id: entry for entry in journal
            if isinstance(entry, erasure_journal.AdminPasskeyBound)}
    if not last:
        return 0
    registered = {(event.actor_key_id, event.details.get("credential_hash"))
                  for event in session.scalars(select(AuditEvent).where(
                      AuditEvent.action == str(AuditAction.ADMIN_PASSKEY_REGISTERED)))
                  if isinstance(event.details, dict)}
    bound = 0
    for key_id, entry in last.items():
        factor = session.get(AdminPasskey, key_id)
        reference = passkeys.audit_reference(runtime.keys, entry.credential_id)
        if session.get(ApiKey, key_id) is None or (key_id, reference) in registered or (
                factor is not None and (factor.credential_id == entry.credential_id
                                        or factor.registered_at > entry.at)):
            continue
        credential = session.get(PasskeyCredential, entry.credential_id)
        if credential is None:
            credential = PasskeyCredential(
                id=entry.credential_id, subject_id=None, capacity=ADMIN_PASSKEY,
                public_key=passkeys.from_b64url(entry.public_key), sign_count=0,
                created_at=entry.at)
            row_seals.seal_passkey(runtime.keys, session, credential)  # the journal's, witnessed
            session.add(credential)
            session.flush()
        _bind(session, runtime.keys, key_id=key_id, credential=credential, now=entry.at)
        bound += 1
    return bound


def _passkey_of(session: Session, runtime: Runtime,
                actor: Actor) -> tuple[AdminPasskey, PasskeyCredential]:
    """The key's binding and its passkey, to sign with: refused (``passkey_unsealed``) unless
    the service sealed the binding and the passkey is one registered as an admin's, on its own
    sealed fields (never a person's)."""
    factor = session.get(AdminPasskey, actor.key_id)
    credential = session.get(PasskeyCredential, factor.credential_id) if factor else None
    if factor is None or credential is None:
        raise _refuse(Problem.NO_PASSKEY)
    if _unsealed(runtime, factor):
        raise _refuse(Problem.PASSKEY_UNSEALED)
    if not row_seals.is_admin_kind(runtime.keys, session, credential):
        _say_once(runtime, factor, "names a passkey not registered as an admin's")
        raise _refuse(Problem.PASSKEY_UNSEALED)
    return factor, credential


def step_up_options(runtime: Runtime, *, actor: Actor) -> PasskeyChallenge:
    """A challenge for the key's passkey: the hash of a statement naming the key, with a fresh
    nonce."""
    now = runtime.clock.now()
    with _tallied(runtime, actor), runtime.db.transaction() as session:
        _, credential = _passkey_of(session, runtime, actor)
        statement = {**passkeys.issued(STEP_UP, now), "key_id": actor.key_id}
        ceremony, options = passkeys.assertion_options(
            session, statement=statement, credentials=[credential],
            subject_id=None, settings=runtime.settings, now=now)
        return PasskeyChallenge(ceremony_id=ceremony.id, options=options, statement=statement)


def step_up(runtime: Runtime, *, actor: Actor, body: PasskeyResponse) -> StepUp:
    """Verify the key's passkey signed its challenge, and issue the key's step-up token (shown
    once; the one before it ends); audited with the passkey's reference, never the token."""
    now = runtime.clock.now()
    with _tallied(runtime, actor), runtime.db.transaction() as session:
        ceremony = passkeys.take_ceremony(session, body.ceremony_id, kind=STEP_UP, now=now)
        if (ceremony.statement or {}).get("key_id") != actor.key_id:
            raise ChallengeInvalid(f"challenge {body.ceremony_id} is for another key",
                                   details={"ceremony_id": body.ceremony_id})
        factor, credential = _passkey_of(session, runtime, actor)
        passkeys.verify_assertion(session, ceremony, body.credential, allowed=[credential],
                                  keys=runtime.keys, settings=runtime.settings)
        token = STEP_UP_PREFIX + secrets.token_urlsafe(32)
        expires_at = now + timedelta(minutes=runtime.settings.step_up_minutes)
        factor.step_up_hash = runtime.keys.keyed_hash(token, domain=STEP_UP_HASH_DOMAIN)
        factor.step_up_expires_at = expires_at
        row_seals.seal_admin_passkey(runtime.keys, factor)  # the expiry: the service's alone
        runtime.audit(session, Entry(
            action=AuditAction.ADMIN_STEPPED_UP, actor=actor,
            details={"credential_hash": passkeys.audit_reference(runtime.keys, credential),
                     "expires_at": log_time(expires_at)}))
        return StepUp(step_up_token=token, expires_at=expires_at)

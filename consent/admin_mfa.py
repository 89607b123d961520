"""A second factor for admin keys: one passkey per key, and the short step-ups it signs.

An admin API key is a bearer secret: whoever copies it acts as the admin from anywhere. With
``admin_mfa`` on, every act only an admin may do (:data:`STEP_UP_ACTS`, read from the
permission table) also needs a *step-up token* for the same key, which only a signature by
that key's own passkey obtains (WebAuthn, user verification required): a copied key alone no
longer does them. The token is short-lived (``step_up_minutes``), one per key at a time, and
kept as a keyed hash, as the keys are.

The passkey ceremonies are the people's own (:mod:`consent.passkeys`): registration rides on a
one-time link made for the key, which ``passkeys.register`` checks and uses up as for a person
(its secret is never handed out: the admin key is the authority); the step-up is a signed act
whose statement names the key, with a fresh nonce so no assertion serves twice.

What it does not cover, on purpose:

- an admin key with no passkey yet may register one with the key alone (otherwise turning the
  setting on would lock every admin out), so a copied key of an admin who never registered can
  register its thief's passkey; once registered, replacing it needs a step-up;
- a break-glass key (:func:`consent.break_glass.is_break_glass`): its own controls are its
  expiry and the witness;
- the command line, which acts in process with the data directory and the key store (the
  operator's own access, like break-glass): the HTTP API is what this guards.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from optinface.consent import apikeys, passkeys
from optinface.consent.audit import AuditAction, Entry, log_time
from optinface.consent.break_glass import is_break_glass
from optinface.consent.errors import ChallengeInvalid, PasskeyInvalid, SecondFactorRequired
from optinface.consent.roles import PERMISSIONS, Actor, Permission, Role
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import (
    AdminPasskeyRegistered,
    PasskeyChallenge,
    PasskeyResponse,
    StepUp,
)
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AdminPasskey, ApiKey, PasskeyCredential

ADMIN_PASSKEY = "admin-passkey"
"""The kind of the one-time link a registration rides on, and the passkey's capacity."""
STEP_UP = "admin_step_up"
"""The ceremony kind, and the act its statement names."""
STEP_UP_PREFIX = "stu_"
STEP_UP_HASH_DOMAIN = "step-up"

STEP_UP_ACTS: frozenset[Permission] = frozenset(
    PERMISSIONS[Role.ADMIN]
    - {p for role, held in PERMISSIONS.items() if role is not Role.ADMIN for p in held}
    - {Permission.SECOND_FACTOR}
)
"""What only an admin may do, from the permission table: reads a reviewer may also do, and
what the desk or the person may do, need no step-up; the passkey's own acts are how one is
obtained."""


def needs_step_up(settings: ConsentSettings, actor: Actor, permission: Permission) -> bool:
    """Whether ``actor`` needs a step-up for ``permission``, without reading the ledger: so
    every other request (a search, a reviewer's read) costs nothing."""
    return settings.admin_mfa and actor.role is Role.ADMIN and permission in STEP_UP_ACTS


def _problem(factor: AdminPasskey | None, token: str | None, *, runtime: Runtime,
             now: datetime) -> str | None:
    """Why ``token`` does not stand for the key of ``factor`` now, or None when it does."""
    if factor is None:
        return "no_passkey"
    if not token:
        return "no_step_up"
    digest = runtime.keys.keyed_hash(token, domain=STEP_UP_HASH_DOMAIN)
    if factor.step_up_hash is None or not hmac.compare_digest(factor.step_up_hash, digest):
        return "step_up_wrong"
    if factor.step_up_expires_at is None or factor.step_up_expires_at <= now:
        return "step_up_expired"
    return None


_ADVICE = {
    "no_passkey": "register this key's passkey (POST /v1/admin/passkey), then step up",
    "no_step_up": "step up with this key's passkey (POST /v1/admin/step-up) and send the"
                  " token in X-OptinFace-Step-Up",
}


def _refuse(problem: str) -> SecondFactorRequired:
    return SecondFactorRequired(
        f"this admin act needs a step-up of the same key ({problem}): "
        f"{_ADVICE.get(problem, _ADVICE['no_step_up'])}", details={"problem": problem})


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
    except (PasskeyInvalid, ChallengeInvalid) as refusal:
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
            key = session.get(ApiKey, actor.key_id)
            if key is not None and is_break_glass(key):
                return
            problem = _problem(session.get(AdminPasskey, actor.key_id), token,
                               runtime=runtime, now=runtime.clock.now())
        if problem is not None:
            raise _refuse(problem)


def _replaceable(session: Session, runtime: Runtime, actor: Actor, token: str | None,
                 now: datetime) -> AdminPasskey | None:
    """The key's passkey binding, if any, once ``token`` steps it up: with the key alone, a
    passkey is registered only while the key has none."""
    factor = session.get(AdminPasskey, actor.key_id)
    if factor is not None:
        problem = _problem(factor, token, runtime=runtime, now=now)
        if problem is not None:
            raise _refuse(problem)
    return factor


def registration_options(runtime: Runtime, *, actor: Actor,
                         token: str | None) -> PasskeyChallenge:
    """The creation options of a passkey for ``actor``'s key."""
    now = runtime.clock.now()
    with _tallied(runtime, actor), runtime.db.transaction() as session:
        _replaceable(session, runtime, actor, token, now)
        link, _ = passkeys.new_link(
            session, kind=ADMIN_PASSKEY, subject=None, capacity=ADMIN_PASSKEY, details={},
            created_by=actor.key_id, keys=runtime.keys, now=now,
            minutes=runtime.settings.enrolment_link_minutes)
        ceremony, options = passkeys.registration_options(
            session, link, user_name=f"admin key {actor.key_id}", settings=runtime.settings,
            now=now)
        return PasskeyChallenge(ceremony_id=ceremony.id, options=options)


def register(runtime: Runtime, *, actor: Actor, body: PasskeyResponse,
             token: str | None) -> AdminPasskeyRegistered:
    """Verify the registration and bind the passkey to ``actor``'s key, replacing (with a
    step-up) its earlier one, whose step-up ends with it; audited without any secret."""
    now = runtime.clock.now()
    with _tallied(runtime, actor), runtime.db.transaction() as session:
        factor = _replaceable(session, runtime, actor, token, now)
        credential, link = passkeys.register(session, body.ceremony_id, body.credential,
                                             settings=runtime.settings, now=now)
        if link.kind != ADMIN_PASSKEY or link.created_by != actor.key_id:
            raise ChallengeInvalid(f"challenge {body.ceremony_id} is for another act",
                                   details={"ceremony_id": body.ceremony_id})
        if factor is None:
            session.add(AdminPasskey(api_key_id=actor.key_id, credential_id=credential.id,
                                     registered_at=now))
        else:
            earlier = factor.credential_id
            factor.credential_id, factor.registered_at = credential.id, now
            factor.step_up_hash = factor.step_up_expires_at = None
            session.flush()
            session.execute(delete(PasskeyCredential).where(PasskeyCredential.id == earlier))
        runtime.audit(session, Entry(
            action=AuditAction.ADMIN_PASSKEY_REGISTERED, actor=actor,
            details={"credential_hash": passkeys.audit_reference(runtime.keys, credential),
                     "replaced": factor is not None}))
        return AdminPasskeyRegistered(key_id=actor.key_id, credential_id=credential.id,
                                      registered_at=now, replaced=factor is not None)


def _passkey_of(session: Session, actor: Actor) -> tuple[AdminPasskey, PasskeyCredential]:
    factor = session.get(AdminPasskey, actor.key_id)
    credential = session.get(PasskeyCredential, factor.credential_id) if factor else None
    if factor is None or credential is None:
        raise _refuse("no_passkey")
    return factor, credential


def step_up_options(runtime: Runtime, *, actor: Actor) -> PasskeyChallenge:
    """A challenge for the key's passkey: the hash of a statement naming the key, with a fresh
    nonce."""
    now = runtime.clock.now()
    with _tallied(runtime, actor), runtime.db.transaction() as session:
        _, credential = _passkey_of(session, actor)
        statement = {"act": STEP_UP, "key_id": actor.key_id, "nonce": secrets.token_hex(16)}
        ceremony, options = passkeys.assertion_options(
            session, kind=STEP_UP, statement=statement, credentials=[credential],
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
        factor, credential = _passkey_of(session, actor)
        passkeys.verify_assertion(session, ceremony, body.credential, allowed=[credential],
                                  settings=runtime.settings)
        token = STEP_UP_PREFIX + secrets.token_urlsafe(32)
        expires_at = now + timedelta(minutes=runtime.settings.step_up_minutes)
        factor.step_up_hash = runtime.keys.keyed_hash(token, domain=STEP_UP_HASH_DOMAIN)
        factor.step_up_expires_at = expires_at
        runtime.audit(session, Entry(
            action=AuditAction.ADMIN_STEPPED_UP, actor=actor,
            details={"credential_hash": passkeys.audit_reference(runtime.keys, credential),
                     "expires_at": log_time(expires_at)}))
        return StepUp(step_up_token=token, expires_at=expires_at)

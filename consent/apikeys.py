"""API keys and subject tokens: secrets shown once, stored only as keyed hashes.

A secret is ``<key id>.<random>``: the id finds the row, the keyed hash of the whole secret is
compared in constant time. Subject tokens work the same way but are scoped to one subject and
expire. Both rows are sealed (:mod:`consent.row_seals`): a key or token whose row the service
did not write as it is (a role raised, a token moved to another subject) authenticates no one,
and is logged once as an error.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from optinface.consent import erasure_journal, ledger_alterations, row_seals, token_use
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.auth_failures import FailureSummary
from optinface.consent.client_certificates import binding_for
from optinface.consent.db import in_chunks, rows_deleted
from optinface.consent.ending_acts import limited
from optinface.consent.errors import InvalidRequest, Unauthenticated
from optinface.consent.identifiers import require_name
from optinface.consent.key_rows import KeyRow, KeyRows
from optinface.consent.keys import KeyRing
from optinface.consent.ledger import get_row
from optinface.consent.policies import below_age_of_consent
from optinface.consent.roles import Actor, Role
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ApiKeyCreated, ApiKeyPublic, ConsentCapacity
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import ApiKey, Subject, SubjectToken

API_KEY_PREFIX = "key_"
SUBJECT_TOKEN_PREFIX = "stk_"  # noqa: S105 (an id prefix, not a secret)
HASH_DOMAIN = "secret"

logger = logging.getLogger(__name__)


def _new_secret(prefix: str) -> tuple[str, str]:
    key_id = prefix + secrets.token_hex(8)
    return key_id, f"{key_id}.{secrets.token_urlsafe(32)}"


def create_api_key(
    session: Session, *, role: Role, name: str, keys: KeyRing, now: datetime,
    expires_at: datetime | None = None,
    client_cert_sha256: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key row and its secret (the only time the secret exists in clear); it never
    expires unless ``expires_at`` says when."""
    key_id, secret = _new_secret(API_KEY_PREFIX)
    row = ApiKey(
        id=key_id,
        name=name,
        role=str(role),
        secret_hash=keys.keyed_hash(secret, domain=HASH_DOMAIN),
        created_at=now,
        expires_at=expires_at,
        client_cert_sha256=client_cert_sha256,
    )
    row_seals.seal_api_key(keys, row)
    session.add(row)
    session.flush()
    return row, secret


def revoke_api_key(session: Session, *, key_id: str, keys: KeyRing, now: datetime) -> ApiKey:
    """Revoke ``key_id`` (sealed again with its revocation, so that setting ``revoked_at``
    back to NULL in the database unseals the key rather than restoring it)."""
    row = get_row(session, ApiKey, key_id, noun="API key", field="key_id")
    if row.revoked_at is None:
        sealed = row_seals.api_key_sealed(keys, row.id, row)
        row.revoked_at = now
        if sealed:  # a row edited without the key store is never sealed, revoked or not
            row_seals.seal_api_key(keys, row)
    return row


def issue_subject_token(
    session: Session, *, subject: Subject, keys: KeyRing, now: datetime, lifetime: timedelta,
    credential_hash: str, capacity: str = "self", scope: str | None = None,
) -> str:
    """A new token for ``subject``, valid for ``lifetime`` (a page session's, or
    ``OPTINFACE_SUBJECT_TOKEN_DAYS``), issued by the passkey whose keyed hash is
    ``credential_hash`` (:func:`consent.passkeys.audit_reference`, shown to its person beside
    it); its secret, the only time it exists in clear.

    The token carries the capacity of the passkey that signed in (the person's own, or
    parental authority); acts it begins can be signed only by passkeys of that capacity
    (:func:`consent.subject_acts.signers`). ``scope``: :data:`consent.ending_acts.ENDING_SCOPE`
    for a token that may only end processing.
    """
    token_id, secret = _new_secret(SUBJECT_TOKEN_PREFIX)
    token = SubjectToken(
        id=token_id,
        subject_id=subject.id,
        secret_hash=keys.keyed_hash(secret, domain=HASH_DOMAIN),
        created_at=now,
        expires_at=now + lifetime,
        capacity=capacity,
        credential_hash=credential_hash,
        scope=scope,
    )
    row_seals.seal_subject_token(keys, token, pseudonym=subject.pseudonym)
    session.add(token)
    return secret


CREDENTIALS_REFUSED = "missing, invalid, revoked or expired credentials"
"""The one message of every refused credential: the caller never learns which of these it was."""
UNSEALED = "unsealed"
"""Why a key whose row fails its seal was refused, in the ``login_failure`` tally."""
ERASED = "subject_erased"
"""Why a subject token was refused whose subject the erasure journal erased (rows a restored
copy holds), in the ``login_failure`` tally."""


class AuthFailure(Unauthenticated):
    """An :class:`Unauthenticated` that knows why and which public key id (never the secret) it
    concerned, for the audit log only: its message and details are the same for every failure."""

    def __init__(self, reason: str, *, key_id: str | None) -> None:
        super().__init__(CREDENTIALS_REFUSED)
        self.reason = reason
        self.key_id = key_id


def parse_key_id(secret: str) -> str | None:
    """The public id before the secret's dot (an API key's or a subject token's), or None when
    ``secret`` is no credential of ours: the one reading of a secret's parts, for
    authentication and the pages' sessions (:mod:`consent.page_sessions`)."""
    key_id, dot, _ = secret.partition(".")
    return key_id if dot and key_id.startswith((API_KEY_PREFIX, SUBJECT_TOKEN_PREFIX)) else None


def _key_id(secret: str) -> str:
    """The public id of ``secret``, or ``malformed``: read before any hashing, so a string that
    is no key of ours is refused without a lookup, and its text never logged."""
    key_id = parse_key_id(secret)
    if key_id is None:
        raise AuthFailure("malformed", key_id=None)
    return key_id


def _key_actor(key_id: str, *, row: KeyRow | None, digest: str, keys: KeyRing,
               now: datetime) -> Actor:
    """The API key's actor, or the failure to audit: an unknown key and a wrong secret are one
    failure (compared in constant time), so a caller cannot learn which key ids exist; a key id
    is named in the failure only when it exists. A key whose row the service did not write as
    it is (:func:`row_seals.api_key_sealed`: a role, name, expiry, binding or revocation edited
    in the database) is refused as ``unsealed``."""
    if row is None or not hmac.compare_digest(row.secret_hash, digest):
        raise AuthFailure("unknown_or_wrong", key_id=key_id if row else None)
    if not row_seals.api_key_sealed(keys, key_id, row):
        raise AuthFailure(UNSEALED, key_id=key_id)
    if (ended := _ended(row, now=now)) is not None:
        raise AuthFailure(ended, key_id=key_id)
    return Actor(key_id=key_id, role=Role(row.role), client_cert_sha256=row.client_cert_sha256)


def _ended(row: KeyRow, *, now: datetime) -> str | None:
    """Why the key no longer acts (``revoked``, ``expired``), or None."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return None


def require_still_in_force(session: Session, rows: KeyRows, actor: Actor, *,
                           keys: KeyRing, now: datetime) -> None:
    """Refuse ``actor``'s API key if it was revoked or expired since its request was
    authenticated (in ``session``'s transaction, serialised with the revocation's): work that
    outlasts a revocation, such as a search embedding its probe, then does nothing, so that a
    revocation takes effect at once for the searches in flight too.

    Raises:
        AuthFailure: the key was revoked or expired meanwhile.
    """
    if not actor.key_id.startswith(API_KEY_PREFIX):
        return
    row = rows.read(session, actor.key_id)
    ended = ("unknown_or_wrong" if row is None else
             UNSEALED if not row_seals.api_key_sealed(keys, actor.key_id, row) else
             _ended(row, now=now))
    if ended is not None:
        raise AuthFailure(ended, key_id=actor.key_id)


def authenticate(
    session: Session, secret: str, *, keys: KeyRing, now: datetime, rows: KeyRows,
    settings: ConsentSettings,
) -> Actor:
    """The actor behind ``secret`` or :class:`AuthFailure` (the caller audits it); an API key's
    row is read through ``rows``, which keeps it where it may. A guardian's token opens
    nothing once the person reached the age of consent: from then on only the person's own
    credential acts for them (:func:`consent.policies.under_age_of_consent`, its age seal
    checked once, here)."""
    key_id = _key_id(secret)
    digest = keys.keyed_hash(secret, domain=HASH_DOMAIN)
    if key_id.startswith(API_KEY_PREFIX):
        return _key_actor(key_id, row=rows.read(session, key_id), digest=digest, keys=keys,
                          now=now)
    token = session.get(SubjectToken, key_id)
    if token is None or not hmac.compare_digest(token.secret_hash, digest):
        raise AuthFailure("unknown_or_wrong", key_id=key_id if token else None)
    subject = session.get(Subject, token.subject_id)
    # Moved to another subject, given a later expiry or planted: it acts for no one.
    if subject is None or not row_seals.subject_token_sealed(keys, token,
                                                             pseudonym=subject.pseudonym):
        raise AuthFailure(UNSEALED, key_id=key_id)
    if token.expires_at <= now:
        raise AuthFailure("expired", key_id=key_id)
    if token.capacity == str(ConsentCapacity.PARENTAL_AUTHORITY):
        if not row_seals.age_sealed(keys, subject):  # an age edited in the database: no one's
            raise AuthFailure("age_unsealed", key_id=key_id)
        if not below_age_of_consent(subject, settings, today=now.date()):  # seal checked above
            raise AuthFailure("guardian_of_an_adult", key_id=key_id)
    return Actor(key_id=key_id, role=Role.SUBJECT, subject=subject.pseudonym,
                 capacity=token.capacity, ends_processing_only=limited(token.scope))


def _from_kept_row(runtime: Runtime, secret: str) -> Actor | None:
    """The actor behind ``secret`` from its key's kept row (:class:`consent.key_rows.KeyRows`),
    :class:`AuthFailure` if that row refuses it, None if no row is kept for it."""
    key_id = _key_id(secret)
    row = runtime.key_rows.kept(key_id)
    if row is None:
        return None
    return _key_actor(key_id, row=row, now=runtime.clock.now(), keys=runtime.keys,
                      digest=runtime.keys.keyed_hash(secret, domain=HASH_DOMAIN))


def _unless_ended_in_journal(runtime: Runtime, actor: Actor) -> Actor:
    """``actor``, unless the erasure journal, apart from the database, revoked its key or
    erased the subject its token acts for: a revoked key's older row written back while the
    service runs (on PostgreSQL, where no row is kept), or an erased subject's token in a copy
    restored behind it, authenticates no one (:mod:`consent.journal_ends`). Not asked for a
    kept row: the API's guard reads those on its event loop, which must not wait on a file, and
    any write to the keys drops every kept row, so one written back is read again, and asked,
    here; a subject token is never kept."""
    if runtime.journal_ends.key_revoked(actor.key_id):
        raise AuthFailure("revoked", key_id=actor.key_id)
    if actor.subject is not None and runtime.journal_ends.erased(runtime.keys, actor.subject):
        raise AuthFailure(ERASED, key_id=actor.key_id)
    return actor


# Use cases: each in its own transaction, audited ---------------------------------------------
def key_public(row: ApiKey) -> ApiKeyPublic:
    """A key as listed to admins: never its secret or hash."""
    return ApiKeyPublic(key_id=row.id, name=row.name, role=Role(row.role),
                        created_at=row.created_at, revoked_at=row.revoked_at,
                        expires_at=row.expires_at,
                        client_cert_sha256=row.client_cert_sha256)


def create_audited(runtime: Runtime, *, actor: Actor | None, role: Role, name: str,
                   client_cert_pem: str | None = None,
                   client_ca_pem: bytes | None = None) -> ApiKeyCreated:
    """A new key; ``actor=None`` only bootstraps the first admin key of an empty system. A
    relying party's key is bound to ``client_cert_pem`` (:mod:`consent.client_certificates`)."""
    with runtime.db.transaction() as session:
        if actor is None:
            if session.scalar(select(func.count()).select_from(ApiKey)):
                raise InvalidRequest("bootstrap is only possible while no API key exists")
            if role is not Role.ADMIN:
                raise InvalidRequest("the bootstrap key must be an admin key")
        if role is Role.SUBJECT:
            raise InvalidRequest("subject tokens are issued with subjects, never as API keys")
        require_name(name)
        bound = binding_for(role, client_cert_pem, client_ca_pem=client_ca_pem)
        row, secret = create_api_key(session, role=role, name=name, keys=runtime.keys,
                                     now=runtime.clock.now(), client_cert_sha256=bound)
        details = {"key_id": row.id, "role": str(role), "name": name}
        if bound is not None:
            details["client_cert_sha256"] = bound
        runtime.audit(session, Entry(action=AuditAction.KEY_CREATED, actor=actor,
                                     details=details))
        return ApiKeyCreated(**key_public(row).model_dump(), secret=secret)


def list_public(session: Session) -> list[ApiKeyPublic]:
    """Every key, oldest first."""
    return [key_public(k) for k in session.scalars(select(ApiKey).order_by(ApiKey.created_at))]


def revoke_audited(runtime: Runtime, *, actor: Actor | None, key_id: str) -> None:
    """Revoke ``key_id`` now (revoking twice keeps the first time), journaled before it
    commits so that a copy of the ledger restored from before revokes it again
    (:func:`revoke_again`): a leaked key must not work again. ``actor`` None: the system's
    act (a break-glass key whose opening the witness did not keep)."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        if revoke_api_key(session, key_id=key_id, keys=runtime.keys,
                          now=now).revoked_at == now:  # by this call
            erasure_journal.record(runtime,
                                   erasure_journal.KeyRevoked(key_id=key_id, at=now))
        runtime.audit(session, Entry(action=AuditAction.KEY_REVOKED, actor=actor,
                                     details={"key_id": key_id}))
        # Before it is answered: the ledger holds the key revoked, and nothing can undo it.
        ledger_alterations.require_held(session, [
            (ApiKey.__tablename__, (ApiKey.id == key_id) & ApiKey.revoked_at.is_(None))])


def revoke_again(journal: Sequence[erasure_journal.Entry], session: Session, *,
                 keys: KeyRing) -> int:
    """Revoke again, in ``session``, the keys the journal revoked that the database still
    accepts (a copy restored from before), at the journal's time, and delete again the subject
    tokens it revoked (a page session's at its end, the person's own revocation); how many. At
    start-up, through the engine, so no row kept for authentication outlives it
    (:class:`consent.key_rows.KeyRows`)."""
    revoked = {entry.key_id: entry.at for entry in journal
               if isinstance(entry, erasure_journal.KeyRevoked)}
    if not revoked:
        return 0
    rows = [row for among in in_chunks(ApiKey.id, revoked.keys())
            for row in session.scalars(select(ApiKey).where(among, ApiKey.revoked_at.is_(None)))]
    for row in rows:
        revoke_api_key(session, key_id=row.id, keys=keys, now=revoked[row.id])
    token_ids = [key_id for key_id in revoked if key_id.startswith(SUBJECT_TOKEN_PREFIX)]
    tokens = rows_deleted(session, *(delete(SubjectToken).where(among)
                                     for among in in_chunks(SubjectToken.id, token_ids)))
    return len(rows) + tokens


def authenticate_audited(runtime: Runtime, secret: str) -> Actor:
    """:func:`authenticate`, with failures tallied into the log (never the secret) as one event
    per window (see :mod:`consent.auth_failures`).

    A key's row kept since the last write to the keys (on SQLite only) answers without a
    transaction. Otherwise a read, which takes no lock (:meth:`consent.db.Database.reading`),
    so no request (on PostgreSQL, no worker's) waits for a write to learn who is calling. A
    key revoked by a transaction committed before the read is refused; one revoked while it
    reads counts as revoked just after it.

    A subject token that authenticated has its day of use recorded after the read, at most
    once a day and best effort (:func:`consent.token_use.note_use`): the answer stays this
    one whether that write succeeds or not."""
    try:
        kept = _from_kept_row(runtime, secret)
        if kept is not None:
            return kept
        with runtime.db.reading() as session:
            actor = _unless_ended_in_journal(runtime, authenticate(
                session, secret, keys=runtime.keys, now=runtime.clock.now(),
                settings=runtime.settings, rows=runtime.key_rows))
            # The token's row read above (no query again); an API key's is no token's.
            token = (session.get(SubjectToken, actor.key_id)
                     if actor.key_id.startswith(SUBJECT_TOKEN_PREFIX) else None)
    except AuthFailure as failure:
        refuse_audited(runtime, failure)
    if token is not None:
        token_use.note_use(runtime, token.id, last_used_on=token.last_used_on)
    return actor


def authenticate_kept(runtime: Runtime, secret: str) -> Actor | None:
    """The actor behind ``secret`` when its key's kept row accepts it, with neither a read nor a
    write of the ledger; None whenever only :func:`authenticate_audited` can answer: no row kept
    (always so for a subject token, and on PostgreSQL) or a refusal, which only it tallies."""
    try:
        return _from_kept_row(runtime, secret)
    except AuthFailure:
        return None


def refuse_audited(runtime: Runtime, failure: AuthFailure) -> NoReturn:
    """Tally ``failure`` into the audit log (as one event per window) and raise it: every
    refused credential, whether the secret itself failed or a check after it did (the API's
    client certificate check). One refused for its row's seal is logged as an error too, once
    per process for each key or token: only a database writer makes such a row."""
    if failure.reason == UNSEALED and failure.key_id is not None:
        runtime.error_once(logger, ("key", failure.key_id),
                           "%s %s: its row carries no valid seal (written or edited in the"
                           " database without the key store): it authenticates no one",
                           "subject token" if failure.key_id.startswith(SUBJECT_TOKEN_PREFIX)
                           else "API key", failure.key_id)
    tally_failure(runtime, reason=failure.reason, key_id=failure.key_id)
    raise failure


def tally_failure(runtime: Runtime, *, reason: str, key_id: str | None) -> None:
    """Tally one refused credential into the ``login_failure`` events: a failed authentication,
    or a key that authenticated but lacked its second factor (:mod:`consent.admin_mfa`)."""
    _record_failures(runtime, runtime.auth_failures.add(reason=reason, key_id=key_id,
                                                        now=runtime.clock.now()))


def flush_failures(runtime: Runtime) -> None:
    """Chain the failures tallied since the last ``login_failure`` event into the log."""
    _record_failures(runtime, runtime.auth_failures.drain())


def _record_failures(runtime: Runtime, summary: FailureSummary | None) -> None:
    if summary is None:
        return
    with runtime.db.transaction() as session:
        runtime.audit(session, Entry(action=AuditAction.LOGIN_FAILURE, actor=None,
                                     outcome=Unauthenticated.code, details=summary.details()))

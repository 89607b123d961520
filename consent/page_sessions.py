"""The pages' signed-in sessions, kept in the ledger so that any worker answers any page.

A session lives as long as its lifetime, on every worker and across restarts, and is ended by
log-out, by its expiry, or by its subject's erasure. The operator holding the database file is
not trusted with it (the design card's trust model), so no column opens a session, and no
column edited or row put back makes one live longer:

- the row is found by the SHA-256 of the session id, the cookie's value (256 random bits: the
  hash gives back no cookie);
- what the session carries (the person's subject token or the reviewer's key, which every
  request authenticates again) is sealed with AES-256-GCM under a key derived by HKDF-SHA256
  from the session id, which only the browser holds: a copied row opens nothing. The seal's
  associated data binds the row's hash, area and expiry, so an ``expires_at`` pushed out in the
  database makes the row open nothing (rows sealed before the expiry was bound open nothing
  either: their person signs in again, sessions being hours long);
- a portal session carries the subject token its passkey sign-in issued for it alone
  (:func:`add`, ``issued``), which expires with the session and is revoked when the session
  ends by its cookie (log-out, expiry met, a token refused): the row deleted and its id journaled
  as a :class:`erasure_journal.KeyRevoked` before the session's deletion commits, so a session
  row, or the token's row, put back from a copy carries a token no worker accepts. A reviewer's
  session carries their own API key, which its log-out never revokes;
- the session's CSRF token is an HMAC keyed by the session id: nothing stored;
- the subject is named by its tombstone hash (a keyed hash under the key store's key), so its
  erasure finds its sessions in its own transaction without the pseudonym in clear.

The sign-in forms' CSRF tokens, before any session exists, are MACed under the key store's
HMAC key (:func:`sign_in_token`), which is not in the ledger: a token made up elsewhere fails,
and one the server made passes only within :data:`SIGN_IN_TOKEN_LIFETIME`, for its area. What
keeps a site from planting a token it fetched itself is the cookie's integrity, the pages'
concern (``api.web.auth``: ``__Host-`` cookies over HTTPS).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from optinface.consent import erasure_journal, ledger_alterations
from optinface.consent.apikeys import SUBJECT_TOKEN_PREFIX, parse_key_id
from optinface.consent.crypto import KEY_BYTES, open_sealed, seal, tokens_match
from optinface.consent.db import rows_deleted
from optinface.consent.errors import SubjectErased
from optinface.consent.keys import KeyRing
from optinface.consent.ledger import tombstone_hash
from optinface.consent.runtime import Runtime
from optinface.consent.tables import PageSession, SubjectToken

SIGN_IN_TOKEN_LIFETIME = timedelta(hours=2)
"""How long a sign-in form's token is accepted: a form left open longer is refused as expired
(the person reloads it), and a token an attacker fetched to plant is usable no longer."""
_SEAL_INFO = b"optinface page session: sealed secret"
_CSRF_INFO = b"optinface page session: csrf"
_SIGN_IN_DOMAIN = "page-sign-in-csrf"
PORTAL = "portal"
"""The volunteers' area, whose sessions the consent core opens at their passkey sign-in."""


@dataclass(frozen=True, slots=True)
class OpenSession:
    """What a page needs of a live session, once its id opened it (never stored in this
    form): the secret it authenticates with, and its CSRF token."""

    secret: str
    csrf: str

    def csrf_matches(self, token: str | None) -> bool:
        return token is not None and tokens_match(self.csrf, token)


def id_hash(session_id: str) -> str:
    """The row's key: SHA-256 of the session id (a plain hash suffices for 256 random bits)."""
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def _derived(session_id: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=info).derive(session_id.encode("utf-8", "surrogatepass"))


def csrf_token(session_id: str) -> str:
    """The session's CSRF token, derived from its id: the same on every worker, never stored,
    and telling nothing of the id it came from."""
    mac = hmac.new(_derived(session_id, _CSRF_INFO), b"csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _bound(digest: str, area: str, expires_at: datetime) -> bytes:
    """What the seal is bound to: its row, area and expiry (to the second), so a row's
    ciphertext opens in no other, of no other area, and not once its expiry was edited."""
    return f"{digest}:{area}:{int(expires_at.timestamp())}".encode()


@dataclass(frozen=True, slots=True)
class _Carried:
    """What the seal holds: the secret, and whether it was issued for this session alone."""

    secret: str
    issued: bool

    def sealed(self) -> bytes:
        return json.dumps({"secret": self.secret, "issued": self.issued}).encode()

    @classmethod
    def opened(cls, plain: bytes) -> _Carried:
        held = json.loads(plain)
        return cls(secret=str(held["secret"]), issued=held["issued"] is True)

    def own_token(self) -> str | None:
        """The public id of the subject token issued for this session, or None (a reviewer's
        key, or a secret the session did not get issued)."""
        token_id = parse_key_id(self.secret)
        return token_id if self.issued and token_id is not None and token_id.startswith(
            SUBJECT_TOKEN_PREFIX) else None


def add(session: Session, runtime: Runtime, *, area: str, secret: str, subject: str | None,
        expires_at: datetime, issued: bool) -> str:
    """In ``session``'s transaction, a new session of ``area`` carrying ``secret`` until
    ``expires_at``; its id, the only thing the cookie holds. ``issued``: the secret is a subject
    token issued for this session alone (the portal's sign-in), revoked when it ends. Expired
    sessions are deleted in the same transaction, so the table stays small between sweeps."""
    session_id = secrets.token_urlsafe(32)
    digest = id_hash(session_id)
    nonce, sealed = seal(_derived(session_id, _SEAL_INFO),
                         _Carried(secret=secret, issued=issued).sealed(),
                         associated=_bound(digest, area, expires_at))
    forget_expired(session, now=runtime.clock.now())
    session.add(PageSession(
        id_hash=digest, area=area, expires_at=expires_at, nonce=nonce, sealed=sealed,
        subject_hash=None if subject is None else tombstone_hash(runtime.keys, subject),
        erased=False))
    return session_id


def open_session(runtime: Runtime, *, area: str, secret: str, subject: str | None,
                 lifetime: timedelta) -> str:
    """A new session of ``area`` carrying ``secret``, a credential of the caller's own that
    its end leaves as it is (a reviewer's key); its id, for the cookie alone."""
    with runtime.db.transaction() as session:
        return add(session, runtime, area=area, secret=secret, subject=subject,
                   expires_at=runtime.clock.now() + lifetime, issued=False)


def _opened(row: PageSession, session_id: str) -> _Carried | None:
    """What ``row`` carries, opened by ``session_id``; None when it does not open: a row
    written, swapped or edited in the database alone, or sealed before the expiry was bound."""
    if row.nonce is None or row.sealed is None:
        return None
    try:
        plain = open_sealed(_derived(session_id, _SEAL_INFO), row.nonce, row.sealed,
                            associated=_bound(row.id_hash, row.area, row.expires_at))
    except ValueError:
        return None
    return _Carried.opened(plain)


def find(runtime: Runtime, session_id: str, area: str) -> OpenSession | None:
    """The live session behind ``session_id``, or None: unknown, of the other area (a portal
    cookie never opens the review pages), expired (then deleted), or not opened by this id.

    Raises:
        SubjectErased: the session's subject was erased since; the row is deleted, so the
            page says so once and the next one asks to sign in.
    """
    digest = id_hash(session_id)
    now = runtime.clock.now()
    with runtime.db.reading() as session:
        row = session.get(PageSession, digest)
        if row is None or row.area != area:
            return None
    if row.erased or row.expires_at <= now:
        end(runtime, session_id, logged_out=False)
        if row.erased:
            raise SubjectErased("the record this session belonged to was erased")
        return None
    carried = _opened(row, session_id)
    if carried is None:
        return None
    return OpenSession(secret=carried.secret, csrf=csrf_token(session_id))


def end(runtime: Runtime, session_id: str, *, logged_out: bool) -> None:
    """Delete the session (log-out, expiry, or a secret that no longer authenticates) and
    revoke the subject token issued for it: its row deleted, and its id journaled before this
    commits, so neither row put back from a copy makes the token act again
    (:meth:`consent.journal_ends.JournalEnds.key_revoked`, asked at every authentication).

    Only a log-out the person asked for (``logged_out``) is answered as done, so only it reads
    back that the rows are gone (:func:`consent.ledger_alterations.require_held`); an expired or
    erased subject's session ended on a visit is not, so a trigger on the ledger does not turn
    every page, the sign-in form included, into a 503 the cookie is never cleared from
    (review 20c #6). A row kept then is still refused: expired, or its token journaled."""
    digest = id_hash(session_id)
    with runtime.db.transaction() as session:
        row = session.get(PageSession, digest)
        carried = None if row is None else _opened(row, session_id)
        token_id = None if carried is None else carried.own_token()
        if token_id is not None:
            erasure_journal.record(runtime, erasure_journal.KeyRevoked(
                key_id=token_id, at=runtime.clock.now()))
            session.execute(delete(SubjectToken).where(SubjectToken.id == token_id))
        session.execute(delete(PageSession).where(PageSession.id_hash == digest))
        if not logged_out:
            return
        # Before the log-out is answered: the token and the session are gone as the ledger
        # holds them, and nothing on its tables can put them back at the commit.
        ledger_alterations.require_held(session, [
            (PageSession.__tablename__, PageSession.id_hash == digest),
            *([] if token_id is None else [(SubjectToken.__tablename__,
                                            SubjectToken.id == token_id)])])


def end_for_subject(session: Session, subject_hash: str) -> None:
    """In the erasure's transaction: the subject's sessions carry nothing more (their sealed
    token and the tombstone hash go); each row is left marked ``erased`` until its page has
    said so once or it expires."""
    session.execute(update(PageSession).where(PageSession.subject_hash == subject_hash)
                    .values(nonce=None, sealed=None, subject_hash=None, erased=True))


def forget_expired(session: Session, *, now: datetime) -> int:
    """Delete every expired session; how many went (run at each sign-in and by the sweep)."""
    return rows_deleted(session, delete(PageSession).where(PageSession.expires_at <= now))


def forget_expired_tokens(session: Session, *, now: datetime) -> None:
    """Delete every expired subject token (those the portal's sessions carried expire with
    them, so none outlives its session's row). Authentication refuses them already: this only
    keeps the table small, so the sweep runs it, not each sign-in (``expires_at`` has no
    index)."""
    session.execute(delete(SubjectToken).where(SubjectToken.expires_at <= now))


def sign_in_token(keys: KeyRing, *, area: str, now: datetime) -> str:
    """A sign-in form's CSRF token for ``area``: when it was made, a nonce, and their MAC
    under the key store's HMAC key. The form and a cookie both carry it (double submit)."""
    made = f"{int(now.timestamp())}.{secrets.token_urlsafe(16)}"
    return f"{made}.{keys.keyed_hash(f'{area}:{made}', domain=_SIGN_IN_DOMAIN)}"


def sign_in_token_valid(keys: KeyRing, token: str, *, area: str, now: datetime) -> bool:
    """Whether ``token`` is one :func:`sign_in_token` made for ``area`` and is not expired.
    Any text is only refused, never raised on."""
    made, _, mac = token.rpartition(".")
    stamp = made.partition(".")[0]
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        return False
    expected = keys.keyed_hash(f"{area}:{made}", domain=_SIGN_IN_DOMAIN)
    age = now.timestamp() - int(stamp)
    return tokens_match(expected, mac) and 0 <= age <= SIGN_IN_TOKEN_LIFETIME.total_seconds()

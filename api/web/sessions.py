"""Server-side sessions for the pages: the cookie holds only a random id.

The secret (subject token or reviewer key) stays in this process's memory and is
re-authenticated on every request, so a revoked key or an erased subject is logged out at once.
Each session carries its own CSRF token, checked on every form post. Callers pass the time from
the service's injected clock, so session expiry follows the same clock as consent expiry.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Area(StrEnum):
    """The two logged-in areas; a session opens one only."""

    PORTAL = "portal"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class WebSession:
    area: Area
    secret: str
    csrf: str
    expires_at: datetime
    subject: str | None = None  # a volunteer's pseudonym: to tell them when it was erased

    def csrf_matches(self, token: str | None) -> bool:
        return token is not None and tokens_match(self.csrf, token)


def tokens_match(expected: str, given: str) -> bool:
    """Compare in constant time as UTF-8 bytes: ``compare_digest`` raises TypeError on a str
    with any non-ASCII character, and a form field or a cookie may hold one (a 500)."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"),
                               given.encode("utf-8", "surrogatepass"))


class SessionStore:
    """Thread-safe map from session id to :class:`WebSession`; sessions end on restart."""

    def __init__(self, *, lifetime_hours: int) -> None:
        self._lifetime = timedelta(hours=lifetime_hours)
        self._sessions: dict[str, WebSession] = {}
        self._lock = threading.Lock()

    def create(
        self, area: Area, secret: str, *, now: datetime, subject: str | None = None
    ) -> tuple[str, WebSession]:
        """A new session of ``area`` and its id, the only thing the cookie will hold; its own
        CSRF token is random too. Expired sessions are dropped here, so the map does not grow
        with sessions nobody ends."""
        session_id = secrets.token_urlsafe(32)
        session = WebSession(
            area=area,
            secret=secret,
            csrf=secrets.token_urlsafe(32),
            expires_at=now + self._lifetime,
            subject=subject,
        )
        with self._lock:
            self._drop_expired(now)
            self._sessions[session_id] = session
        return session_id, session

    def get(self, session_id: str | None, area: Area, *, now: datetime) -> WebSession | None:
        """The live session behind ``session_id``, or None: unknown, expired (then dropped),
        or of the other area, so a portal cookie never opens the review pages."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.area is not area:
                return None
            if session.expires_at <= now:
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def _drop_expired(self, now: datetime) -> None:
        for session_id in [k for k, v in self._sessions.items() if v.expires_at <= now]:
            del self._sessions[session_id]

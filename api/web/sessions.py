"""Server-side sessions for the pages: the cookie holds only a random id.

The sessions live in the ledger (:mod:`consent.page_sessions`), so any worker answers any page
and a session outlives a restart until it expires; the ledger keeps no column that opens one.
The secret (subject token or reviewer key) is re-authenticated on every request, so a revoked
key or an erased subject is logged out at once. A portal session's token is issued for it
alone, expires with it and is revoked when it ends; a reviewer's key outlives their log-out.
Each session's CSRF token, derived from its id, is checked on every form post. Expiry follows
the service's injected clock, like consent's.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from optinface.consent.page_sessions import OpenSession
from optinface.consent.schemas import PasskeyResponse, SignedIn
from optinface.consent.service import OptinFace


class Area(StrEnum):
    """The two logged-in areas; a session opens one only."""

    PORTAL = "portal"
    REVIEW = "review"


WebSession = OpenSession
"""What a page needs of its session (:class:`consent.page_sessions.OpenSession`)."""


class SessionStore:
    """The pages' view of the ledger's sessions, with the deployment's session lifetime."""

    def __init__(self, *, lifetime_hours: int) -> None:
        self._lifetime = timedelta(hours=lifetime_hours)

    def create(self, service: OptinFace, area: Area, secret: str, *,
               subject: str | None = None) -> str:
        """A new session of ``area``; its id, the only thing the cookie will hold."""
        return service.open_page_session(area=area, secret=secret, subject=subject,
                                         lifetime=self._lifetime)

    def sign_in(self, service: OptinFace, body: PasskeyResponse) -> tuple[SignedIn, str]:
        """The portal's passkey sign-in: the person, and the id of the session that carries the
        token issued for it alone (which lives as long as the session)."""
        return service.sign_in_to_page(body, lifetime=self._lifetime)

    def get(self, service: OptinFace, session_id: str | None, area: Area) -> WebSession | None:
        """The live session behind ``session_id``, or None: unknown, expired (then deleted),
        or of the other area, so a portal cookie never opens the review pages.

        Raises:
            SubjectErased: the person's record was erased since they signed in.
        """
        if not session_id:
            return None
        return service.page_session(session_id, area)

    def end(self, service: OptinFace, session_id: str | None, *,
            logged_out: bool = True) -> None:
        """End the session; a portal session's token goes with it, a reviewer's key stays.
        ``logged_out``: the person asked to (read back before it is answered as done)."""
        if session_id:
            service.end_page_session(session_id, logged_out=logged_out)

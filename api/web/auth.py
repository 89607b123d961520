"""Logging in to the pages: secrets traded for server-side sessions, and CSRF on every post.

A person signs in to the portal with their passkey (the sign-in issues their own subject token
for the session alone: it expires with the session and log-out revokes it); a reviewer logs in
with their key, which log-out leaves as it is. Either way the session's id lives in an
HttpOnly, SameSite=Strict cookie of its area (:func:`session_cookie`); the session itself is in
the ledger, for every worker (:mod:`consent.page_sessions`). Every form post carries a CSRF token:
the session's own once logged in; on the login forms a double-submit cookie whose token the
server MACed under the key store's key, so a token another site made up is refused. The
secret is re-authenticated by the consent core on every request, so revocation and erasure end
a session at once.

A sibling site (another host under the same registrable domain, whose posts are same-site)
could set cookies for this host through its parent domain: plant a sign-in token it fetched
from this server itself, or the id of a session of its own, and sign a visitor in as someone
else. Binding the form's token to a random cookie it MACs would not stop that (the sibling
fetches a matching pair), so what stops it is the cookie's integrity: wherever the pages'
cookies are Secure (:attr:`api.settings.ApiSettings.secure_cookies`: this server speaks TLS,
listens off loopback, or trusts a reverse proxy, which ends TLS in front of it), both cookies
are ``__Host-`` cookies, which a browser takes only from this very host, with ``Secure``,
``Path=/`` and no ``Domain`` (RFC 6265bis), so no other host can set or replace them
(:func:`page_cookie`). Where they are not Secure (a loopback server with no trusted proxy, a
developer's machine on plain HTTP, or ``OPTINFACE_COOKIE_SECURE=false``), nothing keeps another
site of the host, on any port, from setting them: cookies do not tell ports apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from optinface.api.deps import admit, authenticate, certificate_checked
from optinface.api.error_codes import ApiErrorCode, status_for
from optinface.api.errors import ApiError, error_response
from optinface.api.settings import ApiSettings
from optinface.api.web.i18n import N_
from optinface.api.web.rendering import advice, attempt, render, words_for
from optinface.api.web.sessions import Area, SessionStore, WebSession
from optinface.consent.crypto import tokens_match
from optinface.consent.errors import ConsentError, SubjectErased
from optinface.consent.roles import Actor, Permission
from optinface.consent.schemas import PasskeyResponse
from optinface.consent.service import OptinFace

HOST_ONLY_PREFIX = "__Host-"


@dataclass(frozen=True, slots=True)
class Login:
    """Where a session of an area comes from and what it must be allowed to do."""

    area: Area
    permission: Permission
    secret_label: str


PORTAL = Login(Area.PORTAL, Permission.READ_SUBJECT, N_("Your passkey"))
REVIEW = Login(Area.REVIEW, Permission.READ_AUDIT, N_("Your reviewer API key"))


@dataclass(frozen=True, slots=True)
class PageCookie:
    """Where one of an area's cookies lives in the browser: its name and its path."""

    name: str
    path: str


def page_cookie(request: Request, name: str, area: Area) -> PageCookie:
    """The cookie ``name`` of ``area``: a ``__Host-`` cookie for the whole host wherever the
    pages' cookies are Secure, so no sibling host can plant it (the module's docstring; the
    name tells the areas apart, a ``__Host-`` cookie having ``Path=/``); else scoped to the
    area's path, the only place a plain-HTTP server can keep it."""
    settings: ApiSettings = request.app.state.settings
    if settings.secure_cookies:
        return PageCookie(HOST_ONLY_PREFIX + name, "/")
    return PageCookie(name, f"/{area}")


def session_cookie(request: Request, area: Area) -> PageCookie:
    """The cookie holding the id of the area's session."""
    return page_cookie(request, f"optinface_{area}", area)


def login_cookie(request: Request, area: Area) -> PageCookie:
    """The cookie holding the area's sign-in form's token (double submit)."""
    return page_cookie(request, f"optinface_login_csrf_{area}", area)


def sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def set_cookie(request: Request, response: Response, cookie: PageCookie, value: str) -> None:
    response.set_cookie(cookie.name, value, path=cookie.path, **_attributes(request))


def delete_cookie(request: Request, response: Response, cookie: PageCookie) -> None:
    """Expire ``cookie`` in the browser, with the attributes it was set with (a browser
    ignores a ``__Host-`` cookie's deletion without ``Secure``)."""
    response.delete_cookie(cookie.name, path=cookie.path, **_attributes(request))


def _attributes(request: Request) -> dict[str, Any]:
    settings: ApiSettings = request.app.state.settings
    return {"httponly": True, "samesite": "strict", "secure": settings.secure_cookies}


def login_page(request: Request, login: Login, *, error: str | None = None,
               status_code: int = 401) -> HTMLResponse:
    """The area's login form (``status_code`` when it shows ``error``).

    Before login there is no session to hold a CSRF token, so the form's token is also set as
    the area's cookie (double submit, :func:`login_cookie`): :func:`log_in` accepts only a post
    that echoes it, and only a token the server made for this area, lately
    (``OptinFace.sign_in_token``).
    """
    service: OptinFace = request.app.state.service
    token = service.sign_in_token(login.area)
    response = render(
        request,
        "login.html",
        status_code=status_code if error else 200,
        area=login.area,
        label=login.secret_label,
        csrf=token,
        error=error,
    )
    set_cookie(request, response, login_cookie(request, login.area), token)
    return response


def log_in(request: Request, service: OptinFace, login: Login, secret: str, csrf: str) -> Response:
    """Trade a secret for a session of the area, then go to the area's page (303).

    The secret must authenticate and hold the area's permission; the session keeps it server
    side and the browser gets only the HttpOnly cookie. Every refusal shows the form again with
    the same words, so the page does not tell an unknown secret from one without permission;
    but a client throttled for failing too often (no secret was tried) is told so, 429 with
    ``Retry-After`` as the API answers it, rather than that its secret is wrong.
    """
    if not login_csrf_matches(request, service, login.area, csrf):
        return login_page(request, login, error=N_("The form expired; please try again."))
    try:
        actor = authenticate(request, service, secret.strip())
        admit(actor, login.permission, subject=actor.subject, limiter=request.app.state.limiter)
    except (ConsentError, ApiError) as error:
        if isinstance(error, ApiError) and error.code is ApiErrorCode.RATE_LIMITED:
            throttled = login_page(request, login, status_code=429, error=advice(error))
            throttled.headers.update(error.headers)
            return throttled
        return login_page(request, login, error=N_("That secret does not open this area."))
    session_id = sessions(request).create(service, login.area, secret.strip(),
                                          subject=actor.subject)
    response = RedirectResponse(f"/{login.area}", status_code=303)
    set_cookie(request, response, session_cookie(request, login.area), session_id)
    delete_cookie(request, response, login_cookie(request, login.area))
    return response


def login_csrf_matches(request: Request, service: OptinFace, area: Area,
                       token: str | None) -> bool:
    """Whether a sign-in post echoes its cookie's token, and that token is one the server made
    for ``area`` (a planted cookie of another's making fails)."""
    expected = request.cookies.get(login_cookie(request, area).name)
    if not (expected and token and tokens_match(expected, token)):
        return False
    return service.sign_in_token_valid(token, area)


def passkey_log_in(request: Request, service: OptinFace, body: PasskeyResponse,
                   csrf: str | None) -> Response:
    """The portal's sign-in: the passkey is verified by the consent core, which issues the
    person's own subject token for the session alone, in the session's transaction: the token
    expires with the session and is revoked at its log-out; the browser only gets the cookie."""
    if not login_csrf_matches(request, service, Area.PORTAL, csrf):
        raise ApiError(ApiErrorCode.FORBIDDEN, "the page expired; reload it and try again")
    try:
        person, session_id = sessions(request).sign_in(service, body)
    except SubjectErased as erased:
        return _erased_at_sign_in(request, erased)
    response = JSONResponse({"subject": person.subject, "capacity": person.capacity})
    set_cookie(request, response, session_cookie(request, Area.PORTAL), session_id)
    delete_cookie(request, response, login_cookie(request, Area.PORTAL))
    return response


def _erased_at_sign_in(request: Request, erased: SubjectErased) -> JSONResponse:
    """The passkey belonged to an erased record: say so, when, and where the receipt is, in
    the page's language (passkey.js shows ``advice`` and the receipt link)."""
    words = words_for(request)
    erased_at = erased.details.get("erased_at")
    advice = words("This record was erased on {when}. Nothing of your face is kept: no photo,"
                   " no template, no key. Your erasure receipt can be fetched with the one-time"
                   " code shown when you were erased.", when=words.when(erased_at))
    return error_response(erased.code, erased.message, status=status_for(erased.code, default=410),
                          details={"erased_at": erased_at, "advice": advice,
                                   "erasure_receipt": "/portal/erasure-receipt"})


def current(request: Request, service: OptinFace, login: Login) -> tuple[WebSession, Actor] | None:
    """The session and re-authenticated actor, or None (not logged in, revoked, expired).

    A volunteer whose record was erased meanwhile (by a withdrawal elsewhere, the sweeper, an
    administrator) gets :class:`SubjectErased`, so the page says so rather than "log in".
    """
    session_id = request.cookies.get(session_cookie(request, login.area).name)
    session = sessions(request).get(service, session_id, login.area)
    if session is None:
        return None
    try:
        actor = certificate_checked(request, service, service.authenticate(session.secret))
    except ConsentError:
        sessions(request).end(service, session_id, logged_out=False)
        return None
    admit(actor, login.permission, subject=actor.subject, limiter=request.app.state.limiter)
    return session, actor


def signed_in(
    request: Request, service: OptinFace, login: Login,
    build: Callable[[WebSession, Actor], Response], *, login_form: bool = False,
) -> Response:
    """``build`` the response for the area's signed-in session; without one, the login form
    (``login_form``: the area's own pages) or back to the area's page (303: the pages under it);
    a domain refusal becomes a readable page."""

    def action() -> Response:
        found = current(request, service, login)
        if found is None:
            if login_form:
                return login_page(request, login)
            return RedirectResponse(f"/{login.area}", status_code=303)
        return build(*found)

    return attempt(request, action)


def posted(
    request: Request, service: OptinFace, login: Login, csrf: str
) -> tuple[WebSession, Actor]:
    """The session of a form post after checking its CSRF token."""
    found = current(request, service, login)
    if found is None:
        raise ApiError(ApiErrorCode.UNAUTHENTICATED, "your session has ended; please log in again")
    session, actor = found
    if not session.csrf_matches(csrf):
        raise ApiError(ApiErrorCode.FORBIDDEN, "the form's CSRF token does not match your session")
    return session, actor


def end_session(request: Request, response: Response, area: Area) -> None:
    """Forget the area's session here and in the browser."""
    service: OptinFace = request.app.state.service
    cookie = session_cookie(request, area)
    sessions(request).end(service, request.cookies.get(cookie.name))
    delete_cookie(request, response, cookie)


def log_out(request: Request, service: OptinFace, login: Login, csrf: str) -> Response:
    """End the area's session, here and in the browser, then back to the area's page.

    A form post with the session's CSRF token, so another site cannot log a person out.
    """
    def action() -> Response:
        posted(request, service, login, csrf)
        response = RedirectResponse(f"/{login.area}", status_code=303)
        end_session(request, response, login.area)
        return response

    return attempt(request, action)

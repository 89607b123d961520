"""Rendering for the pages: the Jinja2 environment, the reader's language, the refusal page.

Every page is rendered with :class:`~.i18n.Words` for its reader (``_``, ``when``), the link
that switches language, and the vocabulary for codes. Every page action runs through
:func:`attempt`, so a domain refusal (consent core, engine or API) is rendered as a readable
page that says what to do, keeps its stable code as a detail, and answers the JSON API's status;
one raised before the action (by a dependency: the witness gate) is rendered the same way
(:func:`.pages.install_refusal_pages`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from optinface.api.error_codes import status_for
from optinface.api.errors import ApiError, error_response
from optinface.api.settings import ApiSettings
from optinface.api.web import vocabulary
from optinface.api.web.i18n import LANGUAGE_COOKIE, Language, Words, negotiate
from optinface.api.web.reader_words import words_in
from optinface.consent.errors import ConsentError
from optinface.consent.register import DEMO_WARNING
from optinface.consent.schemas import OperatorTextPublic, TranslationLanguage
from optinface.consent.service import OptinFace
from optinface.engine.errors import EngineError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

Refusal = ConsentError | EngineError | ApiError


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def words_for(request: Request) -> Words:
    """The reader's language (switch, else browser, else the deployment's default) and the
    deployment's time zone."""
    settings: ApiSettings = request.app.state.settings
    chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    language = negotiate(request.headers.get("accept-language"), chosen)
    return words_in(language, settings)


def untranslated(service: OptinFace, settings: ApiSettings) -> list[OperatorTextPublic]:
    """In a deployment whose default language is French (Québec), the operator's texts consent
    forms show in English to French readers for want of a translation: told in the server's log
    at start and on the dashboard (elsewhere, none: the English is the pages' default)."""
    if settings.default_language is not Language.FR:
        return []
    return service.operator_texts(language=TranslationLanguage.FR, missing=True)


def switch_url(request: Request, words: Words) -> str | None:
    """The same page in the other language; none on a page that answers a form.

    Following a link is a GET: on a page that answers a POST (a receipt, the last-consent
    confirmation, the erasure receipt with its one-time code, a token shown once) it would
    ask for a page that does not exist, and what was shown once would be lost. There the
    language chosen before the form stays. A one-time link's ``#secret`` never reaches the
    server: ``static/language.js`` carries it over to the link.
    """
    if request.method != "GET":
        return None
    # Relative: behind a proxy that ends TLS, the URL the server saw would say http://.
    switched = request.url.include_query_params(lang=words.language.other)
    return f"{switched.path}?{switched.query}"


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Template ``name`` in the reader's language, with the demo-mode banner's words (never
    cached: :mod:`api.security_headers`); a ``?lang=`` choice is remembered in a cookie."""
    words = words_for(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "_": words,
            "words": words,
            "lang": words.language,
            "switch_url": switch_url(request, words),
            "vocabulary": vocabulary,
            # Every page states demo mode (placeholder accountability) in base.html's banner,
            # in the register's own words (one source string, one translation).
            "demo_mode": request.app.state.settings.demo_mode,
            "demo_warning": DEMO_WARNING,
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") == words.language:
        response.set_cookie(LANGUAGE_COOKIE, words.language, samesite="lax", httponly=True,
                            secure=request.app.state.settings.secure_cookies)
    return response


def advice(error: Refusal) -> str:
    """The English source of what to tell a person about ``error`` (translated when rendered):
    the page's own message when it raised one (marked with ``N_``), else the code's advice;
    never a message written for machines (English, and a library's reason at times)."""
    if error.message in vocabulary.PAGE_MESSAGES:
        return error.message
    return vocabulary.ERRORS.get(error.code, vocabulary.UNEXPLAINED)


def refusal(request: Request, error: Refusal) -> Response:
    """The refusal page: what to do in the reader's language, the stable code as a detail,
    and the status the JSON API answers for that code, with a link back to the area.

    A JSON file fetched (``GET /review/erasures.json``, whose reader is a program) is refused
    as the API refuses, in its JSON shape, not with a page (bad-input test 18, observation 6).
    """
    status = status_for(error.code, default=400)
    if request.method == "GET" and request.url.path.endswith(".json"):
        return error_response(error.code, error.message, status=status, details=error.details)
    return render(
        request,
        "refused.html",
        status_code=status,
        code=error.code,
        advice=advice(error),
        message=error.message,
        back=request.url.path.split("/")[1],
    )


def attempt(request: Request, action: Callable[[], Response]) -> Response:
    """Run a page action; a domain refusal becomes a readable page with its stable code."""
    try:
        return action()
    except (ConsentError, EngineError, ApiError) as error:
        return refusal(request, error)

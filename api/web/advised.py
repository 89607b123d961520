"""Refusals of the JSON routes that the pages' script calls, told in the page's language.

``static/passkey.js`` shows a refusal's ``details.advice`` beside the button or form the person
used: what went wrong and what to do, in the page's language (the reader's switch, else the
browser's). Without it the person would read ``link_invalid: this link is unknown, ...``, an
English message for machines, on a French page too. The stable ``code`` and the ``message``
stay as they are for the API's other clients.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

from optinface.api.error_codes import ApiErrorCode
from optinface.api.errors import ApiError, schema_mismatch
from optinface.api.web import vocabulary
from optinface.api.web.rendering import advice, words_for
from optinface.consent.errors import ConsentError
from optinface.engine.errors import EngineError


async def _advise(request: Request) -> AsyncIterator[None]:
    """Add ``details.advice`` to the route's refusal (one it already wrote for people kept);
    a body that does not match the schema is refused with the same code, status and details
    as everywhere else, and advice."""
    try:
        yield
    except (ConsentError, EngineError, ApiError) as error:
        error.details.setdefault("advice", words_for(request)(advice(error)))
        raise
    except RequestValidationError as error:
        told = words_for(request)(vocabulary.ERRORS[ApiErrorCode.VALIDATION_ERROR])
        raise schema_mismatch(error, advice=told) from error


ADVISED = Depends(_advise)
"""For ``dependencies=[ADVISED]`` of every route that passkey.js calls."""

"""Length and format of every identifier the outside world sends, checked before anything is
stored or logged.

Pseudonyms, ids of purposes, notices, consents and keys are short ASCII tokens made by
:mod:`consent.ledger` and :mod:`consent.apikeys` (``subj_`` + 24 hex digits, ``key_`` + 16...),
and a tombstone is 64 hex digits. Anything longer or stranger is refused as malformed: it could
name nothing, and a refusal that echoed it into the audit log would make every bad request a
permanent row of the attacker's size. Names are free text, but short and without control
characters (they appear in logs, the register and the dashboard).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

from optinface.consent.errors import InvalidRequest

MAX_IDENTIFIER_LENGTH = 64
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_NAME_LENGTH = 200
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
MAX_LEDGER_INTEGER = 2**63 - 1
"""The largest integer a ledger column holds (SQLite INTEGER, PostgreSQL bigint): a position,
offset or tree size beyond it names nothing, and handed to the database it would be a 500."""

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_IDENTIFIER_LENGTH, pattern=IDENTIFIER_PATTERN),
]
"""A pseudonym, a tombstone or the id of a purpose, notice, consent, probe consent or key."""

Name = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN)
]
"""A human-chosen label (an API key's or a purpose's name): one line of printable text."""

_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
_NAME = re.compile(NAME_PATTERN)


def is_identifier(value: str) -> bool:
    return 0 < len(value) <= MAX_IDENTIFIER_LENGTH and _IDENTIFIER.match(value) is not None


def require_identifiers(**values: str | list[str] | None) -> None:
    """Refuse (``invalid_request``) any value that cannot be an identifier; the message names
    the field, never the value."""
    for field, value in values.items():
        candidates = [] if value is None else [value] if isinstance(value, str) else value
        if not all(is_identifier(candidate) for candidate in candidates):
            raise InvalidRequest(
                f"{field} is not an identifier (at most {MAX_IDENTIFIER_LENGTH} letters, digits,"
                " '_' or '-')",
                details={"field": field},
            )


def require_name(name: str, *, field: str = "name") -> None:
    """Refuse (``invalid_request``) a name that is empty, too long or holds a control character;
    for callers that do not come through a :data:`Name` field (the command line)."""
    if not 0 < len(name) <= MAX_NAME_LENGTH or _NAME.match(name) is None:
        raise InvalidRequest(
            f"{field} must be one line of printable text, at most {MAX_NAME_LENGTH} characters",
            details={"field": field},
        )

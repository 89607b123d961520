"""Length and format of every identifier the outside world sends, checked before anything is
stored or logged.

Pseudonyms, ids of purposes, notices, consents and keys are short ASCII tokens made by
:mod:`consent.ledger` and :mod:`consent.apikeys` (``subj_`` + 24 hex digits, ``key_`` + 16...),
and a tombstone is 64 hex digits. Anything longer or stranger is refused as malformed: it could
name nothing, and a refusal that echoed it into the audit log would make every bad request a
permanent row of the attacker's size. Names are free text, but short and without control
characters (they appear in logs, the register and the dashboard): a newline or a NUL stored in
a label would add a line of the attacker's choosing to the regulator's register. Unicode's own
line breaks (NEL, U+2028, U+2029) and C1 controls break a line as well in some viewers, and the
bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) make a label read other
than it is stored, so one line refuses them too, and a label of spaces alone. Longer texts (a
purpose's description, a notice, an answer) may run over several lines, but hold none of those
other characters either.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from optinface.consent.errors import InvalidRequest

MAX_IDENTIFIER_LENGTH = 64
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_NAME_LENGTH = 200
_BEYOND_C0 = r"\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
NOT_ONE_LINE = r"\x00-\x1f" + _BEYOND_C0
"""Controls (C0, DEL, C1 with NEL), Unicode's line and paragraph separators, and the bidi
overrides and isolates, as a character class body."""
_BLANK = r"\s\u200b-\u200f\u2060-\u2064\ufeff\u2800\u3164\uffa0"
"""What shows nothing: white space, the zero-width and invisible format characters, and the
blank Braille and Hangul fillers. Allowed within a text (a zero-width joiner belongs in some
scripts), never as all of it."""
NAME_PATTERN = rf"^[^{NOT_ONE_LINE}]*[^{NOT_ONE_LINE}{_BLANK}][^{NOT_ONE_LINE}]*$"
"""One line with at least one character that shows: a label of spaces or invisible characters
names nothing."""
NOT_TEXT = r"\x00-\x08\x0b\x0c\x0e-\x1f" + _BEYOND_C0
"""What a longer text refuses: :data:`NOT_ONE_LINE` but tabs and line breaks, LF or CRLF (what
an HTML form sends from a textarea)."""
TEXT_PATTERN = rf"^[^{NOT_TEXT}]*$"
WORDS_PATTERN = rf"^[^{NOT_TEXT}]*[^{NOT_TEXT}{_BLANK}][^{NOT_TEXT}]*$"
LANGUAGE_PATTERN = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
"""A SHA-256 as the ledger writes it: 64 lower-case hex digits."""
REFERENCE_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9 ._-]*[A-Za-z0-9])?$"
MAX_LEDGER_INTEGER = 2**63 - 1
"""The largest integer the database takes in a query (SQLite INTEGER, PostgreSQL bigint): an
offset beyond it names nothing, and handed to the database it would be a 500."""
MAX_INTEGER_COLUMN = 2**31 - 1
"""The largest value an ``Integer`` column holds on PostgreSQL (32 bits there, 64 on SQLite): a
template id looked up, a log position or tree size compared with ``audit_events.seq``, or a
count stored, beyond it would be a 500 on PostgreSQL alone."""

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_IDENTIFIER_LENGTH, pattern=IDENTIFIER_PATTERN),
]
"""A pseudonym, a tombstone or the id of a purpose, notice, consent, probe consent or key."""

OneLine = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""One line of printable text; each field sets its own length (``Field(max_length=...)``)."""

Name = Annotated[OneLine, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH)]
"""A human-chosen label (an API key's or a purpose's name): one line of printable text."""

Text = Annotated[str, StringConstraints(pattern=TEXT_PATTERN)]
"""Free text over several lines (a description, a notice, a note); each field sets its
length."""

Words = Annotated[str, StringConstraints(pattern=WORDS_PATTERN)]
""":data:`Text` that says something: what a person is told (an answer, a refusal's reasons)
is never empty or only spaces."""

LanguageTag = Annotated[
    str, StringConstraints(min_length=2, max_length=20, pattern=LANGUAGE_PATTERN)
]
"""A BCP 47 language tag as pages and notices use it (``en``, ``fr-CA``): a primary language
subtag of letters, then subtags of letters and digits joined by ``-``."""

Reference = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, pattern=REFERENCE_PATTERN)
]
"""A regulator's file number (a declaration's, an order's): letters, digits, spaces and
``.``, ``_``, ``-``, beginning and ending with a letter or a digit. An order is lifted at
``/v1/register/orders/{reference}/lift``, so a reference must fit one segment of a URL path:
with a ``/`` (even encoded as ``%2F``) it names another route, and ``.`` or ``..`` alone would be
folded away by clients."""



@cache
def assigned_country_codes() -> frozenset[str]:
    """The ISO 3166-1 alpha-2 codes assigned to a country or territory, from IANA's ``iso3166.tab``.

    The table ships in the ``tzdata`` package, read from disk, never downloaded. Two capitals
    alone let ``XX`` or ``ZZ`` through: a register would then name a hosting country that does not
    exist, and :mod:`consent.transfers` could not say whether the data leave the country.
    """
    table = files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text(encoding="utf-8")
    return frozenset(line[:2] for line in table.splitlines() if line and not line.startswith("#"))


def _assigned(code: str) -> str:
    if code not in assigned_country_codes():
        raise ValueError(f"{code} is not an assigned ISO 3166-1 alpha-2 country code")
    return code


CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"), AfterValidator(_assigned)]
"""An ISO 3166-1 alpha-2 country code, upper case and assigned (``CA``, ``FR``; not ``XX``):
where the database is hosted and where a disclosure's recipient is (:mod:`consent.transfers`
reads both)."""

# The patterns are written for pydantic's regex engine, where ``$`` is the end of the text;
# in Python's ``re`` it also matches before a final newline, hence ``fullmatch`` here.
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
_NAME = re.compile(NAME_PATTERN)
_REFERENCE = re.compile(REFERENCE_PATTERN)


def is_identifier(value: str) -> bool:
    return 0 < len(value) <= MAX_IDENTIFIER_LENGTH and _IDENTIFIER.fullmatch(value) is not None


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
    if not 0 < len(name) <= MAX_NAME_LENGTH or _NAME.fullmatch(name) is None:
        raise InvalidRequest(
            f"{field} must be one line of printable text, at most {MAX_NAME_LENGTH} characters",
            details={"field": field},
        )


def require_reference(reference: str, *, field: str = "reference") -> None:
    """Refuse (``invalid_request``) what cannot be a :data:`Reference`; checked by the use
    cases themselves, so the command line and notebooks meet the rule the API's body states."""
    if not 0 < len(reference) <= MAX_NAME_LENGTH or _REFERENCE.fullmatch(reference) is None:
        raise InvalidRequest(
            f"{field} must be letters, digits, spaces, '.', '_' or '-', beginning and ending with"
            f" a letter or a digit, at most {MAX_NAME_LENGTH} characters",
            details={"field": field},
        )


def is_sha256(text: str) -> bool:
    """Whether ``text`` is a SHA-256 as :data:`SHA256_PATTERN` has it."""
    return re.fullmatch(SHA256_PATTERN, text) is not None


PSEUDONYM_PREFIX = "subj_"
"""How every subject's pseudonym begins (``consent.ledger`` makes them)."""


def require_reason(reason: str) -> None:
    """One printable line naming no subject: the reason stays in the log and the journal after
    any erasure, which must leave no pseudonym behind; an incident or ticket reference says
    why without naming the person.

    Raises:
        InvalidRequest: ``reason`` is not one line of printable text, or names a pseudonym.
    """
    require_name(reason, field="reason")
    if PSEUDONYM_PREFIX in reason:
        raise InvalidRequest("the reason names a subject: cite an incident or ticket reference,"
                             " never a person", details={"field": "reason"})

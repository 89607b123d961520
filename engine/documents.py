"""Reading the JSON and TOML someone hands over: every way it can be broken, one exception.

A file from a user (a receipt, an export of the log, a checkpoint kept) or an operator's file
named by a setting (the model manifest, the thresholds) can hold anything. Python's parsers
refuse it in several ways that share no class: a syntax error, bytes that are not UTF-8, an
integer of more than 4,300 digits (``ValueError``), nesting deeper than they recurse
(``RecursionError``). Each caller listing them would forget one and end in a traceback
(bad-input test 18, #2 and #3), so they are listed here once.

Two more rules for JSON, the same for every caller (red team 7, #8 (c) and #11). An object that
names a key twice is refused: Python keeps the last value, another reader the first, so a
receipt holding ``"piiPrincipalId"`` twice would say one thing to the verifier and another to a
person or a court; no file optinface writes has one. And a UTF-8 byte order mark before the
text (older Notepad saves one) is skipped: the text after it is the same document.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from optinface.engine.errors import ManifestUnreadable

UNREADABLE = (ValueError, RecursionError)
"""What a parser raises for input it cannot read: ``ValueError`` covers ``JSONDecodeError``,
``TOMLDecodeError``, ``UnicodeDecodeError`` and the integer-digit limit."""


BOM = "\ufeff"


def json_from(text: str | bytes) -> Any:
    """``text`` parsed as JSON: bytes must be UTF-8; a byte order mark before it is skipped.

    Raises:
        ValueError: ``text`` is not JSON this process can read, or an object in it names a key
            twice, in one line.
    """
    try:
        decoded = text.decode("utf-8-sig") if isinstance(text, bytes) else text
        return json.loads(decoded.removeprefix(BOM), object_pairs_hook=_unique_keys)
    except UNREADABLE as error:
        raise ValueError(unreadable_reason(error)) from error


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """One object of the document, refused if it names a key twice (see the module docstring)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        twice = next(key for key, n in Counter(key for key, _ in pairs).items() if n > 1)
        raise ValueError(f"an object names the key {json.dumps(twice)[:80]} twice")
    return found


def toml_file(path: Path, what: str) -> dict[str, Any]:
    """The TOML file ``path``, ``what`` naming it in a refusal (``model manifest``).

    Raises:
        ManifestUnreadable: the file cannot be read, or is not UTF-8 TOML this process can read.
    """
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except (OSError, *UNREADABLE) as error:
        raise ManifestUnreadable(
            f"{what} {path} cannot be read: {unreadable_reason(error)}") from error


def unreadable_reason(error: Exception) -> str:
    """The parser's reason, without the advice meant for a programmer (the digit limit's
    ``; use sys.set_int_max_str_digits() to increase the limit``)."""
    return str(error).split(";", 1)[0]

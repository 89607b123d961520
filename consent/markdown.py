"""Literal text inside the Markdown the service writes (the register, the access export, the
incident notices).

Names and notes come from people and operators: written as they are, a recipient's name could
add a link, an HTML tag or a heading to a document a regulator or a person opens, and a false
section (an order "lifted", a purpose that is not there) to the register. :func:`markdown_text`
escapes what Markdown reads as markup and keeps line breaks inside the list item they belong
to; a line of a longer text that begins with a list, quote or heading mark (``- ``, ``1.``,
``===``) is escaped too, or it would open an item or a heading of its own.
"""

from __future__ import annotations

import re

_MARKDOWN_SYNTAX = re.compile(r"([\\`*_\[\]<>#|!])")
_BLOCK_MARK = re.compile(
    r"^(\s*)(?:([-+])(?=\s|$)|(\d+)([.)])(?=\s|$)|([=~-])(?=[=~-]*\s*$))", re.MULTILINE)
"""A line's opening list item (``- ``, ``+ ``, ``1. ``, ``2) ``), or a line of ``=``, ``~`` or
``-`` alone (a heading's underline, a fence, a rule): what would make a block of its own."""


def _escape_mark(mark: re.Match[str]) -> str:
    """The mark with a backslash before its punctuation (``1\\.``: one before a digit would be
    shown)."""
    indent, bullet, number, closer, rule = mark.groups()
    if number:
        return f"{indent}{number}\\{closer}"
    return f"{indent}\\{bullet or rule}"


_LINE_BREAK = re.compile(r"\r\n?")


def markdown_text(value: str) -> str:
    """``value`` as literal Markdown text: emphasis, link, HTML, heading and table marks
    escaped, line breaks kept inside the list item.

    A CR ends a line in Markdown as LF and CRLF do (a text allows all three), so every break
    becomes LF first: the marks are escaped at the start of each line Markdown will see.
    """
    escaped = _BLOCK_MARK.sub(_escape_mark, _MARKDOWN_SYNTAX.sub(
        r"\\\1", _LINE_BREAK.sub("\n", value)))
    return "  \n  ".join(escaped.splitlines()) if "\n" in escaped else escaped

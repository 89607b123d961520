"""Literal text inside the Markdown the service writes (the register, the access export).

Names and notes come from people and operators: written as they are, a recipient's name could
add a link, an HTML tag or a heading to a document a regulator or a person opens, and a false
section (an order "lifted", a purpose that is not there) to the register. :func:`markdown_text`
escapes what Markdown reads as markup and keeps line breaks inside the list item they belong
to.
"""

from __future__ import annotations

import re

_MARKDOWN_SYNTAX = re.compile(r"([\\`*_\[\]<>#|!])")


def markdown_text(value: str) -> str:
    """``value`` as literal Markdown text: emphasis, link, HTML, heading and table marks
    escaped, line breaks kept inside the list item."""
    escaped = _MARKDOWN_SYNTAX.sub(r"\\\1", value)
    return "  \n  ".join(escaped.splitlines()) if "\n" in escaped else escaped

"""How the consent core words a text it writes for a person, in that person's language.

The core writes English source strings with ``{fields}`` (``say("When: {period}",
period=...)``); the layer that knows the reader passes a :class:`Say` that puts them in the
reader's language: the pages' ``api.web.i18n.Words``, whose French dictionary holds every
such string and whose tests prove it complete. The core cannot import the web layer, so it
takes the callable; without one it writes the English itself.
"""

from __future__ import annotations

from typing import Protocol


class Say(Protocol):
    def __call__(self, text: str, /, **values: object) -> str:
        """``text`` in the reader's language, its ``{fields}`` filled from ``values``."""
        ...


def english(text: str, /, **values: object) -> str:
    """The source string itself: what a caller that knows no reader's language gets."""
    return text.format(**values) if values else text

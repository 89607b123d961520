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
    @property
    def language(self) -> str:
        """The reader's language (``en``, ``fr``): what a signed text records it was read in."""
        ...

    def __call__(self, text: str, /, **values: object) -> str:
        """``text`` in the reader's language, its ``{fields}`` filled from ``values``."""
        ...

    def number(self, value: float) -> str:
        """``value`` as the reader writes numbers (``1 234,5`` in French)."""
        ...


class _English:
    """The source strings themselves, and numbers as Python prints them: what a caller that
    knows no reader's language gets."""

    language = "en"

    def __call__(self, text: str, /, **values: object) -> str:
        return text.format(**values) if values else text

    def number(self, value: float) -> str:
        return f"{value:g}"


english: Say = _English()

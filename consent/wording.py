"""How the consent core words a text it writes for a person, in that person's language.

The core writes English source strings with ``{fields}`` (``say("When: {period}",
period=...)``); the layer that knows the reader passes a :class:`Say` that puts them in the
reader's language: the pages' ``api.web.i18n.Words``, whose French dictionary holds every
such string and whose tests prove it complete. The core cannot import the web layer, so it
takes the callable; without one it writes the English itself, exactly as it always has (times
in ISO 8601, figures as Python writes them), so a document's English does not change with the
language support.
"""

from __future__ import annotations

from datetime import date, datetime
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

    def decimal(self, written: str) -> str:
        """A figure as Python wrote it (``0.0001``, ``0.29544511437416077``), every digit kept,
        with the reader's decimal mark: what a document declares exactly, where
        :meth:`number` rounds to three decimals."""
        ...

    def reword(self, text: str) -> str:
        """``text`` the core already formatted from one of its English source strings (a
        retention rule naming its years), in the reader's language; other text as it is."""
        ...

    def when(self, moment: datetime) -> str:
        """A time as the reader reads it."""
        ...

    def day(self, day: date | str) -> str:
        """A day (a date, or one written in ISO 8601) as the reader writes it."""
        ...


class _English:
    """The source strings themselves, numbers as Python prints them and times in ISO 8601:
    what a caller that knows no reader's language gets."""

    language = "en"

    def __call__(self, text: str, /, **values: object) -> str:
        return text.format(**values) if values else text

    def number(self, value: float) -> str:
        # A count stays whole: ``:g`` would write a million as 1e+06.
        return str(value) if isinstance(value, int) else f"{value:g}"

    def decimal(self, written: str) -> str:
        return written

    def reword(self, text: str) -> str:
        return text

    def when(self, moment: datetime) -> str:
        return moment.isoformat()

    def day(self, day: date | str) -> str:
        return str(day)


english: Say = _English()

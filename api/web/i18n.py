"""The pages in French and English: English source strings, one typed dictionary for French.

Why not Babel's gettext catalogues for the words: ``.po`` files must be compiled to ``.mo`` at
build time, our setuptools build has no hook for it, and a forgotten compile only shows at run
time. Here the pages write ``_("English text")`` and :data:`french.FRENCH` maps it, a plain dict
that mypy checks and ``tests/api/test_i18n.py`` proves complete (every ``_("...")`` of the
templates and of the page modules has a French entry). Babel does what a dictionary cannot:
dates and times in the reader's language and the deployment's time zone, from the CLDR data in
its wheel.

The language is the one the reader chose with the switch (a cookie), else the first of the
browser's ``Accept-Language`` we speak, else the deployment's default
(``OPTINFACE_DEFAULT_LANGUAGE``, English unless set: a Québec deployment sets ``fr``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from string import Formatter
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, get_decimal_symbol

from optinface.api.web.french import FRENCH

LANGUAGE_COOKIE = "optinface_lang"


class Language(StrEnum):
    EN = "en"
    FR = "fr"

    @property
    def other(self) -> Language:
        return Language.FR if self is Language.EN else Language.EN

    @property
    def name_in_itself(self) -> str:
        return "Français" if self is Language.FR else "English"


_LOCALES = {Language.EN: "en_CA", Language.FR: "fr_CA"}


def _pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching ``template`` formatted with any values of its fields."""
    parts = []
    for literal, name, _, _ in Formatter().parse(template):
        parts.append(re.escape(literal))
        if name:
            parts.append(f"(?P<{name}>.+?)")
    return re.compile("".join(parts), re.DOTALL)


def _literal(template: str) -> str:
    return "".join(literal for literal, _, _, _ in Formatter().parse(template))


# Source strings with fields or braces, the most specific (longest literal text) first; a
# template that is mostly fields ("{action}: {outcome}") would match any text, so is left out.
_PATTERNS = sorted(
    ((t, _pattern(t)) for t in FRENCH if "{" in t and len(_literal(t)) >= 12),
    key=lambda found: -len(_literal(found[0])),
)


def N_(text: str) -> str:
    """Mark a source string where it is defined; it is translated where it is rendered."""
    return text


def negotiate(accept_language: str | None, chosen: str | None) -> Language | None:
    """The reader's choice, else the browser's first language we speak (by q-value); None when
    neither names one: the deployment's default is filled in where the settings are known
    (``rendering.words_in``), so every caller honours it."""
    if chosen in set(Language):
        return Language(chosen)
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, position, tag.split("-")[0].lower()))
    for weight, _, tag in sorted(ranked):
        if weight < 0 and tag in set(Language):
            return Language(tag)
    return None


@dataclass(frozen=True, slots=True)
class Words:
    """What a page needs to speak to its reader: words, times and days in one language."""

    language: Language
    zone: ZoneInfo
    own: Mapping[str, str] = field(default_factory=dict)  # the operator's French for its texts

    def __call__(self, text: str, /, **values: object) -> str:
        """``text`` in the reader's language, with ``{name}`` fields filled from ``values``."""
        template = text
        if self.language is Language.FR:
            template = self.own.get(text) or FRENCH.get(text, text)
        return template.format(**values) if values else template

    def reword(self, text: str) -> str:
        """``text`` written by the consent core from an English source string (formatted with
        its ``{fields}``, e.g. a rule naming a number of years), in the reader's language: the
        source string is found by matching, its fields carried over. Text no source string
        matches (an operator's own words) is shown as it is. A field's value is reworded too:
        a warning quoting a refusal ("Matching refused: {reason}.") reads wholly French."""
        if self.language is Language.EN or text in FRENCH:
            return self(text)
        for template, pattern in _PATTERNS:
            found = pattern.fullmatch(text)
            if found:  # format() even without fields: a route's {{braces}} become single
                return self(template).format(
                    **{name: self.reword(value) for name, value in found.groupdict().items()})
        return text

    @property
    def locale(self) -> str:
        return _LOCALES[self.language]

    def when(self, moment: datetime | str | None) -> str:
        """A time as a person reads it: local, to the minute, with the time zone.

        A time at the calendar's edge (year 1 or 9999, stored before the service refused
        them) has no local time (the conversion overflows): it is shown as written, in ISO
        8601, rather than making the whole page fail every time it is opened.
        """
        if moment is None:
            return ""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        try:
            return format_datetime(moment, "d MMM y, HH:mm zzz", tzinfo=self.zone,
                                   locale=self.locale)
        except OverflowError:
            return moment.isoformat()

    def number(self, value: float) -> str:
        """A number as the reader writes it, to three decimals: 10,000 / 10 000; 0.295 / 0,295."""
        return format_decimal(value, locale=self.locale)

    def decimal(self, written: str) -> str:
        """A figure as Python wrote it, every digit kept, with the reader's decimal mark
        (0.29544511437416077 / 0,29544511437416077): a declared threshold or rate, which
        :meth:`number` would round."""
        return written.replace(".", get_decimal_symbol(self.locale))

    def percent(self, rate: float) -> str:
        """A rate as a percentage to three decimals: 0.159% / 0,159 % (French typography
        spaces the sign, which CLDR's percent patterns give only without decimals)."""
        sign = "\u00a0%" if self.language is Language.FR else "%"
        return self.number(rate * 100) + sign

    def plural(self, count: int, one: str, other: str) -> str:
        """``one`` or ``other`` (each already in the reader's words, ``{n}`` unfilled) as the
        language's plural rule picks for ``count``, filled with the count as the reader writes
        it: French takes the singular for 0 and 1 ("1 effacement"), English for 1 only."""
        form = Locale.parse(self.locale).plural_form(count)
        return (one if form == "one" else other).format(n=self.number(count))

    def day(self, day: date | str) -> str:
        """A day (a date, or one written in ISO 8601) as the reader writes it; text that is
        not a day in ISO 8601 (a calibration file written by hand) is shown as written."""
        if isinstance(day, str):
            try:
                return self.day(date.fromisoformat(day))
            except ValueError:
                return day
        return format_date(day, "EEE d MMM y", locale=self.locale)

    def month(self, first: date) -> str:
        return format_date(first, "MMMM y", locale=self.locale)

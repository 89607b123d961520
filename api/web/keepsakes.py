"""One-time codes for the erasure receipt: the one thing a person may fetch after their session.

Erasure ends the session (the subject and its token are gone), so the receipt page offers the
download at once and shows a code that fetches it once more, for a person whose download failed
or who closed the tab. The code opens that receipt only, a limited number of times, for a day;
codes live in this process's memory like the sessions, so a restart forgets them (the tombstone
and its signed receipt stay in the ledger, where a reviewer can still read them).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
CODE_LENGTH = 12
LIFETIME = timedelta(days=1)
FETCHES = 2  # the download offered on the page, and once more


@dataclass(slots=True)
class _Kept:
    text: str
    expires_at: datetime
    fetches_left: int


def normalise(code: str) -> str:
    return "".join(c for c in code.upper() if c in CODE_ALPHABET)


class Keepsakes:
    """Thread-safe map from one-time code to a receipt's JSON text."""

    def __init__(self) -> None:
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def keep(self, text: str, *, now: datetime) -> str:
        """A new code for ``text``, formatted in groups of four to be copied by hand."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        with self._lock:
            for stale in [c for c, k in self._kept.items() if k.expires_at <= now]:
                del self._kept[stale]
            self._kept[code] = _Kept(text=text, expires_at=now + LIFETIME, fetches_left=FETCHES)
        return "-".join(code[i : i + 4] for i in range(0, CODE_LENGTH, 4))

    def fetch(self, code: str, *, now: datetime) -> str | None:
        """The receipt once per remaining fetch, then never again; None for a wrong code."""
        with self._lock:
            kept = self._kept.get(normalise(code))
            if kept is None or kept.expires_at <= now:
                return None
            kept.fetches_left -= 1
            if kept.fetches_left == 0:
                del self._kept[normalise(code)]
            return kept.text

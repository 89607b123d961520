"""CSV as the app writes it: every cell one a spreadsheet shows as text, never runs.

The one writer of every CSV the app answers (the audit log's export and downloads, the
dashboard's search counts). Its cells carry what others typed: a purpose name the operator
chose, a ``purpose_id`` a researcher sent (kept in the log even when refused), and the reviewer
who opens the file is the one checking them: ``=HYPERLINK(...)`` or ``-A1-B1`` must not run on
their side (OWASP's CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""How a cell begins that a spreadsheet would run as a formula (OWASP's CSV injection list)."""


def inert(cell: Any) -> Any:
    """A text cell that begins like a formula gets a leading apostrophe (a spreadsheet shows
    the rest as text); numbers and other cells are written as they are."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """``rows`` (the header first) as CSV text, every cell :func:`inert`."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([inert(cell) for cell in row] for row in rows)
    return buffer.getvalue()

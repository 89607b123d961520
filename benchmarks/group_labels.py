"""The operator's group labels for ``eval_differential --groups FILE``, read strictly.

The project ships no labels: a demographic label attached to a real person is itself
sensitive data, so it is the operator's to supply, for people who agreed to it, and it is never
committed. The file maps each identity (a folder name of the data set) to a group:

.. code-block:: text

    identity,group
    Person_0001,group A
    Person_0002,group B

UTF-8 (a byte-order mark is accepted), comma-separated, the header ``identity,group`` first,
one identity per row; blank rows are skipped; identities of the data set left out of the file
are left out of every group. A refusal names the line, never the identity or the label, so a
terminal or a log never shows who belongs to which group.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from typing import NoReturn

HEADER = ["identity", "group"]
MAX_LABEL = 64


class RefusalCode(StrEnum):
    """Stable codes of what ``eval_differential`` refuses, one line each."""

    DATASET_MISSING = "dataset_missing"
    GROUPS_UNREADABLE = "groups_unreadable"
    GROUPS_MALFORMED = "groups_malformed"
    GROUPS_UNKNOWN_IDENTITY = "groups_unknown_identity"
    TOO_FEW_COMPARISONS = "too_few_comparisons"


class DifferentialRefused(Exception):
    """Input the evaluation cannot use; ``code`` is stable, ``message`` names no person."""

    def __init__(self, code: RefusalCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def read_group_labels(path: Path, identities: Collection[str]) -> dict[str, str]:
    """Each labelled identity's group, from ``path``.

    Args:
        path: The CSV file (format in the module docstring).
        identities: The data set's identities (its folder names).

    Raises:
        DifferentialRefused: ``groups_unreadable`` (no such file, not UTF-8),
            ``groups_malformed`` (header, a row's fields, an empty or over-long or
            control-character cell, an identity twice, fewer than two groups) or
            ``groups_unknown_identity`` (an identity that is not in the data set).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = ("not UTF-8" if isinstance(error, UnicodeDecodeError)
                  else error.strerror or type(error).__name__)
        raise DifferentialRefused(
            RefusalCode.GROUPS_UNREADABLE, f"{path.name}: {reason}"
        ) from error
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        # Each row with its last line: a quoted cell may span several.
        numbered = [(rows.line_num, row) for row in rows]
    except csv.Error as error:  # a quote left open, text after a closing quote
        _malformed(rows.line_num, str(error))
    if not numbered or [cell.strip() for cell in numbered[0][1]] != HEADER:
        _malformed(1, "the first line must be the header 'identity,group'")
    known = set(identities)
    labels: dict[str, str] = {}
    for line, row in numbered[1:]:
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            _malformed(line, f"{len(row)} fields, expected 2 (identity,group)")
        identity, group = (cell.strip() for cell in row)
        for name, cell in (("identity", identity), ("group", group)):
            if not cell:
                _malformed(line, f"the {name} is empty")
            if any(unicodedata.category(c) == "Cc" for c in cell):
                _malformed(line, f"the {name} holds a control character")
        if len(group) > MAX_LABEL:
            _malformed(line, f"the group label is longer than {MAX_LABEL} characters")
        if identity in labels:
            _malformed(line, "this identity is already labelled on an earlier line")
        if identity not in known:
            raise DifferentialRefused(
                RefusalCode.GROUPS_UNKNOWN_IDENTITY,
                f"line {line}: the identity is not a folder of the data set",
            )
        labels[identity] = group
    if len(set(labels.values())) < 2:
        _malformed(None, "at least two groups are needed to compare them")
    return labels


def _malformed(line: int | None, reason: str) -> NoReturn:
    where = f"line {line}: " if line is not None else ""
    raise DifferentialRefused(RefusalCode.GROUPS_MALFORMED, f"{where}{reason}")

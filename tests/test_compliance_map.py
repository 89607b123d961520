"""docs/compliance.md maps every row of the legal matrix to the test that proves it.

The matrix (docs/compliance-matrix.md, a copy of the research draft) names each obligation by
an ID (Q-01, L-05, G-11, B-01, A-06, X-ACC, D-1...). Each ID needs its row in the map, and every
test the map names must exist, so the map cannot drift from the suite. A row without a test
must say why: ``open`` (and which issue covers it) or ``n/a``.
"""

from __future__ import annotations

import re

from tests.support.docs import ROOT, page

MATRIX = page("compliance-matrix")
MAP = page("compliance")

MATRIX_ROW = re.compile(r"^\| ([QLGBA]-\d{2}) \|", re.MULTILINE)
CROSS_CUTTING = re.compile(r"^### (X-[A-Z]+) ", re.MULTILINE)
MAP_ROW = re.compile(r"^\| ((?:[QLGBA]-\d{2})|(?:X-[A-Z]+)|D-1) \|(.*)$", re.MULTILINE)
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def matrix_ids() -> set[str]:
    text = MATRIX.read_text(encoding="utf-8")
    return {*MATRIX_ROW.findall(text), *CROSS_CUTTING.findall(text), "D-1"}


def map_rows() -> dict[str, str]:
    return dict(MAP_ROW.findall(MAP.read_text(encoding="utf-8")))


def test_every_matrix_row_is_in_the_compliance_map() -> None:
    ids = matrix_ids()
    assert len(ids) >= 70  # the matrix's 70 rows and D-1: a parse that finds fewer is broken
    assert sorted(ids - set(map_rows())) == []


def test_every_test_the_map_names_exists() -> None:
    missing = []
    for path, name in TEST_REF.findall(MAP.read_text(encoding="utf-8")):
        source = ROOT / path
        if not source.is_file() or not re.search(rf"^def {name}\(", source.read_text(
                encoding="utf-8"), re.MULTILINE):
            missing.append(f"{path}::{name}")
    assert missing == []


def test_a_row_without_a_test_says_why() -> None:
    silent = [row_id for row_id, cells in map_rows().items()
              if not TEST_REF.search(cells) and not re.search(r"\b(open|n/a)\b", cells)]
    assert silent == []

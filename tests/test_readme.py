"""The README's examples run as written."""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from pathlib import Path

import pytest

from optinface.api.errors import STATUS_BY_CODE

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_block(heading: str) -> str:
    section = README.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert found, f"no python block under '{heading}'"
    return found.group(1)


def test_library_example_finds_a_candidate_then_erases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its data dir lands in tmp_path
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(_python_block("As a Python library"), str(README), "exec"), {})
    outcome, review, timings = output.getvalue().splitlines()
    assert re.fullmatch(r"candidates_for_review \[\('subj_[0-9a-f]+', 'provisional'\)\]", outcome)
    assert review == "confirmed"
    assert re.fullmatch(r"unsearchable after \d+ ms, gone after \d+ ms", timings)


def _documented_statuses() -> dict[str, int]:
    """The README's error table: each code with the HTTP status its row gives."""
    section = README.read_text().split("### Errors\n", 1)[1].split("\n## ", 1)[0]
    found: dict[str, int] = {}
    for codes, status in re.findall(r"^\| (.+?) \| (\d{3})", section, flags=re.MULTILINE):
        for code in re.findall(r"(?:^|, )([a-z_]+)", codes):
            found[code] = int(status)
    return found


def test_the_readme_error_table_lists_every_code_with_its_status() -> None:
    assert _documented_statuses() == STATUS_BY_CODE

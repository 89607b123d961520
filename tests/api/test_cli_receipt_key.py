"""``optinface keys rotate-receipt-key`` as an operator runs it: under a version 2 declaration it
says the rotation is a material change and asks first (no: nothing changes; --yes: rotated),
and a reason naming a subject is one line that changes nothing."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from optinface.api.cli.keys import MATERIAL_CHANGE
from optinface.api.cli.main import app
from tests.support.console import (
    commands_data_dir,
    console,
    printed_secret,
    seeded_for_bootstrap,
)

REASON = "INC-7: receipt key copied"
PROMPT = "Replace the receipt key? [y/N]"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return commands_data_dir(tmp_path, monkeypatch)


def _invoke(*args: str, answer: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=answer)


@pytest.fixture
def admin(data_dir: Path) -> str:
    made = _invoke("keys", "create", "--role", "admin", "--name", "ops",
                   "--data-dir", str(seeded_for_bootstrap(data_dir)))
    assert made.exit_code == 0, made.output
    return printed_secret(made.stdout)


def _keys(data_dir: Path) -> tuple[list[str], list[str], int]:
    """The receipt key in force and the retired ones, as the register publishes them, and how
    many rotations the log holds."""
    shown = _invoke("register", "--format", "json", "--data-dir", str(data_dir))
    assert shown.exit_code == 0, shown.output
    register = json.loads(shown.stdout)
    with closing(sqlite3.connect(data_dir / "optinface.db")) as db:
        [(rotations,)] = db.execute("SELECT count(*) FROM audit_events"
                                    " WHERE action = 'receipt_key_rotated'")
    return ([register["signing_keys"][0]["public_key"]],
            [k["public_key"] for k in register["retired_signing_keys"]], rotations)


def test_under_a_version_2_declaration_the_rotation_says_it_is_material_and_asks_first(
    data_dir: Path, admin: str,
) -> None:
    d = ("--data-dir", str(data_dir))
    declared = _invoke("register", "declare", "--date", "2026-01-05", "--reference", "CAI-9",
                       "--api-key", admin, *d)
    assert declared.exit_code == 0, declared.output
    material = MATERIAL_CHANGE.format(declared_on="2026-01-05")
    before = _keys(data_dir)

    refused = _invoke("keys", "rotate-receipt-key", "--reason", REASON, *d, answer="n\n")
    assert refused.exit_code == 1, refused.output
    assert material in refused.stderr.replace("\n", " ") and PROMPT in refused.stdout
    assert _keys(data_dir) == before  # no key replaced, none retired, nothing chained

    rotated = _invoke("keys", "rotate-receipt-key", "--reason", REASON, "--yes", *d)
    assert rotated.exit_code == 0, rotated.output
    assert material in rotated.stderr.replace("\n", " ") and PROMPT not in rotated.output
    done = json.loads(rotated.stdout)
    [old], _, _ = before
    assert _keys(data_dir) == ([done["new_public_key"]], [old], 1)


def test_without_a_declaration_the_rotation_asks_nothing(data_dir: Path, admin: str) -> None:
    [old], _, _ = _keys(data_dir)
    rotated = _invoke("keys", "rotate-receipt-key", "--reason", REASON,
                      "--data-dir", str(data_dir))
    assert rotated.exit_code == 0 and rotated.stderr == "", rotated.output
    assert _keys(data_dir) == ([json.loads(rotated.stdout)["new_public_key"]], [old], 1)


def test_a_reason_naming_a_subject_is_refused_in_one_line_and_changes_nothing(
    data_dir: Path, admin: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _keys(data_dir)
    code, lines = console(monkeypatch, capsys, "keys", "rotate-receipt-key", "--reason",
                          "asked by subj_0123456789abcdef01234567", "--yes",
                          "--data-dir", str(data_dir))
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("refused: invalid_request: "), lines
    assert _keys(data_dir) == before

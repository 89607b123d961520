"""The first admin API key, where a log keeps the server's output (review 25): with
``OPTINFACE_FIRST_ADMIN_KEY_FILE`` a first run writes it to that file, 0600, and prints it
nowhere; each later start names the file while it is still there. Without the setting it is
printed once (``test_load.py``); a file whose folder does not exist is refused in one line
before anything is made."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from tests.support.server import inherited_environment, serve_environment, serve_process

pytestmark = pytest.mark.slow  # two starts of a server process


def _environment(tmp_path: Path, key_file: Path) -> dict[str, str]:
    return serve_environment(tmp_path, OPTINFACE_FIRST_ADMIN_KEY_FILE=str(key_file))


def test_the_first_admin_key_goes_to_its_file_never_to_the_output(tmp_path: Path) -> None:
    key_file = tmp_path / "custody" / "first-admin-key"
    key_file.parent.mkdir()
    env = _environment(tmp_path, key_file)
    with serve_process(tmp_path / "var", env) as first:
        secret = key_file.read_text().strip()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        listed = httpx2.get(f"{first.url}/v1/keys", headers={"X-API-Key": secret})
        assert listed.status_code == 200 and len(listed.json()) == 1, listed.text
    assert secret not in first.output() and not re.search(r"\bkey_", first.output())
    assert f"Admin API key written to {key_file} (0600), not printed" in first.output()

    with serve_process(tmp_path / "var", env) as later:
        pass
    assert f"first admin API key's file {key_file} is still there" in later.output()
    assert secret not in later.output() and key_file.read_text().strip() == secret


def test_a_key_file_whose_folder_does_not_exist_is_refused_before_anything_is_made(
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "missing" / "first-admin-key"
    started = subprocess.run(
        [sys.executable, "-m", "optinface.api.cli.main", "serve", "--data-dir",
         str(tmp_path / "var")],
        env={**inherited_environment(), **_environment(tmp_path, key_file)},
        capture_output=True, text=True, timeout=120, check=False)
    assert started.returncode == 1, started
    assert started.stderr.strip() == (f"refused: unwritable_file: cannot write {key_file}:"
                                       f" {key_file.parent} is not a folder"), started
    assert not (tmp_path / "var").exists()

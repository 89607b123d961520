"""The ``optinface`` console script as an operator's shell runs it: :func:`api.cli.main.run`,
which turns every refusal into one line with its stable code (``CliRunner`` invokes the typer
app underneath, so it would see the exception instead)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from optinface.api.cli.main import run
from optinface.api.settings import load_settings
from tests.support.api import thresholds_for_tests
from tests.support.ledger_template import seed_ledger
from tests.support.server import free_port

FREE_PORT = "{a free port}"
"""Stands, in a parametrized argument, for a port found free when the command runs
(:func:`at_run`): a port chosen while the tests were collected can be another worker's
server's by the time this test runs (``address_unavailable`` instead of the refusal tried)."""


def at_run(argument: str) -> str:
    """``argument`` with :data:`FREE_PORT` replaced by a port free now."""
    return argument.replace(FREE_PORT, str(free_port())) if FREE_PORT in argument else argument


def in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
               *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``optinface ARGS`` in this process (:data:`FREE_PORT` chosen now), as the console
    script does, shaped as a finished process: its exit status and what it printed on each
    stream. Where a test runs a command many times, a process of its own for each costs a
    second or more of imports, the same each time; one test keeps that process."""
    capsys.readouterr()  # what the test printed before is not the command's
    monkeypatch.setattr(sys, "argv", ["optinface", *map(at_run, args)])
    with pytest.raises(SystemExit) as ended:
        run()
    code = ended.value.code
    printed = capsys.readouterr()
    return subprocess.CompletedProcess(args, code if isinstance(code, int) else 1,
                                       printed.out, printed.err)


def console(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            *args: str) -> tuple[int, list[str]]:
    """:func:`in_process`: its exit status and the lines of its stderr."""
    done = in_process(monkeypatch, capsys, *args)
    return done.returncode, done.stderr.splitlines()


def printed_secret(output: str) -> str:
    """The secret a command printed once (``secret (shown once): ...``)."""
    match = re.search(r"secret \(shown once\): (\S+)", output)
    assert match, output
    return match.group(1)


def commands_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the commands under test keep a deployment (``tmp_path/var``, not made), with the
    settings they need (test thresholds) and no admin key from the environment."""
    monkeypatch.setenv("OPTINFACE_THRESHOLDS_PATH", str(thresholds_for_tests(tmp_path)))
    monkeypatch.setenv("OPTINFACE_MATCH_FMR", "0.0001")
    monkeypatch.delenv("OPTINFACE_API_KEY", raising=False)
    return tmp_path / "var"


def seeded_for_bootstrap(data_dir: Path) -> Path:
    """``data_dir`` with the migrated ledger (:mod:`tests.support.ledger_template`) copied where
    the bootstrap ``keys create`` will make its deployment, as the commands' settings place it:
    the bootstrap still migrates it (nothing to do at the head revision) and makes the keys and
    the first admin key on it. Migrating from nothing was 14 % of the commands' tests' time,
    and is not what they are about."""
    seed_ledger(load_settings(data_dir=data_dir))
    return data_dir

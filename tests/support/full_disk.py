"""Disks that take no more bytes, as an operator's fill up: a command run where it may write no
file past a size, and a small file system mounted for a test (root only)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

_CONSOLE_UNDER_A_LIMIT = (
    "import resource, sys\n"
    "from optinface.api.cli.main import run\n"
    "limit = int(sys.argv.pop(1))\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE,"
    " (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
    "run()\n")


def console_on_a_full_disk(limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``optinface ARGS`` in a child process that may write no file past ``limit`` bytes: its
    writes there fail (``EFBIG``, which SQLite reports as a disk I/O error), as on a full disk,
    whatever file system the test runs on."""
    return subprocess.run([sys.executable, "-c", _CONSOLE_UNDER_A_LIMIT, str(limit), *args],
                          capture_output=True, text=True, timeout=120)


@contextmanager
def small_file_system(folder: Path, *, size: str = "16k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` (made) while the block runs: a disk that is
    full (``ENOSPC``, SQLite's "database or disk is full") once that much is written. Only
    root mounts one; skipped elsewhere."""
    folder.mkdir()
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None or subprocess.run(
            [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True, check=False).returncode != 0:
        pytest.skip("run as root where a tmpfs can be mounted")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)

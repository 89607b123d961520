"""A command timed in a fresh Python process, from its start to its exit, as a user runs it."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path


def timed_run(arguments: list[str], *, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> tuple[float, float]:
    """``python ARGUMENTS`` run once (exit 0 required, output dropped): its wall-clock seconds
    and its CPU seconds, user and system, of the process alone (the only child waited for
    meanwhile), which a busy machine moves far less than the wall-clock."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *arguments], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                   check=True, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - used.ru_utime) + (after.ru_stime - used.ru_stime)

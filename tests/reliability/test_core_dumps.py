"""A crash leaves no copy of memory on disk (:mod:`engine.core_dumps`).

A core dump of a server would hold what erasure promises is gone: probes, the index's plaintext
vectors, the key store's keys. Each test kills a process with SIGSEGV in a folder of its own,
where this machine's ``kernel.core_pattern`` (a plain file name) has the kernel write a core,
and first shows that a plain Python process started the same way does leave one there: without
that, the machine writes no core for anybody and the test proves nothing, so it is skipped.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.server import serve_environment, serve_process

CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")


def _cores_allowed() -> None:
    """In the child, before it runs: the largest core limit this host allows (the test
    process itself may have forbidden its own, and children inherit that)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def _cores(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("core"))


def _crashed(process: subprocess.Popen[str]) -> None:
    """Kill ``process`` as a fault in native code would, and wait for the kernel to be done."""
    process.send_signal(signal.SIGSEGV)
    assert process.wait(timeout=120) == -signal.SIGSEGV


@pytest.fixture
def writes_cores(tmp_path: Path) -> None:
    """Skip unless a plain process killed here leaves a core in its working folder."""
    pattern = CORE_PATTERN.read_text().strip() if CORE_PATTERN.exists() else ""
    if not pattern or pattern.startswith("|") or "/" in pattern:
        pytest.skip(f"kernel.core_pattern {pattern!r} writes no core in the working folder")
    control = tmp_path / "control"
    control.mkdir()
    plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             cwd=control, preexec_fn=_cores_allowed, text=True)
    time.sleep(0.5)  # its interpreter started
    _crashed(plain)
    if not _cores(control):
        pytest.skip("a plain process killed here leaves no core (a hard limit of 0,"
                    " fs.suid_dumpable)")


@pytest.mark.usefixtures("writes_cores")
def test_a_crashed_server_leaves_no_core_dump_where_a_plain_process_does(tmp_path: Path) -> None:
    folder = tmp_path / "server"
    folder.mkdir()
    with serve_process(tmp_path / "var", serve_environment(tmp_path), cwd=folder,
                       preexec_fn=_cores_allowed) as served:
        _crashed(served.process)
    assert _cores(folder) == []


@pytest.mark.usefixtures("writes_cores")
def test_a_process_that_loads_the_engine_alone_leaves_no_core_dump(tmp_path: Path) -> None:
    """The library's and ``optinface embed``'s case: the face pipeline, no service."""
    folder = tmp_path / "engine"
    folder.mkdir()
    loaded = subprocess.Popen(
        [sys.executable, "-c", "from optinface.engine.pipeline import FacePipeline\n"
         "from optinface.engine.settings import EngineSettings\n"
         "FacePipeline.from_settings(EngineSettings()); print('loaded', flush=True)\n"
         "import time; time.sleep(60)"],
        cwd=folder, preexec_fn=_cores_allowed, stdout=subprocess.PIPE, text=True)
    assert loaded.stdout is not None and loaded.stdout.readline() == "loaded\n"
    _crashed(loaded)
    assert _cores(folder) == []

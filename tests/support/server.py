"""Real servers for browser, load, crash and worker tests: a uvicorn server on 127.0.0.1 and a
free port in a thread, ``optinface serve`` in a process of its own, the environment a server
process starts with, and the wait for it to answer ``/healthz``."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import uvicorn
from fastapi import FastAPI

from tests.support.api import thresholds_for_tests
from tests.support.thresholds import TEST_FMR


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def inherited_environment() -> dict[str, str]:
    """This process's environment without its ``OPTINFACE_*`` variables: a child process runs
    with the settings its test gives it, never with the developer's or the CI's own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OPTINFACE_")}


def serve_environment(root: Path, **extra: str) -> dict[str, str]:
    """The settings of a test deployment that ``optinface serve`` runs in a child process:
    this test's thresholds (written under ``root`` where the calibrated ones are absent), demo
    mode (placeholder accountability), output as wide as a log keeps it; ``extra`` beside."""
    return {"OPTINFACE_THRESHOLDS_PATH": str(thresholds_for_tests(root)),
            "OPTINFACE_MATCH_FMR": str(TEST_FMR), "OPTINFACE_DEMO_MODE": "true",
            "COLUMNS": "200", **extra}


def healthy(url: str, *, verify: ssl.SSLContext | bool = True) -> bool:
    """Whether the server at ``url`` answers ``/healthz`` with 200 now (over HTTPS, trusting
    what ``verify`` trusts). A 10 s read allowance: on 2 busy cores a first answer has taken
    more than httpx2's default 5 s (fresh-clone CI: ReadTimeout after the server logged 200)."""
    try:
        return httpx2.get(f"{url}/healthz", timeout=10, verify=verify).status_code == 200
    except httpx2.HTTPError:
        return False


def wait_until_healthy(url: str, *, seconds: float, interval: float, log: Callable[[], str],
                       alive: Callable[[], bool] = lambda: True,
                       verify: ssl.SSLContext | bool = True) -> None:
    """Poll ``url`` until it is healthy; fail with ``log()`` if the process dies (``alive``)
    or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while not healthy(url, verify=verify):
        assert alive() and time.monotonic() < deadline, log()
        time.sleep(interval)


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    url = f"http://127.0.0.1:{port}"
    with started(server):
        wait_until_healthy(url, seconds=60, interval=0.05,
                           log=lambda: f"the server on {url} never answered /healthz")
        yield url


@contextmanager
def started(server: uvicorn.Server, sockets: list[socket.socket] | None = None) -> Iterator[None]:
    """Run ``server`` (on ``sockets`` if given) in a thread until the block ends."""
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class ServeProcess:
    """An ``optinface serve`` process: its URL and what it printed so far (stdout and stderr)."""

    url: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def serve_process(data_dir: Path, env: Mapping[str, str], *, cwd: Path | None = None,
                  preexec_fn: Callable[[], None] | None = None) -> Iterator[ServeProcess]:
    """``optinface serve`` on a free loopback port, its output piped as a log would keep it,
    healthy before the block runs, stopped (SIGTERM) after it unless it ended meanwhile.
    ``cwd`` and ``preexec_fn``: as :class:`subprocess.Popen` takes them."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "optinface.api.cli.main", "serve", "--port", str(port),
         "--data-dir", str(data_dir)],
        env={**inherited_environment(), **env}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, cwd=cwd, preexec_fn=preexec_fn)
    served = ServeProcess(url=f"http://127.0.0.1:{port}", process=process)
    threading.Thread(target=lambda: served.lines.extend(process.stdout or []),
                     daemon=True).start()
    try:
        wait_until_healthy(served.url, seconds=60, interval=0.2, log=served.output,
                           alive=lambda: process.poll() is None)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=30)

"""A pre-imported parent that forks real optinface processes for the crash tests.

Importing the stack costs seconds on a loaded machine; the models themselves load in under two.
So this process imports once (no model, no thread pool of onnxruntime yet) and forks a child per
command; each child is a real process that the test kills with SIGKILL.

Protocol: one command a line on stdin, answered by "pid N" on stdout; the child appends its
progress lines to PROGRESS (a file the test polls):
    serve PROGRESS PORT          -> ``optinface serve`` (api.cli.serve.serve); output to PROGRESS
    sweep PROGRESS               -> opens the service, "ready", sweeps, "done"
    save PROGRESS PATH VERSIONS  -> saves an index growing by 200 vectors a version, "saved V"
Settings come from the environment (OPTINFACE_*), as for the real server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

import optinface.api.cli.serve
from optinface.api.settings import load_settings
from optinface.consent.service import OptinFace
from optinface.engine.index import HnswIndex

SAVE_STEP = 200
INDEX_KEY = bytes(range(32))  # the test's own index key: the saving child and the test share it


def _serve(port: int, out: int) -> None:
    os.dup2(out, 1)
    os.dup2(out, 2)
    optinface.api.cli.serve.serve(host="127.0.0.1", port=port, data_dir=None)


def _sweep(out: int) -> None:
    service = OptinFace.open(load_settings())
    os.write(out, b"ready\n")
    service.sweep()
    os.write(out, b"done\n")


def _save(path: Path, versions: int, out: int) -> None:
    index = HnswIndex(dim=512, path=path, m=4, ef_construction=8, max_elements=20_000,
                      key=INDEX_KEY)
    rng = np.random.default_rng(0)
    for version in range(1, versions + 1):
        start = (version - 1) * SAVE_STEP
        index.add(list(range(start, start + SAVE_STEP)),
                  rng.standard_normal((SAVE_STEP, 512)).astype(np.float32))
        index.save()
        os.write(out, f"saved {version}\n".encode())


def main() -> None:
    for line in sys.stdin:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        words = line.split()
        if not words:
            continue
        pid = os.fork()
        if pid == 0:  # the child: never returns into this loop
            code = 0
            try:
                out = os.open(words[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                if words[0] == "serve":
                    _serve(int(words[2]), out)
                elif words[0] == "sweep":
                    _sweep(out)
                elif words[0] == "save":
                    _save(Path(words[2]), int(words[3]), out)
            except BaseException:  # a child must never fall back into the loop
                code = 1
            os._exit(code)
        print(f"pid {pid}", flush=True)


if __name__ == "__main__":
    main()

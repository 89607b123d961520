"""The engine sends nothing to a third party and writes nothing outside its own folders.

onnxruntime's Linux wheels keep usage events (process, sessions, a device id) under the home
folder and a session file in the temp folder, for upload to Microsoft; ``optinface.engine``
turns that off before onnxruntime is imported. The test runs a real embedding in a process
whose home and temp folders are empty ones of its own, and looks at them afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from optinface.engine.samples import GROUP_PHOTO


def test_embedding_a_photo_writes_nothing_to_the_home_or_temp_folder(tmp_path: Path) -> None:
    home, temp, work = (tmp_path / name for name in ("home", "temp", "work"))
    for folder in (home, temp, work):
        folder.mkdir()
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    environment.update(HOME=str(home), TMPDIR=str(temp))
    optinface = shutil.which("optinface")
    assert optinface is not None
    embedded = subprocess.run(
        [optinface, "embed", str(GROUP_PHOTO), "--pick", "largest", "--out", "vector.npy"],
        cwd=work, env=environment, capture_output=True, text=True)
    assert embedded.returncode == 0, embedded.stderr
    assert (work / "vector.npy").exists()
    assert [str(p.relative_to(tmp_path)) for p in (*home.rglob("*"), *temp.rglob("*"))] == []

"""onnxruntime's helper threads pinned by ``OPTINFACE_INTRA_OP_AFFINITIES``, and the settings
that cannot be pinned refused before any session is opened."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings


def _threads() -> dict[str, str]:
    """This process's threads and the CPUs each may run on."""
    allowed = {}
    for task in Path("/proc/self/task").iterdir():
        status = (task / "status").read_text()
        allowed[task.name] = next(line.split(":", 1)[1].strip() for line in status.splitlines()
                                  if line.startswith("Cpus_allowed_list"))
    return allowed


def test_the_helper_threads_run_on_the_cpus_named(
    pipeline: FacePipeline, portrait_jpegs: list[bytes]
) -> None:
    cpu = min(os.sched_getaffinity(0))  # onnxruntime counts CPUs from 1
    before = set(_threads())
    pinned = FacePipeline.from_settings(EngineSettings(intra_op_threads=2,
                                                       intra_op_affinities=str(cpu + 1)))
    vector = pinned.embed_single(portrait_jpegs[0]).vector
    helpers = {task: cpus for task, cpus in _threads().items() if task not in before}
    # The sessions' helpers (detector and recognizer), each on that one CPU.
    assert helpers and set(helpers.values()) == {str(cpu)}, helpers
    assert np.allclose(vector, pipeline.embed_single(portrait_jpegs[0]).vector, atol=1e-5)


@pytest.mark.parametrize("threads, affinities", [
    (0, "1"),  # the thread count left to onnxruntime: how many helpers is unknown
    (2, "1;1"),  # two helpers named for one
    (2, "first"),
    (2, str((os.cpu_count() or 1) + 1)),  # a CPU this machine does not have
])
def test_affinities_that_cannot_apply_are_refused(threads: int, affinities: str) -> None:
    with pytest.raises(ValidationError, match="intra_op"):
        EngineSettings(intra_op_threads=threads, intra_op_affinities=affinities)


def test_a_cpu_this_process_may_not_run_on_is_refused() -> None:
    """A container or ``taskset`` gives the process fewer CPUs than the machine has."""
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        pytest.skip("needs two CPUs to withhold one")
    kept, withheld = sorted(allowed)[:2]
    os.sched_setaffinity(0, {kept})  # this thread only, as taskset would start the service
    try:
        with pytest.raises(ValidationError, match="may run on"):
            EngineSettings(intra_op_threads=2, intra_op_affinities=str(withheld + 1))
        EngineSettings(intra_op_threads=2, intra_op_affinities=str(kept + 1))
    finally:
        os.sched_setaffinity(0, allowed)

"""The CUDA execution path, on a machine with an NVIDIA GPU; skipped only where there is none.

Where a GPU is present, a missing ``onnxruntime-gpu`` (``pip install -e '.[gpu]'``) is a failure,
not a skip: silently measuring or serving on CPU is the failure this path must not hide.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from optinface.engine.pipeline import FacePipeline
from optinface.engine.sessions import CPU
from optinface.engine.settings import EngineSettings

CUDA = "CUDAExecutionProvider"


def gpu_present() -> bool:
    """An NVIDIA device node, or ``nvidia-smi -L`` listing at least one GPU."""
    if any(Path("/dev").glob("nvidia[0-9]*")):
        return True
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    listing = subprocess.run([smi, "-L"], capture_output=True, text=True, check=False)
    return listing.returncode == 0 and "GPU" in listing.stdout


requires_gpu = pytest.mark.skipif(not gpu_present(), reason="no NVIDIA GPU on this machine")


@requires_gpu
def test_cuda_is_the_active_provider_of_both_models_when_a_gpu_is_present() -> None:
    assert CUDA in ort.get_available_providers(), (
        "a GPU is present but onnxruntime has no CUDA provider: install the gpu extra"
    )
    pipeline = FacePipeline.from_settings(EngineSettings(providers=[CUDA, CPU]))
    for model, providers in pipeline.active_providers.items():
        assert providers[0] == CUDA, f"{model} fell back to {providers}"


@requires_gpu
def test_cuda_embeddings_match_the_cpu_ones(portrait_jpegs: list[bytes]) -> None:
    on_cpu = FacePipeline.from_settings(EngineSettings(providers=[CPU]))
    on_gpu = FacePipeline.from_settings(EngineSettings(providers=[CUDA, CPU]))
    assert on_gpu.active_providers["recognizer"][0] == CUDA
    for jpeg in portrait_jpegs:
        cpu_vector = on_cpu.embed_single(jpeg).vector
        gpu_vector = on_gpu.embed_single(jpeg).vector
        assert float(np.dot(cpu_vector, gpu_vector)) > 0.999

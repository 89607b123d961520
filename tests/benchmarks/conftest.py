"""The benchmark tests' own fixture: a tiny LFW-shaped folder (:mod:`tests.support.tiny_lfw`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from optinface.engine.decode import BgrImage
from tests.support.tiny_lfw import write_tiny_lfw


@pytest.fixture(scope="module")
def tiny_lfw(tmp_path_factory: pytest.TempPathFactory, portrait_images: list[BgrImage]) -> Path:
    return write_tiny_lfw(tmp_path_factory.mktemp("tiny-lfw"), portrait_images)

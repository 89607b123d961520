"""Fixtures of the reliability tests.

The declared world, the keys per role and the app come from ``tests/api/conftest.py`` (imported,
not copied); only the settings are ours (:func:`tests.support.reliability.reliability_settings`:
a 64-slot index and generous limits).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optinface.api.settings import ApiSettings
from tests.api.conftest import (  # noqa: F401 (fixtures re-exported for this folder)
    client,
    keys,
    service,
    world,
)
from tests.support.reliability import reliability_settings


@pytest.fixture
def api_settings(tmp_path: Path) -> ApiSettings:
    return reliability_settings(tmp_path)

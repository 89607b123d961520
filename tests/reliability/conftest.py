"""Fixtures of the reliability tests.

The declared world, the keys per role and the app are the API tests' (``tests/conftest.py``);
only the settings are ours (:func:`tests.support.reliability.reliability_settings`: a 64-slot
index and generous limits).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optinface.api.settings import ApiSettings
from tests.support.reliability import reliability_settings


@pytest.fixture
def api_settings(tmp_path: Path) -> ApiSettings:
    return reliability_settings(tmp_path)

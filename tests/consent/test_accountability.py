"""Which accountability settings are placeholders, and when they stop a deployment."""

from __future__ import annotations

from pathlib import Path

import pytest

from optinface.consent.accountability import placeholders, require_accountable
from optinface.consent.errors import PlaceholderAccountability
from optinface.consent.settings import ConsentSettings, Jurisdiction
from tests.api.test_privacy import REAL


def test_the_defaults_are_all_placeholders(tmp_path: Path) -> None:
    found = placeholders(ConsentSettings(data_dir=tmp_path))
    assert {"privacy_officer_name", "privacy_officer_contact", "dpo_contact", "pia_reference",
            "pia_sha256", "policy_url", "hosting_provider",
            "non_biometric_alternative"} <= set(found)
    with pytest.raises(PlaceholderAccountability):
        require_accountable(ConsentSettings(data_dir=tmp_path))


def test_demo_mode_allows_placeholders(tmp_path: Path) -> None:
    require_accountable(ConsentSettings(data_dir=tmp_path, demo_mode=True))


def test_real_accountability_is_accepted(tmp_path: Path) -> None:
    assert placeholders(ConsentSettings(data_dir=tmp_path, **REAL)) == []


def test_an_eu_deployment_needs_an_eu_representative(tmp_path: Path) -> None:
    eu = ConsentSettings(data_dir=tmp_path, jurisdiction=Jurisdiction.EU, **REAL)
    assert placeholders(eu) == ["eu_representative"]
    named = eu.model_copy(update={"eu_representative": "Rep GmbH, Berlin, rep@rep.de"})
    assert placeholders(named) == []


def test_the_pia_hash_must_be_a_sha256(tmp_path: Path) -> None:
    assert placeholders(ConsentSettings(data_dir=tmp_path, **{**REAL, "pia_sha256": "abc"})) == [
        "pia_sha256"]

"""Access logs keep their content 6 to 12 months; longer only under a stated hold (X-RET, A-07)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from optinface.consent.retention_policy import retention_rules
from optinface.consent.settings import ConsentSettings


def test_the_access_log_keeps_its_content_a_year_unless_an_investigation_hold_is_stated(
    tmp_path: Path
) -> None:
    assert ConsentSettings(data_dir=tmp_path).access_log_retention_days == 365
    for days in (366, None):  # over a year, or kept whole (the floor: test_bipa.py)
        with pytest.raises(ValidationError):
            ConsentSettings(data_dir=tmp_path, access_log_retention_days=days)
    held = ConsentSettings(data_dir=tmp_path, access_log_retention_days=None,
                           access_log_hold="investigation 2026-14, opened 2026-11-02")
    assert retention_rules(held)[-1] == (
        "the access log is kept whole, without biometric data, under an investigation hold:"
        " investigation 2026-14, opened 2026-11-02")

"""Access logs keep their content 6 to 12 months; longer only under a stated hold (X-RET, A-07)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from optinface.api.web.i18n import Language, Words
from optinface.consent.retention_policy import retention_rules
from optinface.consent.settings import ConsentSettings


def test_the_access_log_keeps_its_content_at_least_six_months(tmp_path: Path) -> None:
    """The other bound of the retention settings (AI Act arts. 19, 26(6)): 183 days is the
    floor of ``access_log_retention_days``; one day less is a setting refused."""
    with pytest.raises(ValidationError) as refused:
        ConsentSettings(data_dir=tmp_path, access_log_retention_days=182)
    assert [error["loc"] for error in refused.value.errors()] == [("access_log_retention_days",)]
    assert ConsentSettings(data_dir=tmp_path,
                           access_log_retention_days=183).access_log_retention_days == 183


def test_the_access_log_keeps_its_content_a_year_unless_an_investigation_hold_is_stated(
    tmp_path: Path
) -> None:
    assert ConsentSettings(data_dir=tmp_path).access_log_retention_days == 365
    for days in (366, None):  # over a year, or kept whole
        with pytest.raises(ValidationError):
            ConsentSettings(data_dir=tmp_path, access_log_retention_days=days)
    held = ConsentSettings(data_dir=tmp_path, access_log_retention_days=None,
                           access_log_hold="investigation 2026-14, opened 2026-11-02")
    rule = retention_rules(held)[-1]
    assert rule == ("the access log is kept whole, without biometric data, under an"
                    " investigation hold: investigation 2026-14, opened 2026-11-02")
    assert Words(language=Language.FR, zone=ZoneInfo("UTC")).reword(rule) == (
        "le journal des accès est conservé en entier, sans donnée biométrique, en raison d'une"
        " enquête : investigation 2026-14, opened 2026-11-02")

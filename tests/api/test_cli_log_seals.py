"""``optinface audit verify`` with the key store names an event appended with the database alone.

The event is appended at the log's tail in plain SQL, hash-chained with the log's own code
(``tests/support/forgery.py``), on SQLite and on PostgreSQL; the witness folder and the
checkpoints are left as they are. Where the key store is, the verdict names it by sequence
number with a stable reason; without it (an outsider's copy) the chain alone is checked, and
the verdict says the keyed seals were not.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from optinface.api.cli.main import app
from optinface.api.settings import ApiSettings, load_settings
from optinface.consent.roles import Role
from optinface.consent.schemas import AgeCategory, ErasureReason, SubjectCreate
from optinface.consent.service import OptinFace
from tests.support.api import thresholds_for_tests
from tests.support.backends import both_backends
from tests.support.forgery import append_by_sql

runner = CliRunner()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             database_url: str | None) -> ApiSettings:
    """A closed deployment whose log names a subject erased since, on this test's backend."""
    monkeypatch.setenv("OPTINFACE_THRESHOLDS_PATH", str(thresholds_for_tests(tmp_path)))
    monkeypatch.setenv("OPTINFACE_MATCH_FMR", "0.0001")
    if database_url is not None:
        monkeypatch.setenv("OPTINFACE_DATABASE_URL", database_url)
    settings = load_settings(data_dir=tmp_path / "var")
    service = OptinFace.open(settings)
    try:
        admin = service.authenticate(
            service.create_api_key(actor=None, role=Role.ADMIN, name="root").secret)
        made = service.create_subject(actor=admin,
                                      body=SubjectCreate(age_category=AgeCategory.ADULT))
        service.erase(actor=admin, subject=made.pseudonym, reason=ErasureReason.REQUEST)
    finally:
        service.close()
    return settings


def verify(settings: ApiSettings) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(settings.data_dir)])
    return result.exit_code, result.output


@both_backends
def test_an_event_appended_by_sql_is_named_where_the_key_store_is(
    settings: ApiSettings,
) -> None:
    code, output = verify(settings)
    assert code == 0 and "keyed seals: every event's checked with the key store" in output, \
        output
    writer = create_engine(settings.url)
    try:
        forged = append_by_sql(writer, action="consent_given", details={"via": "sql"})
    finally:
        writer.dispose()
    code, output = verify(settings)
    assert code == 1, output
    assert (f"audit log BROKEN at sequence {forged}: event {forged} carries no keyed seal"
            in output), output
    assert "[keyed_seal_missing]" in output
    assert f"events without a valid keyed seal (1): {forged} keyed_seal_missing" in output
    assert settings.key_dir is not None
    shutil.rmtree(settings.key_dir)  # an outsider's copy: the chain and the witness agree
    code, output = verify(settings)
    assert code == 0 and "keyed seals: NOT checked, no key store at" in output, output


def test_a_key_store_that_cannot_be_used_is_refused_not_skipped(settings: ApiSettings) -> None:
    """A key store that is there but open to others is refused (exit 2) rather than the check
    quietly falling back to the chain alone."""
    assert settings.key_dir is not None
    settings.key_dir.chmod(0o755)
    code, output = verify(settings)
    assert code == 2 and output.startswith("error: key_file_exposed: "), output

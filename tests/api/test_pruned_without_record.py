"""The red team's finding 1: an access event emptied with the ledger alone, the server running,
fails ``GET /v1/audit/verify``, ``optinface audit verify`` and ``optinface audit verify-export``
alike, with the stable reason ``pruned_without_record`` (one rule: consent.prune_records)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from optinface.api.cli.main import app
from optinface.consent.audit import AuditAction
from optinface.consent.tables import AuditEvent
from optinface.engine.pipeline import FacePipeline
from tests.support.api import auth, deployment
from tests.support.backends import both_backends
from tests.support.forgery import empty_by_sql

runner = CliRunner()
REASON = "pruned_without_record"


@both_backends
def test_a_young_read_emptied_by_sql_fails_all_three_verifiers(
    tmp_path: Path, pipeline: FacePipeline, database_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if database_url is not None:  # the command line finds the same ledger
        monkeypatch.setenv("OPTINFACE_DATABASE_URL", database_url)
    overrides = {} if database_url is None else {"database_url": database_url}
    with deployment(tmp_path, pipeline, **overrides) as (settings, _service, client, keys):
        reviewer = auth(keys.reviewer)
        assert client.get("/v1/audit/events", headers=reviewer).status_code == 200
        assert client.post("/v1/audit/checkpoints", headers=reviewer).status_code == 200
        writer = create_engine(settings.url)  # the ledger alone, beside the running server
        try:
            with Session(writer) as session:
                read = session.scalar(select(func.max(AuditEvent.seq)).where(
                    AuditEvent.action == str(AuditAction.AUDIT_READ)))
            assert isinstance(read, int)
            assert client.get("/v1/audit/verify", headers=reviewer).json()["ok"]
            empty_by_sql(writer, read)
        finally:
            writer.dispose()
        status = client.get("/v1/audit/verify", headers=reviewer).json()
        assert (status["ok"], status["first_bad_sequence"], status["reason"]) == (
            False, read, REASON), status
        export = client.get("/v1/audit/export", params={"format": "json"}, headers=reviewer)
        assert export.status_code == 200
        [vkey] = [key["verifier_key"] for key in
                  client.get("/.well-known/optinface-keys.json").json()["keys"]
                  if key["verifier_key"]]
    broken = f"BROKEN at sequence {read}: event {read} was pruned without a record"
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(settings.data_dir)])
    assert result.exit_code == 1 and broken in result.output, result.output
    assert f"[{REASON}]" in result.output
    (tmp_path / "audit.json").write_bytes(export.content)
    for where in ([], ["--data-dir", str(settings.data_dir)]):  # offline; with the key store
        result = runner.invoke(app, ["audit", "verify-export", str(tmp_path / "audit.json"),
                                     "--public-key", vkey, *where])
        assert result.exit_code == 1, result.output
        assert result.output.startswith(f"audit export {broken}"), result.output
        assert f"[{REASON}]" in result.output

"""An export of the whole log carries a checkpoint signed at its own last event (red team 7,
#1), so the export and the published key alone hold every event of it to what the deployment
signed; on SQLite and on PostgreSQL.

It carried the newest checkpoint that existed, whose tree ended before the newest events: those
rested on their chain alone, which a forger can make. The export now signs the head first
(unless a checkpoint ends there already) and reads no event past it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from optinface.api import auditfiles
from optinface.api.cli.main import app
from optinface.consent.audit import AuditAction
from optinface.consent.audit_verify import read_export, verify_export
from optinface.consent.notes import Verifier
from optinface.consent.reads import Reads
from optinface.consent.roles import Role
from optinface.consent.schemas import AuditFilter, AuditPage
from optinface.consent.service import OptinFace
from optinface.consent.tables import AuditCheckpoint, AuditEvent
from optinface.consent.witness import Signed
from tests.support.api import World, auth, page_login
from tests.support.backends import on_both_backends

pytestmark = [pytest.mark.shared_deployment, on_both_backends]


def _published(world: World) -> str:
    [vkey] = [key["verifier_key"] for key in
              world.client.get("/.well-known/optinface-keys.json").json()["keys"]
              if key["verifier_key"]]
    return str(vkey)


def _counts(service: OptinFace) -> tuple[int, int]:
    """The log's events and checkpoint rows."""
    with service.runtime.db.reading() as session:
        return (session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
                session.scalar(select(func.count()).select_from(AuditCheckpoint)) or 0)


def test_the_export_ends_at_the_checkpoint_it_signed_whatever_is_appended_meanwhile(
    world: World, service: OptinFace, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Another worker appends an event before each page of the export is read (three events a
    page): the export still ends at the head it signed, that checkpoint on its last event, and
    verifies signed throughout with the published key alone."""
    admin = service.authenticate(world.keys.admin)
    reading = service.audit_export_page

    def busy_page(*, actor: Any, filters: AuditFilter, offset: int, limit: int, reads: Reads,
                  signed: bool, through: int | None = None) -> tuple[AuditPage, Signed | None]:
        service.create_api_key(actor=admin, role=Role.REVIEWER, name=f"meanwhile {offset}")
        return reading(actor=actor, filters=filters, offset=offset, limit=limit, reads=reads,
                       signed=signed, through=through)

    monkeypatch.setattr(auditfiles, "MAX_PAGE", 3)
    monkeypatch.setattr(service, "audit_export_page", busy_page)
    answer = world.client.get("/v1/audit/export", params={"format": "json"},
                              headers=auth(world.keys.reviewer))
    assert answer.status_code == 200, answer.text
    monkeypatch.undo()
    events = answer.json()
    [carrier] = [event for event in events if "checkpoint" in event]
    assert carrier is events[-1] and carrier["seq"] == len(events)
    appended = [event for event in world.client.get(
        "/v1/audit/events", params={"action": str(AuditAction.KEY_CREATED), "limit": 1000},
        headers=auth(world.keys.reviewer)).json()["events"]
        if event["details"].get("name", "").startswith("meanwhile ")]
    assert len(appended) > 3 and min(event["seq"] for event in appended) > len(events), \
        "appended while it was read, after the head it signed: left for the next export"
    report = verify_export(read_export(answer.text), verifier=Verifier.parse(_published(world)))
    assert report.problem is None and report.anchored and report.unsigned == 0, report
    path = tmp_path / "audit.json"
    path.write_text(answer.text)
    verified = CliRunner().invoke(app, ["audit", "verify-export", str(path), "--public-key",
                                        _published(world)])
    assert verified.exit_code == 0, verified.output
    assert f"\nsigned: events 1-{len(events)} (to {carrier['at']}) by the checkpoint the" \
           f" export carries at event {len(events)}\n" in verified.output


def test_a_filtered_or_csv_export_signs_nothing(world: World, service: OptinFace) -> None:
    """No root is checked over part of the log, nor over the CSV, which is for reading."""
    for params in ({"format": "json", "action": str(AuditAction.KEY_CREATED)},
                   {"format": "csv"}):
        _, before = _counts(service)
        answer = world.client.get("/v1/audit/export", params=params,
                                  headers=auth(world.keys.reviewer))
        assert answer.status_code == 200, answer.text
        assert _counts(service)[1] == before, params


def test_the_dashboards_audit_json_carries_the_checkpoint_at_its_last_event(
    world: World, service: OptinFace
) -> None:
    page_login(world.client, "review", world.keys.reviewer)
    answer = world.client.get("/review/download/audit.json")
    assert answer.status_code == 200, answer.text
    events = json.loads(answer.content)
    assert [event["seq"] for event in events if "checkpoint" in event] == [len(events)]
    assert len(events) < _counts(service)[0]  # its own read is chained after it

"""``optinface audit verify`` with the key store names an event appended with the database alone.

The event is appended at the log's tail in plain SQL, hash-chained with the log's own code
(``tests/support/forgery.py``), on SQLite and on PostgreSQL; the witness folder and the
checkpoints are left as they are. Where the key store is, the verdict names it by sequence
number with a stable reason; without it (an outsider's copy) the chain alone is checked, and
the verdict says the keyed seals were not.
"""

from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from optinface.api.app import create_app
from optinface.api.cli.audit_export import VIEW
from optinface.api.cli.main import app
from optinface.api.settings import ApiSettings, load_settings
from optinface.consent import audit_seal_tree
from optinface.consent.audit import event_hash
from optinface.consent.keys import HMAC_KEY_NAME
from optinface.consent.keystore import open_key_store_to_read, read_key
from optinface.consent.roles import Role
from optinface.consent.schemas import AgeCategory, AuditEventPublic, ErasureReason, SubjectCreate
from optinface.consent.service import OptinFace
from optinface.consent.witness import pinned_key
from optinface.engine.pipeline import FacePipeline
from tests.support.api import auth, thresholds_for_tests
from tests.support.backends import both_backends
from tests.support.forgery import append_by_sql
from tests.support.migrations import migrate

runner = CliRunner()


@dataclass(frozen=True)
class Deployed:
    settings: ApiSettings
    reviewer: str  # a reviewer key's secret: the audit log's export over HTTP
    pipeline: FacePipeline  # the session's engine: opening the service loads no model again


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             database_url: str | None, pipeline: FacePipeline) -> Deployed:
    """A closed deployment whose log names a subject erased since, on this test's backend."""
    monkeypatch.setenv("OPTINFACE_THRESHOLDS_PATH", str(thresholds_for_tests(tmp_path)))
    monkeypatch.setenv("OPTINFACE_MATCH_FMR", "0.0001")
    if database_url is not None:
        monkeypatch.setenv("OPTINFACE_DATABASE_URL", database_url)
    settings = load_settings(data_dir=tmp_path / "var")
    service = OptinFace.open(settings, pipeline=pipeline)
    try:
        admin = service.authenticate(
            service.create_api_key(actor=None, role=Role.ADMIN, name="root").secret)
        made = service.create_subject(actor=admin,
                                      body=SubjectCreate(age_category=AgeCategory.ADULT))
        service.erase(actor=admin, subject=made.pseudonym, reason=ErasureReason.REQUEST)
        reviewer = service.create_api_key(actor=admin, role=Role.REVIEWER, name="auditor")
    finally:
        service.close()
    return Deployed(settings=settings, reviewer=reviewer.secret, pipeline=pipeline)


@pytest.fixture
def settings(deployed: Deployed) -> ApiSettings:
    return deployed.settings


def verify(settings: ApiSettings, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(settings.data_dir),
                                 *extra])
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
    published = pinned_key(settings.witness_dir)
    assert published is not None
    shutil.rmtree(settings.key_dir)  # an outsider's copy: the chain and the witness agree
    code, output = verify(settings, "--public-key", published.vkey)
    assert code == 0 and "keyed seals: NOT checked, no key store at" in output, output


def test_a_key_store_that_cannot_be_used_is_refused_not_skipped(settings: ApiSettings) -> None:
    """A key store that is there but open to others is refused (exit 2) rather than the check
    quietly falling back to the chain alone."""
    assert settings.key_dir is not None
    settings.key_dir.chmod(0o755)
    code, output = verify(settings)
    assert code == 2 and output.startswith("error: key_file_exposed: "), output


# The JSON export carries the keyed seals: verify-export checks them where the key store is.

Events = list[dict[str, Any]]


def exported(deployed: Deployed, path: Path) -> Events:
    """The whole log as ``GET /v1/audit/export?format=json`` answers a reviewer, kept at
    ``path``; the service opened for it and closed again."""
    settings = deployed.settings
    service = OptinFace.open(settings, pipeline=deployed.pipeline)
    try:
        with TestClient(create_app(settings, service=service)) as client:
            answer = client.get("/v1/audit/export", params={"format": "json"},
                                headers=auth(deployed.reviewer))
            vkey = next(key["verifier_key"] for key in
                        client.get("/.well-known/optinface-keys.json").json()["keys"]
                        if key["verifier_key"])
    finally:
        service.close()
    assert answer.status_code == 200, answer.text
    path.write_bytes(answer.content)
    (path.parent / "vkey").write_text(vkey)
    events: Events = json.loads(answer.content)
    return events


def hmac_key(settings: ApiSettings) -> bytes:
    """The key store's HMAC key, which makes the keyed seals: what no export may carry."""
    store = open_key_store_to_read(settings)
    assert store is not None
    try:
        return read_key(store, HMAC_KEY_NAME)
    finally:
        store.close()


def verify_export(path: Path, *, data_dir: Path) -> tuple[int, str]:
    """``audit verify-export`` of ``path``, finding the key store as ``audit verify`` does."""
    vkey = (path.parent / "vkey").read_text()
    result = runner.invoke(app, ["audit", "verify-export", str(path), "--public-key", vkey,
                                 "--data-dir", str(data_dir)])
    return result.exit_code, result.output


def written(path: Path, events: Events) -> Path:
    path.write_text(json.dumps(events))
    return path


@both_backends
def test_an_export_carries_the_keyed_seals_which_verify_export_checks_with_the_key_store(
    deployed: Deployed, tmp_path: Path
) -> None:
    """Every event of the export carries its keyed seal, never the key; with the key store the
    export verifies and says the seals were checked; an event edited after the export and
    rehashed as a forger would (the last: no successor's link betrays it) is named by its
    sequence number, which the chain alone does not see. The checkpoint note the export carries
    is dropped from the tampered copy (it may sign the last event: it would name the edit
    itself), so that without the key store nothing signed holds it: NOT ANCHORED, exit 3."""
    settings = deployed.settings
    events = exported(deployed, tmp_path / "audit.json")
    assert all(isinstance(event["keyed_seal"], str) for event in events)
    key = hmac_key(settings)
    text = (tmp_path / "audit.json").read_text()
    assert key.hex() not in text and key.hex().upper() not in text
    code, output = verify_export(tmp_path / "audit.json", data_dir=settings.data_dir)
    assert code == 0 and output.startswith("audit export OK: "), output
    assert output.endswith("keyed seals: every event's checked with the key store\n"), output
    last = events[-1]
    last["outcome"] = "nothing happened"
    last["hash"] = event_hash(AuditEventPublic.model_validate(last))
    tampered = written(tmp_path / "tampered.json", _uncarried(events))
    code, output = verify_export(tampered, data_dir=tmp_path / "elsewhere")  # no key store
    assert code == 3 and output.startswith("audit export NOT ANCHORED"), output
    assert "keyed seals: NOT checked, no key store at" in output, output
    code, output = verify_export(tampered, data_dir=settings.data_dir)
    assert code == 1, output
    assert output.startswith(f"audit export BROKEN at sequence {last['seq']}: event"
                             f" {last['seq']} carries a keyed seal the key store did not"
                             " make"), output
    assert "[keyed_seal_invalid]" in output
    assert (f"events without a valid keyed seal (1): {last['seq']} keyed_seal_invalid"
            in output), output


@both_backends
def test_an_event_appended_by_a_database_writer_is_named_in_the_export(
    deployed: Deployed, tmp_path: Path
) -> None:
    """An event appended in plain SQL, chained as the service would, reaches the export
    without a keyed seal: verify-export with the key store names it; an export from before the
    seals were exported (no ``keyed_seal`` field) still verifies, saying they were not
    checked."""
    settings = deployed.settings
    writer = create_engine(settings.url)
    try:
        forged = append_by_sql(writer, action="consent_given", details={"via": "sql"})
    finally:
        writer.dispose()
    events = exported(deployed, tmp_path / "audit.json")
    assert next(e for e in events if e["seq"] == forged)["keyed_seal"] is None
    code, output = verify_export(tmp_path / "audit.json", data_dir=settings.data_dir)
    assert code == 1, output
    assert output.startswith(f"audit export BROKEN at sequence {forged}: event {forged}"
                             " carries no keyed seal (appended with the database alone)"
                             " [keyed_seal_missing]"), output
    assert f"events without a valid keyed seal (1): {forged} keyed_seal_missing" in output
    for event in events:
        del event["keyed_seal"]
    code, output = verify_export(written(tmp_path / "old.json", events),
                                 data_dir=settings.data_dir)
    assert code == 0, output
    assert output.endswith("keyed seals: NOT checked, the export carries none (made before the"
                           " events' keyed seals were exported)\n"), output


# After a migration round trip below 0031, the operator's reseal seals the witnessed events.

REASON = "CHG-7: schema rolled back to 0030 and forward"


def reseal(settings: ApiSettings, *more: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "reseal", "--reason", REASON, *more,
                                 "--data-dir", str(settings.data_dir)])
    return result.exit_code, result.output


def round_trip(settings: ApiSettings) -> None:
    """The ledger migrated below 0031 and up again, every server stopped: the seals gone."""
    engine = create_engine(settings.url)
    try:
        migrate(engine, "0030", down=True)
        migrate(engine, "head")
    finally:
        engine.dispose()


@both_backends
def test_reseal_after_a_round_trip_below_0031_makes_audit_verify_clean(
    settings: ApiSettings,
) -> None:
    round_trip(settings)
    code, output = verify(settings)
    assert code == 1 and "[keyed_seal_missing]" in output, output
    code, output = reseal(settings)
    assert code == 0, output
    done = json.loads(output)
    assert done["count"] > 0 and done["first"] == 1 and done["last"] <= done["witnessed"], done
    code, output = verify(settings)
    assert code == 0 and "keyed seals: every event's checked with the key store" in output, \
        output
    code, output = reseal(settings)  # nothing left to seal: nothing chained
    assert code == 0 and json.loads(output)["count"] == 0, output


def _appended_by_sql(settings: ApiSettings) -> None:
    writer = create_engine(settings.url)
    try:
        append_by_sql(writer, action="consent_given", details={"via": "sql"})
    finally:
        writer.dispose()


def _witness_emptied(settings: ApiSettings) -> None:
    """Emptied, and taken up by the operator's act (a plain start is refused)."""
    shutil.rmtree(settings.witness_dir)
    result = runner.invoke(app, ["audit", "adopt-witness", "--reason", "INC-4: witness lost",
                                 "--data-dir", str(settings.data_dir)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("tampering", "finding"), [
    (_appended_by_sql, "log_events_unsealed"), (_witness_emptied, "witness_adopted")])
def test_reseal_refuses_a_log_that_does_not_match_its_witness(
    settings: ApiSettings, tampering: Any, finding: str,
) -> None:
    """After the round trip, an event appended with the database alone (its start chains
    ``log_events_unsealed``), or a witness folder emptied (``witness_adopted``): reseal, and
    its dry run first in the same words, refuse with their stable code and seal nothing, so
    verify still fails, naming event 1."""
    round_trip(settings)
    tampering(settings)
    code, looked = reseal(settings, "--dry-run")
    assert code == 1, looked
    code, output = reseal(settings)
    assert code == 1, output
    assert output.startswith(f"refused: log_not_as_witnessed: the audit log is not the one its"
                             f" witness signed ({finding}, event "), output
    assert looked == output  # the dry run refuses as the reseal does
    code, output = verify(settings)
    assert code == 1 and "at sequence 1: event 1 carries no keyed seal" in output, output


def _chained(settings: ApiSettings, action: str) -> int:
    """How many events of ``action`` the log holds, read in SQL."""
    engine = create_engine(settings.url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(
                text("SELECT count(*) FROM audit_events WHERE action = :action"),
                {"action": action}).scalar_one())
    finally:
        engine.dispose()


def test_reseal_dry_run_names_what_it_would_seal_and_seals_and_chains_nothing(
    settings: ApiSettings,
) -> None:
    """``--dry-run`` as ``keys reseal`` has it: the events it would seal (how many, the first
    and the last), none sealed (verify still names event 1) and nothing chained; the reseal
    then seals those very events."""
    round_trip(settings)
    code, output = reseal(settings, "--dry-run")
    assert code == 0, output
    planned = json.loads(output)
    assert planned["dry_run"] is True and planned["count"] > 0 and planned["first"] == 1, planned
    code, output = verify(settings)
    assert code == 1 and "at sequence 1: event 1 carries no keyed seal" in output, output
    assert _chained(settings, "log_seals_resealed") == 0
    code, output = reseal(settings)
    assert code == 0, output
    done = json.loads(output)
    assert done["dry_run"] is False
    assert [done[k] for k in ("count", "first", "last")] == [
        planned[k] for k in ("count", "first", "last")], (planned, done)
    assert _chained(settings, "log_seals_resealed") == 1


def test_reseal_seals_no_event_past_the_witness_newest_checkpoint(deployed: Deployed) -> None:
    """After the round trip, events appended with the database alone past the witness's newest
    checkpoint, while the service runs (no start has seen them yet): the reseal seals the
    witnessed events and leaves these without a seal, and verify with the key store names
    exactly them."""
    settings = deployed.settings
    round_trip(settings)
    service = OptinFace.open(settings, pipeline=deployed.pipeline)
    try:
        writer = create_engine(settings.url)
        try:
            forged = [append_by_sql(writer, action="erase", details={"via": "sql"})
                      for _ in range(2)]
            done = service.reseal_log(reason=REASON)
            with writer.connect() as connection:
                seals = connection.execute(
                    text("SELECT keyed_seal FROM audit_events WHERE seq BETWEEN :first AND"
                         " :last ORDER BY seq"), {"first": forged[0], "last": forged[-1]}
                ).scalars().all()
        finally:
            writer.dispose()
    finally:
        service.close()
    assert done.sealed and done.sealed[-1] <= done.witnessed < forged[0], done
    assert seals == [None, None]
    code, output = verify(settings)
    assert code == 1, output
    assert (f"events without a valid keyed seal (2): {forged[0]} keyed_seal_missing,"
            f" {forged[1]} keyed_seal_missing\n") in output, output


# optinface audit export: the API's export written to a file on the machine, chained.

def audit_export(settings: ApiSettings, out: Path, *more: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "export", "--out", str(out), *more,
                                 "--data-dir", str(settings.data_dir)])
    return result.exit_code, result.output


def _reads_of_the_command(events: Events) -> list[dict[str, Any]]:
    return [event for event in events if event["action"] == "audit_read"
            and event["details"]["view"] == VIEW]


def _uncarried(events: Events) -> Events:
    """The events without the checkpoint note an export carries on one of them."""
    return [{name: value for name, value in event.items() if name != "checkpoint"}
            for event in events]


def test_audit_export_writes_the_apis_json_which_verify_export_accepts_chained_as_a_read(
    deployed: Deployed, tmp_path: Path
) -> None:
    """The command's file is the API's export of the same log, event for event (the API's,
    taken later, goes on with the events since; each carries the newest checkpoint covering
    it, on the event that checkpoint ends at), written 0600 with the keyed seals and never
    the key; verify-export accepts it with the key store; the export is chained as one
    ``audit_read`` naming the command, with no key, and how many events it read."""
    settings = deployed.settings
    out = tmp_path / "cli.json"
    code, output = audit_export(settings, out)
    assert code == 0, output
    mine: Events = json.loads(out.read_text())
    assert json.loads(output) == {"file": str(out), "format": "json", "events": len(mine)}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert all(isinstance(event["keyed_seal"], str) for event in mine)
    api = exported(deployed, tmp_path / "api.json")
    assert _uncarried(api)[:len(mine)] == _uncarried(mine)
    assert any("checkpoint" in event for event in mine)
    [read] = _reads_of_the_command(api)
    assert read["seq"] > len(mine), read
    assert (read["actor_key_id"], read["actor_role"]) == (None, None)
    # A read's seals are covered through their root: the whole log keeps the tree's salt.
    assert audit_seal_tree.committed(read["details"])
    assert audit_seal_tree.public_details(read["details"]) == {
        "view": VIEW, "filters": {}, "lists": {"audit_events": len(mine)}, "returned": len(mine)}
    code, output = verify_export(out, data_dir=settings.data_dir)
    assert code == 0 and output.startswith("audit export OK: "), output
    assert output.endswith("keyed seals: every event's checked with the key store\n"), output
    assert hmac_key(settings).hex() not in out.read_text()


def test_audit_export_filters_as_the_api_and_replaces_a_file_only_with_force(
    settings: ApiSettings, tmp_path: Path
) -> None:
    """The API's filters (the erasure the fixture made, since a time), chained with the read;
    an existing file is refused in one line and left as it is, and --force replaces it (the
    CSV, 0600 still)."""
    out = tmp_path / "erasures.json"
    code, output = audit_export(settings, out, "--action", "erase",
                                "--since", "2000-01-01T00:00+02:00")
    assert code == 0, output
    kept = out.read_text()
    assert [event["action"] for event in json.loads(kept)] == ["erase"]
    code, output = audit_export(settings, out)
    assert code == 1 and output == (f"refused: file_exists: {out} exists: choose another --out,"
                                    " or pass --force to replace it\n"), output
    assert out.read_text() == kept
    code, output = audit_export(settings, out, "--force", "--format", "csv")
    assert code == 0, output
    assert out.read_text().startswith("seq,at,actor_key_id,")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    code, output = audit_export(settings, tmp_path / "all.json")
    assert code == 0, output
    reads = _reads_of_the_command(json.loads((tmp_path / "all.json").read_text()))
    assert [read["details"]["filters"] for read in reads] == [
        {"action": "erase", "since": "2000-01-01T00:00:00+02:00"}, {}], reads


@pytest.mark.parametrize(("given", "refusal"), [
    (["--since", "yesterday"], "refused: validation_error: --since: "),
    (["--until", "2027-03-01T10:00"], "refused: validation_error: --until: Input should have"
                                      " timezone info"),
    (["--action", "seen"], "refused: validation_error: --action: Input should be "),
    (["--since", "2027-03-02T00:00Z", "--until", "2027-03-01T00:00Z"],
     "refused: invalid_request: since is after until"),
    (["--out", "{tmp}/missing/audit.json"], "refused: unwritable_file: cannot write"
                                            " {tmp}/missing/audit.json: {tmp}/missing is not a"
                                            " folder"),
    (["--out", "{tmp}"], "refused: unwritable_file: cannot write {tmp}: it is a folder"),
])
def test_audit_export_refuses_bad_input_in_one_line_reading_and_chaining_nothing(
    settings: ApiSettings, tmp_path: Path, given: list[str], refusal: str
) -> None:
    before = _chained(settings, "audit_read"), _chained(settings, "reconciled")
    args = [value.format(tmp=tmp_path) for value in given]
    result = runner.invoke(app, ["audit", "export", "--out", str(tmp_path / "audit.json"),
                                 *args, "--data-dir", str(settings.data_dir)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(refusal.format(tmp=tmp_path)), result.output
    assert result.output.count("\n") == 1, result.output
    assert not (tmp_path / "audit.json").exists()
    assert (_chained(settings, "audit_read"), _chained(settings, "reconciled")) == before

"""Restores never resurrect: a copy taken before an erasure comes back without the subject.

The erasure journal in the witness directory (outside the data) is replayed at start-up, before
anything is served; after an epoch rotation the erased template in the copy cannot be decrypted
with the current keys at all, while before the rotation it still could.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from optinface.api.cli.main import app as cli
from optinface.consent.audit import AuditAction, Entry, event_hash, log_time
from optinface.consent.backup import DATABASE_NAME, MANIFEST_NAME
from optinface.consent.db import Database
from optinface.consent.errors import (
    AlternativeChosen,
    KeyUnavailable,
    ProbeConsentRequired,
    SubjectErased,
)
from optinface.consent.keys import LEDGER_KEYS, KeyRing
from optinface.consent.keystore import open_key_store
from optinface.consent.roles import Role
from optinface.consent.schemas import (
    AgeCategory,
    ApiKeyCreated,
    AuditFilter,
    ErasureReason,
    LinkSecret,
    Operation,
    SubjectCreate,
    TokenAct,
    WithdrawalResult,
)
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.soft_authenticator import SoftAuthenticator
from optinface.consent.soft_person import DEFAULT_ORIGIN, SoftPerson
from optinface.consent.tables import AuditEvent, Template
from optinface.consent.witness import latest_witnessed, witnessed
from optinface.engine.pipeline import FacePipeline
from optinface.engine.protection import TemplateProtector
from tests.support.consent import (
    FakeClock,
    World,
    admin_step_up,
    assert_witness_sees_the_restore,
    make_world,
    refused,
    register_admin_passkey,
    sign_in_answer,
    witness_sizes,
)
from tests.support.files import copy_database, decrypt_from_copy, template_bytes
from tests.support.postgres import PostgresServer


@pytest.fixture
def optinface(settings: ConsentSettings, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Runs an ``optinface`` command on the deployment of the ``settings`` fixture, checks that
    it succeeded and returns its output."""
    monkeypatch.setenv("OPTINFACE_THRESHOLDS_PATH", str(settings.thresholds_path))
    monkeypatch.setenv("OPTINFACE_MATCH_FMR", str(settings.match_fmr))
    monkeypatch.setenv("OPTINFACE_INDEX_MAX_ELEMENTS", str(settings.index_max_elements))

    def run(*argv: str) -> str:
        result = CliRunner().invoke(cli, [*argv, "--data-dir", str(settings.data_dir)])
        assert result.exit_code == 0, result.output
        return result.output

    return run


class TwoEnrolled(NamedTuple):
    """A service started on the test's deployment, with two subjects enrolled: one the test
    erases (and its template's id), one it keeps; and an admin key's secret, for the CLI. The
    test stops the service when its copy is to be taken."""

    service: OptinFace
    world: World
    erased: str
    template_id: int
    kept: str
    admin: str


@pytest.fixture
def two_enrolled(open_service: Callable[[], OptinFace], clock: FakeClock,
                 portrait_jpegs: list[bytes]) -> TwoEnrolled:
    service = open_service()
    world = make_world(service, clock)
    erased, consent = world.subject()
    template = world.enrol(erased, consent, portrait_jpegs[0])
    kept = world.enrolled(portrait_jpegs[1])
    admin = service.create_api_key(actor=world.admin, role=Role.ADMIN, name="ops").secret
    return TwoEnrolled(service, world, erased, template.id, kept, admin)


def _decrypt_with_current_keys(settings: ConsentSettings, database: Path,
                               template_id: int) -> bytes:
    """What the holder of a copy of ``database`` and today's key store gets."""
    store = open_key_store(settings, create=False)
    try:
        return decrypt_from_copy(KeyRing.open(store, needed=LEDGER_KEYS), database,
                                 template_id).tobytes()
    finally:
        store.close()


def test_a_disk_copy_from_before_an_erasure_restored_after_rotate_epoch_stays_erased(
    settings: ConsentSettings, tmp_path: Path, optinface: Callable[..., str],
    open_service: Callable[[], OptinFace], two_enrolled: TwoEnrolled,
) -> None:
    service, world, erased, template_id, kept, admin = two_enrolled
    protected = template_bytes(service, template_id)[1]
    service.close()
    snapshot = tmp_path / "snapshot"
    shutil.copytree(settings.data_dir, snapshot)  # the disk snapshot, taken server stopped

    service = open_service()
    service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
    service.close()
    # Until the epoch ends the copy still opens with the live keys: the promise has a bound.
    assert _decrypt_with_current_keys(settings, snapshot / "optinface.db",
                                      template_id) == protected
    optinface("keys", "rotate-epoch", "--api-key", admin)

    shutil.rmtree(settings.data_dir)
    shutil.copytree(snapshot, settings.data_dir)  # the disk restored from the snapshot
    with pytest.raises(KeyUnavailable):
        _decrypt_with_current_keys(settings, settings.data_dir / "optinface.db", template_id)

    with closing(open_service()) as restored:
        report = restored.last_reconcile
        assert report is not None and report.erasures_replayed == 1
        with pytest.raises(SubjectErased):
            restored.get_subject(actor=world.portal, subject=erased)
        assert template_id not in restored.index.labels()
        # The kept subject's key was wrapped under the destroyed epoch too: the copy keeps
        # them as a subject, without a template to match (they enrol again).
        assert report.subject_keys_lost == 1 and restored.index.count() == 0
        assert restored.get_subject(actor=world.portal, subject=kept).status == "active"
        assert_witness_sees_the_restore(restored)


def test_backup_carries_no_key_and_restore_replays_the_erasures_made_since(
    settings: ConsentSettings, portrait_jpegs: list[bytes], tmp_path: Path,
    optinface: Callable[..., str], open_service: Callable[[], OptinFace],
    two_enrolled: TwoEnrolled,
) -> None:
    service, world, erased, template_id, kept, _ = two_enrolled
    destination = tmp_path / "backup"
    # Online: the server (this process) holds the data directory meanwhile.
    optinface("backup", str(destination))
    assert sorted(p.name for p in destination.iterdir()) == ["backup.json", "optinface.db"]
    copied = (destination / "optinface.db").read_bytes()
    for key_file in settings.keys_dir.iterdir():
        secret = key_file.read_bytes()[-32:]
        assert secret not in copied, key_file.name
    service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
    service.close()
    journal = (settings.witness_dir / "erasures.jsonl").read_text()
    assert [set(json.loads(line)) for line in journal.splitlines()] == [
        *[{"kind", "subjectHash", "at"}] * 2,  # the two first enrolments
        {"subjectHash", "reason", "at"}] and erased not in journal  # a tombstone, no pseudonym

    done = optinface("restore", str(destination))
    assert json.loads(done[done.index("{"):])["erasures_replayed"] == 1

    with closing(open_service()) as restored:
        with pytest.raises(SubjectErased):
            restored.get_subject(actor=world.portal, subject=erased)
        assert template_id not in restored.index.labels()
        world.service = restored
        assert world.verify(kept, portrait_jpegs[1]).outcome == "candidates_for_review"
        assert_witness_sees_the_restore(restored)


def test_a_restore_withdraws_again_a_consent_withdrawn_since_the_backup(
    clock: FakeClock, portrait_jpegs: list[bytes], tmp_path: Path, optinface: Callable[..., str],
    open_service: Callable[[], OptinFace],
) -> None:
    service = open_service()
    world = make_world(service, clock)
    pseudonym, first = world.subject()
    second = world.consent(pseudonym).consent.id
    template = world.enrol(pseudonym, first, portrait_jpegs[0])
    destination = tmp_path / "backup"
    optinface("backup", str(destination))
    clock.advance(hours=1)
    withdrawn_at = clock.now()
    world.withdraw(pseudonym, first)
    service.close()

    optinface("restore", str(destination))
    with closing(open_service()) as restored:
        assert template.id not in restored.index.labels()
        consents = {c.id: c for c in restored.list_consents(actor=world.portal,
                                                             subject=pseudonym)}
        assert {c.id: c.status for c in consents.values()} == {first: "withdrawn",
                                                               second: "active"}
        # The copy's template destroyed again, with the controller's receipt of it: ended
        # when the person withdrew it, as the journal says, not at the consent's planned end.
        signed = consents[first].end_receipt
        assert signed is not None
        assert (signed.receipt["reason"], datetime.fromisoformat(signed.receipt["endedAt"]),
                signed.receipt["destroyed"]["templates"]) == ("withdrawal", withdrawn_at, 1)


def _another_deployment(settings: ConsentSettings, tmp_path: Path, pipeline: FacePipeline,
                        clock: FakeClock) -> ConsentSettings:
    """A second deployment beside ``settings``: its own data, keys and witness."""
    other = ConsentSettings(**{**settings.model_dump(exclude={
        "data_dir", "database_url", "key_dir", "audit_witness_dir"}),
        "data_dir": tmp_path / "other"})
    OptinFace.open(other, pipeline=pipeline, clock=clock).close()
    return other


def _restore(backup: Path, settings: ConsentSettings) -> Result:
    return CliRunner().invoke(cli, ["restore", str(backup), "--data-dir", str(settings.data_dir)])


def _edit_backup(backup: Path, statement: str, *parameters: object) -> None:
    """Change the backup's database as whoever holds the file can, and the checksum in its
    manifest with it (the checksum catches damage, not its holder)."""
    database = backup / DATABASE_NAME
    with closing(sqlite3.connect(database)) as copy:
        copy.execute(statement, parameters)
        copy.commit()
    manifest = backup / MANIFEST_NAME
    content = json.loads(manifest.read_text())
    content["sha256"] = hashlib.sha256(database.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(content))


def _refused_leaving_the_ledger(backup: Path, settings: ConsentSettings, why: str) -> None:
    """Restoring ``backup`` into ``settings``' deployment is refused, saying ``why``, and its
    ledger is left byte for byte as it was."""
    ledger = settings.data_dir / "optinface.db"
    before = ledger.read_bytes()
    result = _restore(backup, settings)
    assert result.exit_code != 0 and why in result.output, result.output
    assert ledger.read_bytes() == before


@pytest.mark.parametrize("manifest", [b"{", b"[]", b'"x"', b"{}", b"\xff\xfe", b"[" * 100_000])
def test_a_backup_whose_manifest_is_damaged_is_refused_in_one_line(
    settings: ConsentSettings, clock: FakeClock, tmp_path: Path,
    optinface: Callable[..., str], open_service: Callable[[], OptinFace], manifest: bytes,
) -> None:
    with closing(open_service()) as service:
        make_world(service, clock).subject()
    optinface("backup", str(tmp_path / "backup"))
    (tmp_path / "backup" / MANIFEST_NAME).write_bytes(manifest)
    _refused_leaving_the_ledger(tmp_path / "backup", settings, "holds no optinface backup")


def test_a_backup_of_another_deployment_is_refused_before_anything_is_replaced(
    settings: ConsentSettings, clock: FakeClock, pipeline: FacePipeline, tmp_path: Path,
    optinface: Callable[..., str], open_service: Callable[[], OptinFace],
) -> None:
    with closing(open_service()) as service:
        make_world(service, clock).subject()
    optinface("backup", str(tmp_path / "backup"))
    other = _another_deployment(settings, tmp_path, pipeline, clock)
    _refused_leaving_the_ledger(tmp_path / "backup", other, "is not this deployment's")


def test_a_backup_taken_before_the_templates_were_rekeyed_is_refused_before_anything(
    settings: ConsentSettings, clock: FakeClock, tmp_path: Path, portrait_jpegs: list[bytes],
    optinface: Callable[..., str], open_service: Callable[[], OptinFace],
) -> None:
    """Its templates are protected by the rotation the re-key destroyed: restored, the ledger
    would be refused at start, the one it replaced shredded."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        world.enrolled(portrait_jpegs[0])
        optinface("backup", str(tmp_path / "backup"))
        service.rekey_templates(actor=world.admin)
    _refused_leaving_the_ledger(tmp_path / "backup", settings,
                                "taken before the template protection key was re-keyed")


@pytest.mark.parametrize("replaced", [("hmac",), ("hmac", "rotation")])
def test_a_backup_made_with_another_hmac_key_is_refused_as_another_deployments(
    settings: ConsentSettings, clock: FakeClock, tmp_path: Path,
    optinface: Callable[..., str], open_service: Callable[[], OptinFace],
    replaced: tuple[str, ...],
) -> None:
    """Only a rotation that alone differs says the backup predates a re-key; a key store
    whose HMAC key differs too is another deployment's (or keys made anew by mistake)."""
    with closing(open_service()) as service:
        make_world(service, clock).subject()
    optinface("backup", str(tmp_path / "backup"))
    store = open_key_store(settings, create=False)
    try:
        store.put_secret("hmac", os.urandom(32))
        if "rotation" in replaced:
            store.put_secret("rotation", TemplateProtector.generate().to_bytes())
    finally:
        store.close()
    _refused_leaving_the_ledger(tmp_path / "backup", settings,
                                f"made with another {' and '.join(replaced)} key")


def test_a_backup_of_another_deployment_carrying_this_deployments_note_is_refused(
    settings: ConsentSettings, clock: FakeClock, pipeline: FacePipeline, tmp_path: Path,
    open_service: Callable[[], OptinFace],
) -> None:
    """Notes are public (the witness folder): one copied into another deployment's backup is
    signed by the pinned key, but the backup's own events do not have the root it signs."""
    with closing(open_service()) as service:
        make_world(service, clock).subject()
    [*_, latest] = witnessed(settings.witness_dir)
    other = _another_deployment(settings, tmp_path, pipeline, clock)
    foreign = tmp_path / "foreign"
    assert CliRunner().invoke(cli, ["backup", str(foreign),
                                    "--data-dir", str(other.data_dir)]).exit_code == 0
    _edit_backup(foreign, "UPDATE audit_checkpoints SET note = ?"
                          " WHERE seq = (SELECT max(seq) FROM audit_checkpoints)",
                 latest.read_text())
    _refused_leaving_the_ledger(foreign, settings, "is not this deployment's")


def test_a_backup_with_no_signed_checkpoint_is_refused_as_nobodys(
    settings: ConsentSettings, clock: FakeClock, tmp_path: Path,
    optinface: Callable[..., str], open_service: Callable[[], OptinFace],
) -> None:
    with closing(open_service()) as service:
        make_world(service, clock).subject()
    optinface("backup", str(tmp_path / "backup"))
    _edit_backup(tmp_path / "backup", "UPDATE audit_checkpoints SET note = NULL")
    _refused_leaving_the_ledger(tmp_path / "backup", settings, "holds no signed checkpoint")


def test_a_backup_in_a_folder_named_with_uri_characters_is_restored(
    clock: FakeClock, tmp_path: Path,
    optinface: Callable[..., str], open_service: Callable[[], OptinFace],
) -> None:
    """The guard opens the backup by a SQLite URI: unquoted, ``#``, ``?`` and ``%`` in the
    folder's name cut or changed the path, and this deployment's own backup was refused."""
    with closing(open_service()) as service:
        make_world(service, clock).subject()
    backup = tmp_path / "b#1 ?x=%41"
    optinface("backup", str(backup))
    optinface("restore", str(backup))


def test_a_restore_destroys_again_the_templates_replaced_or_given_up_since_the_backup(
    clock: FakeClock, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], tmp_path: Path,
    optinface: Callable[..., str], open_service: Callable[[], OptinFace],
) -> None:
    """A rectification's replaced template, and the templates of a person who chose the
    non-biometric alternative, are destroyed while the subject stays: the journal names them
    (by a keyed hash of their nonce), so a copy from before loses them again at start-up."""
    service = open_service()
    world = make_world(service, clock)
    rectified, consent = world.subject()
    replaced = world.enrol(rectified, consent, portrait_jpegs[0])
    chooser, other = world.subject()
    given_up = world.enrol(chooser, other, portrait_jpegs[1])
    destination = tmp_path / "backup"
    optinface("backup", str(destination))
    world.enrol(rectified, consent, flipped_jpegs[0], replaces=replaced.id)
    service.choose_alternative(actor=world.people[chooser].actor, subject=chooser)
    service.close()

    done = optinface("restore", str(destination))
    assert json.loads(done[done.index("{"):])["templates_replayed"] == 2
    with closing(open_service()) as restored:
        gone = {replaced.id, given_up.id}
        assert not gone & restored.index.labels()
        with restored.runtime.db.transaction() as session:
            assert not gone & set(session.scalars(select(Template.id)))


def _backup_then(optinface: Callable[..., str], destination: Path,
                 service: OptinFace, clock: FakeClock, act: Callable[[], object]) -> dict[str, int]:
    """Back up, let time pass, ``act``, stop the server and restore the backup: what the
    restore reports (the start-up reconciliation's counts, and the probe consents voided)."""
    optinface("backup", str(destination))
    clock.advance(minutes=1)
    act()
    service.close()
    done = optinface("restore", str(destination))
    report: dict[str, int] = json.loads(done[done.index("{"):])
    return report


@dataclass
class RoundTrip:
    """A deployment's service and world, and the round trip each replay test makes of it:
    back up, ``act`` (:func:`_backup_then`), then start the restored copy again."""

    service: OptinFace
    world: World
    clock: FakeClock
    backup: Path
    optinface: Callable[..., str]
    open_service: Callable[[], OptinFace]

    def restore_after(self, act: Callable[[], object]) -> dict[str, int]:
        """What the restore reports, once ``act`` was done after the backup."""
        return _backup_then(self.optinface, self.backup, self.service, self.clock, act)

    @contextmanager
    def restored(self) -> Iterator[OptinFace]:
        """The restored copy, started, the world acting on it; closed after."""
        with closing(self.open_service()) as restored:
            self.world.service = restored
            yield restored


@pytest.fixture
def round_trip(clock: FakeClock, tmp_path: Path, optinface: Callable[..., str],
               open_service: Callable[[], OptinFace]) -> RoundTrip:
    service = open_service()
    return RoundTrip(service, make_world(service, clock), clock, tmp_path / "backup", optinface,
                     open_service)


def test_a_restore_is_chained_once_as_a_rollback_that_verify_names(
    round_trip: RoundTrip,
) -> None:
    """Events made after the backup are gone; the first start after the restore chains that
    once, with both sizes, however often the server starts before the log is as long again,
    and verify reports each witnessed checkpoint the log lost by that rollback."""
    service, world = round_trip.service, round_trip.world
    backed_up = service.verify_audit().events
    round_trip.restore_after(lambda: [world.subject() for _ in range(4)])
    witnessed = latest_witnessed(world.service.settings.witness_dir)
    for _ in range(2):
        with round_trip.restored() as restored:
            status = restored.verify_audit()
            rollbacks = restored.audit_events(actor=world.reviewer, filters=AuditFilter(
                action=AuditAction.LOG_ROLLED_BACK)).events
    assert status.events < witnessed and not status.ok and status.problem is not None
    assert status.keyed_seals_checked and status.unsealed_count == 0  # the copy's are sealed
    assert [e.details for e in rollbacks] == [{"events": backed_up, "witnessed": witnessed}]
    assert (f"rolled back from {witnessed} to {backed_up} events, chained at event"
            f" {rollbacks[0].seq}") in status.problem


def _grow_to(service: OptinFace, size: int) -> None:
    """Chain events (reads of the log) until the log holds ``size`` events: the new branch a
    restored copy grows as it serves."""
    runtime = service.runtime
    with runtime.db.transaction() as session:
        while runtime.log.tree.sync(session).size < size:
            runtime.audit(session, Entry(action=AuditAction.AUDIT_READ, actor=None))


def _chained(service: OptinFace, action: AuditAction) -> list[dict[str, object]]:
    with service.runtime.db.transaction() as session:
        return [dict(event.details) for event in session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))]


def _rewrite(settings: ConsentSettings, seq: int, *, rehash_from: int | None) -> None:
    """Edit event ``seq`` with the service stopped, as whoever holds the ledger alone can:
    its hash recomputed, and every hash from ``rehash_from`` on (None: only its own)."""
    ledger = Database(settings.url)
    ledger.open()
    with closing(ledger), ledger.transaction() as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        events[seq - 1].outcome = "rewritten"
        events[seq - 1].hash = event_hash(events[seq - 1])
        for event in events[(rehash_from or len(events) + 1) - 1:]:
            event.prev_hash = events[event.seq - 2].hash
            event.hash = event_hash(event)


@dataclass(frozen=True)
class GrownBack:
    """A restored copy whose log grew back, with new events, to the size the witness had
    signed before the restore, and stopped there (blackbox 25, finding 5)."""

    kept: int  # the events the restore kept
    witnessed: int  # the witness's newest size before the restore
    abandoned: list[int]  # the witness's sizes between them, before the copy started


@pytest.fixture
def grown_back(round_trip: RoundTrip, settings: ConsentSettings) -> GrownBack:
    world = round_trip.world
    round_trip.restore_after(lambda: [world.subject() for _ in range(4)])
    witnessed, sizes = latest_witnessed(settings.witness_dir), witness_sizes(settings)
    with round_trip.restored() as restored:
        kept = _chained(restored, AuditAction.LOG_ROLLED_BACK)[0]["events"]
        assert isinstance(kept, int) and kept < witnessed
        gap = min(set(range(restored.verify_audit().events + 2, witnessed)) - set(sizes))
        _grow_to(restored, gap - 1)
        assert restored.audit_checkpoint(actor=world.reviewer).tree_size == gap  # not kept
        _grow_to(restored, witnessed)
    return GrownBack(kept, witnessed, [size for size in sizes if kept < size <= witnessed])


def test_a_restored_log_grown_back_to_a_witnessed_size_raises_no_rewrite_alarm(
    round_trip: RoundTrip, settings: ConsentSettings, grown_back: GrownBack,
) -> None:
    """The checkpoints the witness signed between the backup's size and the restore's are of
    the branch the chained rollback abandoned: the log growing back to those sizes with new
    events is no rewrite, at any start, nor when it grows past them (a worker running since
    before the restore that meets them replays: test_live_replay). The witness takes no
    checkpoint of the new branch at those sizes (an export's, a reviewer's), and the new
    branch's from past them."""
    kept, witnessed, abandoned = grown_back.kept, grown_back.witnessed, grown_back.abandoned
    assert abandoned and abandoned[-1] == witnessed
    for _ in range(2):
        with round_trip.restored() as restored:
            assert restored.verify_audit().events >= witnessed
            _grow_to(restored, latest_witnessed(settings.witness_dir) + 3)
        assert _chained(restored, AuditAction.LOG_REWRITTEN) == []
        assert _chained(restored, AuditAction.LOG_ROLLED_BACK) == [
            {"events": kept, "witnessed": witnessed}]
    assert [size for size in witness_sizes(settings) if kept < size <= witnessed] == abandoned
    assert latest_witnessed(settings.witness_dir) > witnessed


def test_a_rewrite_of_what_a_restore_kept_is_still_found(
    round_trip: RoundTrip, settings: ConsentSettings, grown_back: GrownBack,
) -> None:
    """An event the restore kept edited, its hash alone recomputed (the rollback's event and
    its keyed seal untouched): the newest checkpoint of the kept events no longer matches,
    and the next start chains ``log_rewritten`` with that checkpoint's size."""
    kept = grown_back.kept
    _rewrite(settings, 3, rehash_from=None)
    with round_trip.restored() as restored:
        rewrites = _chained(restored, AuditAction.LOG_REWRITTEN)
    assert rewrites == [{"events": rewrites[0]["events"],
                         "witnessed": latest_witnessed(settings.witness_dir, through=kept)}]


def test_a_rollback_whose_keyed_seal_fails_abandons_nothing(
    round_trip: RoundTrip, settings: ConsentSettings, grown_back: GrownBack,
) -> None:
    """The whole chain re-hashed after an edit, as the database alone can: the rollback's
    event no longer carries its keyed seal, so it vouches for no abandoned branch, and the
    witness's newest checkpoint is compared as on any log."""
    witnessed = grown_back.witnessed
    _rewrite(settings, 3, rehash_from=4)
    with round_trip.restored() as restored:
        assert _chained(restored, AuditAction.LOG_REWRITTEN) == [
            {"events": witnessed, "witnessed": witnessed}]


def test_the_events_a_restored_log_grew_back_are_checked_for_their_keyed_seals(
    round_trip: RoundTrip, settings: ConsentSettings, grown_back: GrownBack,
) -> None:
    """The new branch's events up to the abandoned sizes were witnessed by no checkpoint of
    theirs: edited and re-hashed with the database alone (the rollback's event untouched),
    they are no rewrite of anything witnessed, but the start finds them without their keyed
    seals, as it finds any event past the witness."""
    witnessed = grown_back.witnessed
    _rewrite(settings, witnessed - 1, rehash_from=witnessed)
    with round_trip.restored() as restored:
        assert _chained(restored, AuditAction.LOG_REWRITTEN) == []
        unsealed = _chained(restored, AuditAction.LOG_EVENTS_UNSEALED)
    assert len(unsealed) == 1 and unsealed[0]["events"] == [witnessed - 1, witnessed]


def test_a_rewrite_of_the_branch_witnessed_after_a_restore_is_found(
    round_trip: RoundTrip, settings: ConsentSettings, grown_back: GrownBack,
) -> None:
    """Past the abandoned sizes the new branch is witnessed like any log: one of its events
    rewritten, every later hash recomputed, is chained at the next start, the rollback's
    event still vouched for."""
    witnessed = grown_back.witnessed
    with round_trip.restored() as restored:
        _grow_to(restored, witnessed + 3)
    newest = latest_witnessed(settings.witness_dir)
    assert newest > witnessed
    _rewrite(settings, witnessed - 1, rehash_from=witnessed)
    with round_trip.restored() as restored:
        rewrites = _chained(restored, AuditAction.LOG_REWRITTEN)
    assert rewrites == [{"events": rewrites[0]["events"], "witnessed": newest}]


def test_a_restore_takes_out_again_a_purpose_withdrawn_since_the_backup(
    round_trip: RoundTrip, portrait_jpegs: list[bytes],
) -> None:
    """The consent keeps its other purpose; under the withdrawn one nobody is found again."""
    world = round_trip.world
    other = world.purpose_with(Operation.ENROL, Operation.IDENTIFY, name="study-2")
    subject, consent = world.subject(purposes=[world.purpose, other])
    world.enrol(subject, consent, portrait_jpegs[0])
    report = round_trip.restore_after(lambda: world.withdraw_purpose(subject, consent, other))
    with round_trip.restored() as restored:
        assert world.identify(portrait_jpegs[0], purpose=other).candidates == []
        assert [c.subject for c in world.identify(portrait_jpegs[0]).candidates] == [subject]
        [kept] = restored.list_consents(actor=world.portal, subject=subject)
        assert kept.status == "active" and kept.purposes == [world.purpose]
    assert report["purpose_withdrawals_replayed"] == 1


def test_a_purpose_withdrawn_before_a_restore_leaves_the_others_to_withdraw(
    round_trip: RoundTrip,
) -> None:
    """Review 19b, #1: the copy lacks the signed withdrawal of A, so once the replay had taken A
    out of the row again, the row was narrower than the receipt less the signed withdrawals and
    every later withdrawal was refused (``consent_narrowed``). The journal's sealed line has
    the withdrawal's receipt signed again, under the id the person's copy names: B goes."""
    world = round_trip.world
    first = world.purpose_with(Operation.ENROL, name="study-a")
    second = world.purpose_with(Operation.ENROL, name="study-b")
    subject, consent = world.subject(purposes=[world.purpose, first, second])
    withdrawn: list[WithdrawalResult] = []
    round_trip.restore_after(lambda: withdrawn.append(
        world.withdraw_purpose(subject, consent, first)))
    with round_trip.restored() as restored:
        [again] = restored.purpose_withdrawals(actor=world.portal, subject=subject)
        original = withdrawn[0].purpose_withdrawal
        assert original is not None and again.id == original.id
        assert (again.receipt.receipt["rebuiltFromJournal"], again.withdrawn_at) == (
            True, original.withdrawn_at)
        after = world.withdraw_purpose(subject, consent, second)
        assert after.purpose_withdrawal is not None
        assert after.consent.status == "active" and after.consent.purposes == [world.purpose]


def _purpose_line(witness_dir: Path, consent_id: str) -> dict[str, str]:
    [line] = [json.loads(text) for text in (witness_dir / "erasures.jsonl").read_text().splitlines()
              if json.loads(text).get("consentId") == consent_id]
    return line


@pytest.mark.parametrize("forgery", ["as_before_the_seal", "unsealed", "seal_of_another_line"])
def test_a_journal_line_without_its_seal_backs_no_withdrawal(
    clock: FakeClock, settings: ConsentSettings, open_service: Callable[[], OptinFace],
    forgery: str,
) -> None:
    """Whoever writes the witness folder but holds no key store appends a purpose withdrawal:
    the start takes the purpose out of the row (erring on the person's side, as a line written
    before the seal is replayed), but no receipt is signed for it, so the row is narrower than
    what the person signed and their next withdrawal is refused, never taken for the consent's
    last (an erasure). A genuine line's seal copied onto another consent holds for none."""
    service = open_service()
    world = make_world(service, clock)
    first = world.purpose_with(Operation.ENROL, name="study-a")
    second = world.purpose_with(Operation.ENROL, name="study-b")
    subject, consent = world.subject(purposes=[world.purpose, first, second])
    other, other_consent = world.subject(purposes=[world.purpose, first])
    world.withdraw_purpose(other, other_consent, first)
    service.close()
    genuine = _purpose_line(settings.witness_dir, other_consent)
    forged = {**genuine, "consentId": consent, "receiptId": "pwd_forged"}
    if forgery != "seal_of_another_line":
        del forged["seal"]
    if forgery == "as_before_the_seal":
        del forged["receiptId"]
    with (settings.witness_dir / "erasures.jsonl").open("a") as journal:
        journal.write(json.dumps(forged, sort_keys=True) + "\n")
    with closing(open_service()) as restarted:
        world.service = restarted
        [narrowed] = restarted.list_consents(actor=world.portal, subject=subject)
        assert sorted(narrowed.purposes) == sorted([world.purpose, second])
        assert restarted.purpose_withdrawals(actor=world.portal, subject=subject) == []
        refused("consent_narrowed", lambda: world.withdraw_purpose(subject, consent, second))


def test_a_restore_revokes_again_an_api_key_revoked_since_the_backup(
    round_trip: RoundTrip, clock: FakeClock,
) -> None:
    """A leaked key revoked after the backup stays refused, at the revocation's own time."""
    service, world = round_trip.service, round_trip.world
    leaked = service.create_api_key(actor=world.admin, role=Role.PORTAL, name="kiosk")
    service.authenticate(leaked.secret)
    report = round_trip.restore_after(
        lambda: service.revoke_api_key(actor=world.admin, key_id=leaked.key_id))
    with round_trip.restored() as restored:
        refused("unauthenticated", lambda: restored.authenticate(leaked.secret))
        assert restored.authenticate_kept(leaked.secret) is None
        assert [k.revoked_at for k in restored.list_api_keys(actor=world.admin)
                if k.key_id == leaked.key_id] == [clock.now()]
    assert report["revocations_replayed"] == 1


def test_a_restore_chains_again_a_break_glass_opening_made_since_the_backup(
    round_trip: RoundTrip,
) -> None:
    """An emergency key opened after the backup: the restored copy never held the key, but
    reviewers still see the opening, its reason and expiry, from the witness folder's journal."""
    service, world = round_trip.service, round_trip.world
    opened: list[ApiKeyCreated] = []
    report = round_trip.restore_after(lambda: opened.append(
        service.open_break_glass(reason="INC-3: the root key holder is away", hours=2)))
    with round_trip.restored() as restored:
        [seen] = restored.break_glass_openings(actor=world.reviewer)
        refused("unauthenticated", lambda: restored.authenticate(opened[0].secret))
    assert (seen.key_id, seen.reason, seen.replayed) == (
        opened[0].key_id, "INC-3: the root key holder is away", True)
    assert (seen.opened_at, seen.expires_at) == (opened[0].created_at, opened[0].expires_at)
    assert report["break_glass_replayed"] == 1


def test_a_restore_binds_again_an_admin_passkey_replaced_since_the_backup(
    clock: FakeClock, tmp_path: Path, optinface: Callable[..., str],
    settings: ConsentSettings, pipeline: FacePipeline,
) -> None:
    """A passkey replaced (a phone lost) after the backup: the restored copy binds its
    replacement again, from the witness folder's journal, so the lost one opens nothing."""
    open_service = functools.partial(OptinFace.open, settings.model_copy(
        update={"admin_mfa": True}), pipeline=pipeline, clock=clock)
    service = open_service()
    world = make_world(service, clock)
    lost, new = (SoftAuthenticator(origin=DEFAULT_ORIGIN) for _ in range(2))
    link = service.issue_admin_passkey_link(key_id=world.admin.key_id).secret
    register_admin_passkey(service, world.admin, lost, link=link)
    report = _backup_then(optinface, tmp_path / "backup", service, clock,
                          lambda: register_admin_passkey(service, world.admin, new,
                                                          approver=lost))
    with closing(open_service()) as restored:
        refused("passkey_invalid", lambda: admin_step_up(restored, world.admin, lost))
        assert admin_step_up(restored, world.admin, new)
    assert report["admin_passkeys_replayed"] == 1


def test_a_restore_opts_out_again_a_subject_who_opted_out_of_search_since_the_backup(
    round_trip: RoundTrip, portrait_jpegs: list[bytes],
) -> None:
    world = round_trip.world
    subject = world.enrolled(portrait_jpegs[0])
    report = round_trip.restore_after(lambda: world.people[subject].set_searchable(False))
    with round_trip.restored() as restored:
        assert world.identify(portrait_jpegs[0]).candidates == []
        assert not restored.get_subject(actor=world.portal, subject=subject).searchable
    assert report["opt_outs_replayed"] == 1
    journal = (world.service.settings.witness_dir / "erasures.jsonl").read_text()
    assert subject not in journal  # a keyed hash names them, never the pseudonym


def test_a_restore_makes_again_the_choice_of_the_alternative_made_since_the_backup(
    round_trip: RoundTrip, portrait_jpegs: list[bytes],
) -> None:
    """Choosing the alternative is final: after a restore the person is neither found nor
    enrolled again, not only rid of the templates."""
    service, world = round_trip.service, round_trip.world
    subject, consent = world.subject()
    world.enrol(subject, consent, portrait_jpegs[0])
    report = round_trip.restore_after(
        lambda: service.choose_alternative(actor=world.people[subject].actor, subject=subject))
    with round_trip.restored() as restored:
        held = restored.get_subject(actor=world.portal, subject=subject)
        assert held.alternative_chosen_at is not None and not held.searchable
        with pytest.raises(AlternativeChosen):
            world.enrol(subject, consent, portrait_jpegs[0])
    assert report["alternatives_replayed"] == 1


def test_an_opt_out_followed_by_an_opt_in_before_the_backup_is_not_replayed(
    round_trip: RoundTrip, clock: FakeClock, portrait_jpegs: list[bytes],
) -> None:
    """The journal keeps opt-outs only: one the backup already holds, with the person's later
    opt-in, must not undo that opt-in."""
    world = round_trip.world
    subject = world.enrolled(portrait_jpegs[0])
    world.people[subject].set_searchable(False)
    clock.advance(minutes=1)
    world.people[subject].set_searchable(True)
    report = round_trip.restore_after(lambda: None)
    with round_trip.restored() as restored:
        assert [c.subject for c in world.identify(portrait_jpegs[0]).candidates] == [subject]
        assert restored.get_subject(actor=world.portal, subject=subject).searchable
    assert report["opt_outs_replayed"] == 0


def test_a_restore_keeps_in_force_a_regulators_order_made_since_the_backup(
    round_trip: RoundTrip, clock: FakeClock, portrait_jpegs: list[bytes],
) -> None:
    """Red team 4, #1: the order is journaled, so a copy from before places it again (and
    chains it: the rows and the log agree, so the refusal is the order's own)."""
    service, world = round_trip.service, round_trip.world
    world.enrolled(portrait_jpegs[0])
    report = round_trip.restore_after(
        lambda: service.apply_regulator_order(actor=world.admin, reference="CAI-ORDER-9"))
    with round_trip.restored() as restored:
        refused("suspended_by_regulator", lambda: world.identify(portrait_jpegs[0]))
        register = restored.register()
        replayed = restored.audit_events(actor=world.reviewer, filters=AuditFilter(
            action=AuditAction.REGULATOR_ORDER)).events
    assert [(o.reference, o.kind, o.recorded_at, o.lifted_at) for o in register.orders] == [
        ("CAI-ORDER-9", "suspend", clock.now(), None)]
    assert not register.in_service
    assert [e.details for e in replayed] == [
        {"order": "CAI-ORDER-9", "kind": "suspend", "at": log_time(clock.now()),
         "replayed": True}]
    assert report["orders_replayed"] == 1 and report["order_lifts_replayed"] == 0


def test_a_restore_keeps_lifted_an_order_lifted_since_the_backup(
    round_trip: RoundTrip, clock: FakeClock, portrait_jpegs: list[bytes],
) -> None:
    service, world = round_trip.service, round_trip.world
    subject = world.enrolled(portrait_jpegs[0])
    service.apply_regulator_order(actor=world.admin, reference="CAI-ORDER-9")
    report = round_trip.restore_after(
        lambda: service.lift_regulator_order(actor=world.admin, reference="CAI-ORDER-9"))
    with round_trip.restored() as restored:
        assert [c.subject for c in world.identify(portrait_jpegs[0]).candidates] == [subject]
        [order] = restored.register().orders
    assert order.lifted_at == clock.now()
    assert report["order_lifts_replayed"] == 1 and report["orders_replayed"] == 0


def test_a_restore_keeps_a_destroy_order_made_since_the_backup_and_what_it_destroyed(
    round_trip: RoundTrip, portrait_jpegs: list[bytes],
) -> None:
    """The order's erasures are journaled one by one, and the order itself: the copy erases
    its subjects again and stays under the order."""
    service, world = round_trip.service, round_trip.world
    subject = world.enrolled(portrait_jpegs[0])
    report = round_trip.restore_after(lambda: service.apply_regulator_order(
        actor=world.admin, reference="CAI-ORDER-10", destroy=True))
    with round_trip.restored() as restored:
        with pytest.raises(SubjectErased):
            restored.get_subject(actor=world.portal, subject=subject)
        assert restored.index.count() == 0
        with restored.runtime.db.transaction() as session:
            assert list(session.scalars(select(Template.id))) == []
        refused("suspended_by_regulator", lambda: world.identify(portrait_jpegs[0]))
        [order] = restored.register().orders
    assert (order.reference, order.kind, order.lifted_at) == ("CAI-ORDER-10", "destroy", None)
    assert report["orders_replayed"] == 1 and report["erasures_replayed"] == 1


def test_a_restore_lifts_the_copys_order_and_places_again_the_one_that_replaced_it(
    round_trip: RoundTrip, clock: FakeClock, portrait_jpegs: list[bytes],
) -> None:
    """The copy holds a suspension the regulator lifted and then replaced by a destruction
    under the same reference: the journal's last word stands, and the rows and the log agree
    on it (refused as suspended, not as altered)."""
    service, world = round_trip.service, round_trip.world
    world.enrolled(portrait_jpegs[0])
    service.apply_regulator_order(actor=world.admin, reference="CAI-ORDER-9")
    lifted_at: list[datetime] = []

    def lift_then_destroy() -> None:
        service.lift_regulator_order(actor=world.admin, reference="CAI-ORDER-9")
        lifted_at.append(clock.now())
        clock.advance(minutes=1)
        service.apply_regulator_order(actor=world.admin, reference="CAI-ORDER-9", destroy=True)

    report = round_trip.restore_after(lift_then_destroy)
    with round_trip.restored() as restored:
        refused("suspended_by_regulator", lambda: world.identify(portrait_jpegs[0]))
        orders = restored.register().orders
    assert [(o.kind, o.lifted_at) for o in orders] == [("suspend", lifted_at[0]),
                                                       ("destroy", None)]
    assert (report["order_lifts_replayed"], report["orders_replayed"]) == (1, 1)


def test_a_pg_dump_from_before_an_order_restored_is_placed_under_it_again(
    settings: ConsentSettings, postgres: PostgresServer, pipeline: FacePipeline,
    clock: FakeClock, portrait_jpegs: list[bytes], tmp_path: Path,
) -> None:
    """PostgreSQL's copy is the operator's ``pg_dump``, loaded into the database the service
    is then started on: the same start places the order again."""
    url = postgres.new_database()
    on_postgres = settings.model_copy(update={"database_url": url})
    service = OptinFace.open(on_postgres, pipeline=pipeline, clock=clock)
    world = make_world(service, clock)
    world.enrolled(portrait_jpegs[0])
    dump = postgres.dump(url, tmp_path / "before-order.sql")
    service.apply_regulator_order(actor=world.admin, reference="CAI-ORDER-9")
    service.close()
    copy = on_postgres.model_copy(update={"database_url": postgres.restore(dump)})
    with closing(OptinFace.open(copy, pipeline=pipeline, clock=clock)) as restored:
        world.service = restored
        refused("suspended_by_regulator", lambda: world.identify(portrait_jpegs[0]))
        assert [o.reference for o in restored.register().orders] == ["CAI-ORDER-9"]
        assert restored.last_reconcile is not None
        assert restored.last_reconcile.orders_replayed == 1


def test_a_probe_consent_used_since_the_backup_cannot_be_used_again_after_a_restore(
    round_trip: RoundTrip, portrait_jpegs: list[bytes],
) -> None:
    service, world = round_trip.service, round_trip.world
    world.enrolled(portrait_jpegs[0])
    probe = world.probe(image=portrait_jpegs[0])

    def search(under: OptinFace) -> object:
        return under.identify(actor=world.researcher, purpose_id=world.purpose,
                              probe_consent_id=probe, image=portrait_jpegs[0])

    report = round_trip.restore_after(lambda: search(service))
    with round_trip.restored() as restored, pytest.raises(ProbeConsentRequired) as error:
        search(restored)
    assert error.value.details["problem"] == "used"
    assert report["probe_consents_voided"] == 1


def test_a_restore_voids_the_links_and_the_approved_captures_the_copy_holds_unused(
    round_trip: RoundTrip, portrait_jpegs: list[bytes],
) -> None:
    """A link or a capture used after the backup is unused again in the copy: each must not
    serve twice, so the desk hands a new link and opens a new capture."""
    service, world = round_trip.service, round_trip.world
    subject, consent = world.subject()
    capture = world.signer(subject).approve_capture(consent, portrait_jpegs[0], desk=world.portal)
    link = service.create_subject(actor=world.portal, body=SubjectCreate(
        age_category=AgeCategory.ADULT)).enrolment.secret
    report = round_trip.restore_after(lambda: None)
    with round_trip.restored() as restored:
        refused("link_invalid", lambda: restored.passkey_registration_options(
            LinkSecret(link=link)))
        refused("challenge_invalid", lambda: restored.enrol(
            actor=world.portal, subject=subject, capture_id=capture.id, image=portrait_jpegs[0]))
    assert report["links_voided"] >= 1 and report["captures_voided"] == 1


def _died_unclean_then_put_back(service: OptinFace, copy: Path) -> None:
    """``service``'s process dies: no close, so no closing checkpoint, and no periodic check
    ran since the copy was taken; then the copy is put back in the live file, as SQLite's
    ``.restore`` does."""
    service.runtime.db.close()
    service.lock.release()
    with closing(sqlite3.connect(copy)) as read, \
            closing(sqlite3.connect(service.settings.data_dir / DATABASE_NAME)) as write:
        read.backup(write)


@pytest.mark.parametrize("right", ["probe-consent", "enrolment-link"])
def test_a_right_spent_by_a_worker_that_died_unclean_is_refused_on_a_copy_from_before(
    settings: ConsentSettings, clock: FakeClock, pipeline: FacePipeline,
    portrait_jpegs: list[bytes], tmp_path: Path, right: str,
) -> None:
    """Red team 5, F2: a probe consent's use (an enrolment link's) is not journaled, so a copy
    of the ledger from before it holds it unused. Its spend is signed into the witness folder
    before the identification (the registration) answers, so the worker that spent it, dying
    before any periodic check or close, still leaves the copy shorter than a witnessed
    checkpoint: the next start finds it and voids the copy's single-use rows."""
    rare = settings.model_copy(update={"audit_checkpoint_every": 1000})  # no checkpoint by
    service = OptinFace.open(rare, pipeline=pipeline, clock=clock)  # count: only the spend's
    world = make_world(service, clock)
    world.enrolled(portrait_jpegs[0])
    probe = world.probe(image=portrait_jpegs[0])
    link = service.create_subject(actor=world.portal, body=SubjectCreate(
        age_category=AgeCategory.ADULT)).enrolment.secret
    copy = copy_database(settings, tmp_path)
    clock.advance(minutes=1)
    if right == "probe-consent":
        service.identify(actor=world.researcher, purpose_id=world.purpose,
                         probe_consent_id=probe, image=portrait_jpegs[0])
    else:
        SoftPerson.take_over(service, link)
    _died_unclean_then_put_back(service, copy)
    with closing(OptinFace.open(rare, pipeline=pipeline, clock=clock)) as restarted:
        if right == "probe-consent":
            with pytest.raises(ProbeConsentRequired) as error:
                restarted.identify(actor=world.researcher, purpose_id=world.purpose,
                                   probe_consent_id=probe, image=portrait_jpegs[0])
            assert error.value.details["problem"] == "used"
        else:
            refused("link_invalid", lambda: restarted.passkey_registration_options(
                LinkSecret(link=link)))


def _answered_then_replayed(service: OptinFace, person: SoftPerson,
                            act: str) -> Callable[[OptinFace], object]:
    """Ask ``person``'s passkey to sign ``act``'s challenge (a sign-in, or a portal token's
    ``subject_token`` act), and the act that answers that assertion on a service: the same
    assertion each time it is called."""
    if act == "sign-in":
        answer = sign_in_answer(service, person.authenticator)
        return lambda on: on.sign_in(answer)
    signed = person.sign(TokenAct())
    return lambda on: on.issue_subject_token(actor=person.actor, signed=signed)


@pytest.mark.parametrize("act", ["sign-in", "subject-token"])
def test_a_challenge_answered_by_a_worker_that_died_unclean_is_refused_on_a_copy_from_before(
    settings: ConsentSettings, clock: FakeClock, pipeline: FacePipeline, tmp_path: Path,
    act: str,
) -> None:
    """A passkey challenge is spent by marking its row used, which is not journaled: a copy of
    the ledger from before the answer holds it unused, and within its lifetime the assertion
    the person's device sent would act again there (a ``subject_token`` act: a second bearer
    token, which outlives the copy). Its spend is signed into the witness folder before the
    act answers, so the worker that answered it, dying before any periodic check or close,
    still leaves the copy shorter than a witnessed checkpoint: the copy's start voids the
    challenge and the replayed assertion is refused."""
    rare = settings.model_copy(update={"audit_checkpoint_every": 1000})  # no checkpoint by
    service = OptinFace.open(rare, pipeline=pipeline, clock=clock)  # count: only the spend's
    world = make_world(service, clock)
    pseudonym, _ = world.subject()
    answer = _answered_then_replayed(service, world.signer(pseudonym), act)
    copy = copy_database(settings, tmp_path)  # the challenge asked, not yet answered
    clock.advance(minutes=1)  # well within challenge_seconds
    answer(service)
    _died_unclean_then_put_back(service, copy)
    with closing(OptinFace.open(rare, pipeline=pipeline, clock=clock)) as restarted:
        refused("challenge_invalid", lambda: answer(restarted))


@pytest.mark.parametrize("inside", ["data_dir", "keys_dir", "witness_dir"])
def test_a_backup_inside_the_data_the_keys_or_the_witness_is_refused(
    settings: ConsentSettings, clock: FakeClock, tmp_path: Path, inside: str,
    open_service: Callable[[], OptinFace],
) -> None:
    """Later erasures never reach a copy in the data directory; a copy beside the keys or the
    witness is no longer kept apart. Reached through a symbolic link, too."""
    with closing(open_service()) as service:
        make_world(service, clock).subject()
    link = tmp_path / "elsewhere"
    link.symlink_to(getattr(settings, inside))
    for destination in (getattr(settings, inside) / "copy", link / "copy"):
        result = CliRunner().invoke(cli, ["backup", str(destination),
                                          "--data-dir", str(settings.data_dir)])
        assert result.exit_code != 0 and "is inside the" in result.output, result.output
        assert not destination.exists()

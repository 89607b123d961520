"""A restored copy erases the subject again before it serves, with no restart (red team 5, F2).

The red team loaded an older ``pg_dump`` behind two running workers: the erased person's old
token read their record and exported their decrypted template, a new enrolment link and passkey
made the operator them, and matching resumed under an order placed after the dump, until the
next start. Every way into a subject now asks the erasure journal (consent.journal_ends,
through ``ledger.get_subject`` and the token's authentication), and the running service that
finds the restore (its log's tail gone, or the log shorter than its witness) replays the
journal before it answers anything else (consent.live_replay). Reproduced as the red team did it
on PostgreSQL (``pg_dump --clean`` loaded with ``psql`` behind the service), on SQLite with the
``.restore`` of a copy into the live file, and, for the journal alone, with the erased rows put
back by SQL.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy import text as sql_text
from sqlalchemy.pool import NullPool

from optinface.api.periodic import Periodic
from optinface.consent import live_replay
from optinface.consent import service as service_module
from optinface.consent.audit import AuditAction
from optinface.consent.db import LEDGER_LOCK, sqlite_file
from optinface.consent.errors import ConsentError
from optinface.consent.reconcile import ReconcileStopped, reconcile
from optinface.consent.roles import Role
from optinface.consent.schemas import (
    AgeCategory,
    AuditFilter,
    ConsentCapacity,
    ErasureReason,
    LinkSecret,
    Operation,
    SubjectCreate,
)
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditEvent, Subject
from optinface.consent.witness import latest_witnessed
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import (
    FakeClock,
    World,
    make_world,
    new_subject_token,
    outside_copy,
    outside_put_back,
    outside_sql,
    refused,
    row_count,
)
from tests.support.polling import eventually
from tests.support.postgres import PostgresServer

ORDER = "CAI-RT5-3"


def _erase(world: World, *pseudonyms: str) -> None:
    for pseudonym in pseudonyms:
        world.service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)


def _events(service: OptinFace, action: AuditAction) -> list[dict[str, Any]]:
    with service.runtime.db.transaction() as session:
        return [details for details in session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == str(action))
            .order_by(AuditEvent.seq))]


def _no_way_into(world: World, pseudonym: str) -> None:
    """Every way into the erased subject that chains nothing when refused is refused as for an
    erased subject: a read or an export by an operator, the person's own copy of their
    templates, a new enrolment link, a sign-in with their passkey."""
    service, person = world.service, world.people[pseudonym]
    refused("subject_erased", lambda: service.get_subject(actor=world.admin, subject=pseudonym))
    refused("subject_erased", lambda: service.export(actor=world.admin, subject=pseudonym))
    refused("subject_erased", lambda: service.export(actor=person.actor, subject=pseudonym,
                                                     vectors=True))
    refused("subject_erased", lambda: service.new_enrolment_link(
        actor=world.portal, subject=pseudonym, capacity=ConsentCapacity.SELF))
    refused("subject_erased", lambda: new_subject_token(world.service, world.people[pseudonym]))


def _signed_acts(world: World, pseudonym: str, consent_id: str, portrait: bytes) -> None:
    """The erased subject's signed acts are refused (a capture the desk opens for them, their
    opt-out), each refusal chained."""
    person = world.people[pseudonym]
    refused("subject_erased", lambda: person.approve_capture(consent_id, portrait,
                                                             desk=world.portal))
    refused("subject_erased", lambda: person.set_searchable(False))


@both_backends
def test_an_erased_subjects_rows_put_back_by_sql_open_no_way_into_them(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """No replay involved: the log is untouched, so nothing finds a restore; the journal
    alone keeps the rows from acting."""
    erased, consent_id = world.subject()
    world.enrol(erased, consent_id, portrait_jpegs[0])
    token = new_subject_token(world.service, world.people[erased])
    tables = ("subjects", "subject_keys", "templates", "passkey_credentials", "subject_tokens")
    copied = {table: outside_copy(world.service, table) for table in tables}
    [subject_id] = [row["id"] for row in copied["subjects"] if row["pseudonym"] == erased]
    _erase(world, erased)
    for table in tables:  # the operator puts the erased person's rows back, the service running
        outside_put_back(world.service, table, [
            row for row in copied[table]
            if row.get("subject_id", row["id"] if table == "subjects" else None) == subject_id])
    assert row_count(world.service, Subject, Subject.pseudonym == erased) == 1
    refused("unauthenticated", lambda: world.service.authenticate(token))
    _no_way_into(world, erased)
    _signed_acts(world, erased, consent_id, portrait_jpegs[1])
    assert world.identify(flipped_jpegs[0]).candidates == []
    assert not _events(world.service, AuditAction.LOG_TRUNCATED)  # the journal alone held


@pytest.fixture
def older_copy(settings: ConsentSettings, request: pytest.FixtureRequest,
               tmp_path: Path) -> Callable[[], Callable[[], None]]:
    """Takes a copy of the live ledger, and gives the call that loads it back behind the
    running service as its operator would: a ``pg_dump --clean`` loaded with ``psql`` (red
    team 5), or SQLite's online ``.restore`` of a copy into the live file."""
    copy = tmp_path / "ledger-copy"

    def take() -> Callable[[], None]:
        live = sqlite_file(settings.url)
        if live is not None:
            _sqlite_copy(live, copy)
            return lambda: _sqlite_copy(copy, live)
        server: PostgresServer = request.getfixturevalue("postgres")
        server.dump(settings.url, copy, clean=True)
        return lambda: server.load(copy, settings.url)

    return take


def _sqlite_copy(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as read, closing(sqlite3.connect(target)) as write:
        read.backup(write)


@both_backends
def test_a_copy_restored_behind_the_running_service_is_replayed_before_it_answers(
    world: World, older_copy: Callable[[], Callable[[], None]], portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes],
) -> None:
    service = world.service
    erased, consent_id = world.subject()
    world.enrol(erased, consent_id, portrait_jpegs[0])
    token = new_subject_token(world.service, world.people[erased])
    handed = service.create_subject(actor=world.portal,  # a link handed over, unused yet
                                    body=SubjectCreate(age_category=AgeCategory.ADULT))
    opted, _ = world.subject()
    withdrawing, kept_consent = world.subject()
    withdrawn = world.consent(withdrawing).consent.id
    key = service.create_api_key(actor=world.admin, role=Role.RESEARCHER, name="rt5-before")
    spent = world.probe(image=flipped_jpegs[0])  # signed before the dump, used after it
    verify = world.probe_link(image=flipped_jpegs[0], subject=erased)  # theirs to sign
    load_back = older_copy()  # the nightly dump
    _only_requests_find_it(world)
    world.clock.advance(minutes=1)
    service.identify(actor=world.researcher, purpose_id=world.purpose, probe_consent_id=spent,
                     image=flipped_jpegs[0])
    _erase(world, erased, handed.pseudonym)
    service.revoke_api_key(actor=world.admin, key_id=key.key_id)
    world.people[opted].set_searchable(False)
    world.withdraw(withdrawing, withdrawn)
    service.apply_regulator_order(actor=world.admin, reference=ORDER)
    load_back()  # behind the running service: no restart from here on
    assert row_count(service, Subject, Subject.pseudonym == erased) == 1  # the copy's row
    # Before anything found the restore, the journal keeps the erased out.
    _no_way_into(world, erased)
    refused("subject_erased", lambda: service.passkey_registration_options(
        LinkSecret(link=handed.enrolment.secret)))
    refused("purpose_not_consented", lambda: world.people[erased].sign_probe(verify))
    # Their token's refusal is tallied into the log: that append finds the restore, and is
    # refused as such; the replay runs at once, and what follows waits for it.
    refused("ledger_restored", lambda: service.authenticate(token))
    service.settle()
    refused("unauthenticated", lambda: service.authenticate(token))
    _signed_acts(world, erased, consent_id, portrait_jpegs[1])
    _no_way_into(world, erased)
    refused("suspended_by_regulator", lambda: world.identify(flipped_jpegs[1]))
    # The order is asked before a probe consent (a refusal by it spends none): lifted, the
    # search reaches the consent the replay voided.
    service.lift_regulator_order(actor=world.admin, reference=ORDER)
    refused("probe_consent_required", lambda: service.identify(  # voided: used once already
        actor=world.researcher, purpose_id=world.purpose, probe_consent_id=spent,
        image=flipped_jpegs[0]))
    refused("unauthenticated", lambda: service.authenticate(key.secret))
    assert not service.get_subject(actor=world.admin, subject=opted).searchable
    statuses = {c.id: c.status for c in service.list_consents(actor=world.admin,
                                                               subject=withdrawing)}
    assert (statuses[withdrawn], statuses[kept_consent]) == ("withdrawn", "active")
    assert row_count(service, Subject, Subject.pseudonym.in_([erased, handed.pseudonym])) == 0
    [replayed] = _events(service, AuditAction.RECONCILED)[-1:]
    assert {name: replayed[name] for name in (
        "erasures_replayed", "revocations_replayed", "opt_outs_replayed",
        "withdrawals_replayed", "orders_replayed")} == {
        "erasures_replayed": 2, "revocations_replayed": 1, "opt_outs_replayed": 1,
        "withdrawals_replayed": 1, "orders_replayed": 1}
    [finding] = _events(service, AuditAction.LOG_TRUNCATED)
    assert finding["found"] == "shorter"
    assert service.verify_audit().reason in {"log_truncated", "witness"}


@both_backends
def test_a_purpose_withdrawn_since_the_copy_leaves_the_others_to_withdraw_after_the_replay(
    world: World, older_copy: Callable[[], Callable[[], None]],
) -> None:
    """Review 19b, #1, while the service runs: the replay takes A out of the copy's row again
    and signs A's receipt again from the journal's sealed line, so withdrawing B afterwards is
    not refused as a narrowed consent."""
    first = world.purpose_with(Operation.ENROL, name="study-a")
    second = world.purpose_with(Operation.ENROL, name="study-b")
    subject, consent = world.subject(purposes=[world.purpose, first, second])
    load_back = older_copy()
    _only_requests_find_it(world)
    world.clock.advance(minutes=1)
    world.withdraw_purpose(subject, consent, first)
    load_back()
    refused("ledger_restored", lambda: world.service.create_api_key(
        actor=world.admin, role=Role.RESEARCHER, name="finds-the-restore"))
    world.service.settle()
    after = world.withdraw_purpose(subject, consent, second)
    assert after.purpose_withdrawal is not None and after.consent.purposes == [world.purpose]
    assert _events(world.service, AuditAction.RECONCILED)[-1]["purpose_withdrawals_replayed"] == 1


def test_a_replay_stuck_in_the_database_does_not_hold_the_close_back(
    pg_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Review 19b, #2, and 20a, #1: the close joined the replay's thread with no bound, then
    wrote to the ledger (the failed-login tally, the closing checkpoint) under the write lock
    that same replay's transaction holds, so a replay waiting in the database kept a SIGTERM
    from saving, checkpointing and releasing the data folder. Here an operator's transaction
    locks a table the replay voids rows of, and holds it past the close: the close waits
    :data:`CLOSE_WAIT_SECONDS`, says so, writes nothing to the ledger, leaves the index unsaved
    and returns while the operator still holds the lock. The replay, let through after, stops
    before its reconciliation (the index's); the next start reconciles."""
    monkeypatch.setattr(live_replay, "CLOSE_WAIT_SECONDS", 0.5)
    service = OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)
    world = make_world(service, clock)
    world.subject()
    outside_sql(service, "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM"
                         " audit_events)")  # the tail gone: a restore, found at the next append
    blocker = create_engine(pg_settings.url, poolclass=NullPool).connect()
    blocker.execute(sql_text("LOCK TABLE one_time_links IN ACCESS EXCLUSIVE MODE"))
    release = threading.Timer(30.0, blocker.close)  # far past the bound: only if the close hangs
    refused("ledger_restored", lambda: service.create_api_key(
        actor=world.admin, role=Role.RESEARCHER, name="finds-the-restore"))
    release.start()
    try:
        with caplog.at_level(logging.ERROR):
            service.close()
            assert not blocker.closed, "the close returned only once the lock was let go"
            release.cancel()
            blocker.close()  # the operator's transaction ends: the replay goes on, and stops
            deadline = time.monotonic() + 60
            while not _logged(caplog, "closed during the replay") and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        release.cancel()
        blocker.close()
    assert _logged(caplog, "still runs")
    assert _logged(caplog, "the close writes nothing to the ledger")
    assert _logged(caplog, "closed during the replay")
    with closing(OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)) as restarted:
        reconciled = _events(restarted, AuditAction.RECONCILED)
        assert len(reconciled) == 2  # the first start's and this one's: none by the replay


def test_the_close_skips_its_own_writes_while_another_worker_holds_the_ledgers_lock(
    pg_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Review 20c, #2: with no replay at all, the close's own writes (the failed-login tally,
    the closing checkpoint) waited with no bound for the ledger's write lock, which another
    worker's hung transaction holds, so a SIGTERM hung behind it. Each now waits
    :data:`CLOSE_LOCK_WAIT_SECONDS`, is skipped with an error line, and the close returns while
    the other connection still holds the lock; the next start witnesses the log."""
    monkeypatch.setattr(service_module, "CLOSE_LOCK_WAIT_SECONDS", 0.5)
    service = OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)
    make_world(service, clock).subject()
    blocker = create_engine(pg_settings.url, poolclass=NullPool).connect()
    blocker.execute(sql_text("SELECT pg_advisory_lock(:key)"), {"key": LEDGER_LOCK})
    release = threading.Timer(30.0, blocker.close)  # far past the bound: only if the close hangs
    release.start()
    try:
        with caplog.at_level(logging.ERROR):
            service.close()
            assert not blocker.closed, "the close returned only once the lock was let go"
    finally:
        release.cancel()
        blocker.close()
    assert _logged(caplog, "the close wrote nothing more to the ledger")
    with closing(OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)) as restarted:
        assert restarted.runtime.db.shared  # starts, and witnesses the log at once


@both_backends
def test_a_replay_stops_between_the_steps_of_its_reconciliation_once_the_service_closed(
    world: World,
) -> None:
    """Review 20a, #4: a replay already past its check when the close gave up on it went
    through the whole reconciliation after the close had closed the database and the key
    store (erasures signing receipts, the index changed and saved). It is asked again before
    each step (``stopped``, the replay's stop flag): here the service closes during the first
    step, and no step after it runs, nor is ``reconciled`` chained."""
    runtime = world.service.runtime
    before = _events(world.service, AuditAction.RECONCILED)
    asked: list[bool] = []

    def closed_after_the_first_check() -> bool:
        asked.append(bool(asked))
        return asked[-1]

    with pytest.raises(ReconcileStopped):
        reconcile(runtime, model_id=runtime.pipeline.model_id,
                  stopped=closed_after_the_first_check)
    assert asked == [False, True]
    assert _events(world.service, AuditAction.RECONCILED) == before


def _logged(caplog: pytest.LogCaptureFixture, words: str) -> bool:
    return any(words in record.getMessage() for record in caplog.records)


def _only_requests_find_it(*worlds: World) -> None:
    """Stop each worker's change-feed follower: it finds a restore too, in the background
    (its feed gone back: tests/consent/test_feed_gaps.py), at a moment these tests cannot
    choose, and these tests follow what a worker's own requests find."""
    for world in worlds:
        if world.service.replica is not None:
            world.service.replica.stop()


def _finds_the_restore(worker: World, erased: str, probe: bytes) -> None:
    """Before it replays, ``worker`` keeps the erased out; its next append finds the restore
    and is refused; once it replayed, the order placed after the copy is in force again."""
    refused("subject_erased", lambda: worker.service.export(actor=worker.admin, subject=erased))
    refused("ledger_restored", lambda: worker.identify(probe))
    worker.service.settle()
    refused("suspended_by_regulator", lambda: worker.identify(probe))


def test_each_worker_finds_the_restore_itself_and_replays_before_it_answers(
    workers: tuple[World, World], postgres: PostgresServer, tmp_path: Path,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """Red team 5's two workers: A erased the person and B placed the order after the dump.
    Each finds its own tail gone at its next append and replays; the second finds done what
    the first made again."""
    a, b = workers
    url = a.service.settings.url
    erased, consent_id = a.subject()
    a.enrol(erased, consent_id, portrait_jpegs[0])
    dump = postgres.dump(url, tmp_path / "dump.sql", clean=True)
    _erase(a, erased)
    b.service.apply_regulator_order(actor=b.admin, reference=ORDER)
    _only_requests_find_it(a, b)
    postgres.load(dump, url)  # behind both
    for worker in (b, a):
        _finds_the_restore(worker, erased, flipped_jpegs[1])
    assert row_count(a.service, Subject, Subject.pseudonym == erased) == 0
    by_b, by_a = _events(a.service, AuditAction.RECONCILED)[-2:]
    assert (by_b["erasures_replayed"], by_b["orders_replayed"]) == (1, 1)
    assert (by_a["erasures_replayed"], by_a["orders_replayed"]) == (0, 0)
    assert len(_events(a.service, AuditAction.LOG_TRUNCATED)) == 2


def _ticks_of(service: OptinFace) -> tuple[list[str], Callable[[], None]]:
    """The server's periodic witness check of ``service``, and what each of its rounds
    came to ("ledger_restored" where it found a restore)."""
    outcomes: list[str] = []

    def tick() -> None:
        try:
            service.witness_audit()
        except ConsentError as error:
            outcomes.append(error.code)
            raise
        outcomes.append("ok")
    return outcomes, tick


def _written_past_the_folder(world: World, *, sign: bool) -> None:
    """``world``'s worker writes to the copy until its log is longer than the newest
    checkpoint in the witness folder; ``sign``: then signs the copy's log there (a checkpoint
    its appends signed), which agrees with the log."""
    service = world.service
    witnessed = latest_witnessed(service.settings.witness_dir)
    while row_count(service, AuditEvent) <= witnessed:  # reads, chained and not witnessed
        service.audit_events(actor=world.reviewer, filters=AuditFilter())
    if sign:
        with service.runtime.db.transaction() as session:
            service.runtime.log.checkpoint(session, now=world.clock.now())
    assert latest_witnessed(service.settings.witness_dir) > witnessed or not sign


@pytest.mark.parametrize(("written_since", "signed_since"), [
    (False, False), (True, False), (True, True)], ids=["shorter", "written-since", "signed-since"])
def test_an_idle_worker_finds_a_restore_within_one_witness_interval(
    workers: tuple[World, World], postgres: PostgresServer, tmp_path: Path,
    flipped_jpegs: list[bytes], written_since: bool, signed_since: bool,
) -> None:
    """Worker A spends a probe consent and signs its checkpoint (its periodic check, or its
    close); a dump from before is loaded behind both; B, idle since before the copy, knows no
    event past it: its own tail is inside the copy. Its first periodic round compares the log
    with the checkpoints A signed into the shared witness folder: shorter, or, where B wrote
    to the copy since, other events at A's checkpoint, even behind a newer checkpoint of the
    copy's log. It finds the restore, replays, and the spent probe consent is refused on B
    too."""
    a, b = workers
    url = a.service.settings.url
    spent = a.probe(image=flipped_jpegs[0])
    dump = postgres.dump(url, tmp_path / "dump.sql", clean=True)
    a.service.identify(actor=a.researcher, purpose_id=a.purpose, probe_consent_id=spent,
                       image=flipped_jpegs[0])
    a.service.witness_audit()  # A's round: the spend is in the folder
    postgres.load(dump, url)
    if written_since:  # B's tail is the copy's: its own appends find nothing
        _written_past_the_folder(b, sign=signed_since)
    replays = len(_events(b.service, AuditAction.RECONCILED))
    outcomes, tick = _ticks_of(b.service)
    witnessing = Periodic("audit witness", tick, interval=0.2)
    witnessing.start()
    try:
        assert eventually(lambda: len(_events(b.service, AuditAction.RECONCILED)) > replays)
    finally:
        witnessing.stop()
    assert outcomes[0] == "ledger_restored"  # its first round
    finding = AuditAction.LOG_REWRITTEN if written_since else AuditAction.LOG_ROLLED_BACK
    assert len(_events(b.service, finding)) == 1
    refused("probe_consent_required", lambda: b.service.identify(
        actor=b.researcher, purpose_id=b.purpose, probe_consent_id=spent,
        image=flipped_jpegs[0]))
    assert "ledger_restored" not in outcomes[1:]  # found once: the replay answered it


@pytest.mark.parametrize("written_since", [False, True], ids=["shorter", "written-since"])
def test_a_second_idle_worker_replays_a_restore_another_worker_chained_first(
    workers: tuple[World, World], postgres: PostgresServer, tmp_path: Path,
    pipeline: FacePipeline, clock: FakeClock, flipped_jpegs: list[bytes], written_since: bool,
) -> None:
    """Two workers idle since before the copy, B and C: B's periodic round finds the restore
    and chains it; C's round meets the same checkpoint with the finding chained already, and
    still replays before it answers (the finding chained once, replayed on every worker). A
    copy shorter than the folder, grown back by B's replay past the checkpoint C meets, is a
    rollback to C too, not a rewrite: that checkpoint is of the branch B's rollback
    abandoned."""
    a, b = workers
    settings = a.service.settings
    third = settings.model_copy(update={"data_dir": settings.data_dir.with_name("worker-c")})
    with closing(OptinFace.open(third, pipeline=pipeline, clock=clock)) as service:
        c = replace(a, service=service)
        _only_requests_find_it(b, c)  # their periodic rounds find it, not their followers
        spent = a.probe(image=flipped_jpegs[0])
        dump = postgres.dump(settings.url, tmp_path / "dump.sql", clean=True)
        a.service.identify(actor=a.researcher, purpose_id=a.purpose, probe_consent_id=spent,
                           image=flipped_jpegs[0])
        a.service.witness_audit()  # A's round: the spend is in the folder
        postgres.load(dump, settings.url)
        if written_since:
            _written_past_the_folder(b, sign=False)
        replays = len(_events(a.service, AuditAction.RECONCILED))
        for worker in (b, c):
            refused("ledger_restored", worker.service.witness_audit)
            worker.service.settle()
        assert len(_events(a.service, AuditAction.RECONCILED)) == replays + 2
        finding = AuditAction.LOG_REWRITTEN if written_since else AuditAction.LOG_ROLLED_BACK
        assert len(_events(a.service, finding)) == 1
        assert written_since or _events(a.service, AuditAction.LOG_REWRITTEN) == []
        refused("probe_consent_required", lambda: c.service.identify(
            actor=c.researcher, purpose_id=c.purpose, probe_consent_id=spent,
            image=flipped_jpegs[0]))

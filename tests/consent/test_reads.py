"""Reads wait for no writer, and write nothing (consent.db, ``Database.reading``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, func, select, text, update
from sqlalchemy.exc import DBAPIError

from optinface.api.sweeper import Backoff, Sweeper
from optinface.consent.audit import AuditAction
from optinface.consent.db import Database, WriteInReading
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.tables import ApiKey, AuditEvent, Purpose, Template
from tests.support.backends import both_backends
from tests.support.consent import World, row_count
from tests.support.files import occurrences, readable_occurrences, template_bytes
from tests.support.polling import eventually

WITHIN_S = 20
"""How long a test waits for what must come: far past a read's milliseconds, short of SQLite's
busy timeout (30 s), which a read waiting for the write lock would spend first."""


Holder = Callable[[threading.Event, threading.Event], None]
"""What a thread holds: it sets the first event once it holds it, and lets go once the second
is set."""


@contextmanager
def held(work: Holder) -> Iterator[threading.Event]:
    """Run ``work`` in a thread until it holds what it holds; the event this yields (set on
    leaving, at the latest) lets it go."""
    holding, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work(holding, release)
        except BaseException as error:  # raised again in the test's thread
            failed.append(error)
            holding.set()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert holding.wait(WITHIN_S) and not failed, failed
        yield release
    finally:
        release.set()
        thread.join(WITHIN_S)
    assert not failed, failed


def holding_the_write_lock(db: Database) -> Holder:
    """A writer that takes the ledger's write lock (BEGIN IMMEDIATE on SQLite, the advisory
    lock on PostgreSQL), writes, and holds it, uncommitted."""
    def work(holding: threading.Event, release: threading.Event) -> None:
        with db.transaction() as session:
            session.execute(update(Purpose).values(name=Purpose.name))  # a write, uncommitted
            holding.set()
            release.wait(WITHIN_S)
    return work


def holding_a_snapshot(db: Database) -> Holder:
    """A read that has read, so holds its snapshot of the ledger."""
    def work(holding: threading.Event, release: threading.Event) -> None:
        with db.reading() as session:
            assert session.scalar(select(func.count()).select_from(Template))
            holding.set()
            release.wait(WITHIN_S)
    return work


@both_backends
def test_health_answers_while_a_writer_holds_the_ledger(
    service: OptinFace, client: TestClient
) -> None:
    """``/healthz`` and the register read while a sweep, an erasure or an enrolment holds the
    write lock: they answer while it is still held (an event, not a timing)."""
    answers: list[int] = []
    answered = threading.Event()

    def read() -> None:
        answers.append(len(service.health()["models"]))
        answers.append(client.get("/healthz").status_code)
        answered.set()

    with held(holding_the_write_lock(service.runtime.db)) as release:
        reader = threading.Thread(target=read)
        reader.start()
        came = answered.wait(WITHIN_S)
        still_held = not release.is_set()
        release.set()
        reader.join(WITHIN_S)
    assert came and still_held
    assert answers[1] == 200 and answers[0] > 0


@both_backends
def test_a_reading_session_refuses_to_write(world: World) -> None:
    """A write in a read is a bug: it fails loudly, before or at the database, and nothing of
    it is written, rather than being upgraded to a write no lock serialises."""
    db = world.service.runtime.db
    events = row_count(world.service, AuditEvent)
    with pytest.raises(WriteInReading), db.reading() as session:  # changed, never flushed
        purpose = session.scalars(select(Purpose)).first()
        assert purpose is not None
        purpose.name = "renamed in a read"
    with pytest.raises(WriteInReading), db.reading() as session:
        session.add(Purpose(name="added in a read"))
        session.flush()
    with pytest.raises(WriteInReading), db.reading() as session:
        session.execute(update(Purpose).values(name="updated in a read"))
    with pytest.raises(DBAPIError, match=r"read-only|readonly"), db.reading() as session:
        session.execute(text("DELETE FROM audit_events"))  # only the database sees this one
    assert row_count(world.service, AuditEvent) == events
    with db.transaction() as session:
        names = set(session.scalars(select(Purpose.name)))
    assert names.isdisjoint({"renamed in a read", "added in a read", "updated in a read"})


def enrolled_bytes(world: World, portrait: bytes) -> tuple[str, bytes, bytes]:
    """A subject enrolled with ``portrait``; their template's ciphertext and vector, already in
    the database file and the index file (checkpointed, saved), as an erasure finds them."""
    service = world.service
    pseudonym, consent_id = world.subject()
    template = world.enrol(pseudonym, consent_id, portrait)
    ciphertext, plaintext = template_bytes(service, template.id)
    service.index.save()
    service.runtime.db.checkpoint()
    assert occurrences(service.settings.data_dir, ciphertext)  # the scans below can fail
    return pseudonym, ciphertext, plaintext


def test_an_erasure_waits_for_a_read_holding_an_older_snapshot(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """A read that began before the erasure committed holds the old pages; the erasure's
    checkpoint waits for it to end (SQLite's busy handler, bounded) and then empties the WAL:
    no trace of the template in any file once erase returns."""
    service = world.service
    db = service.runtime.db
    pseudonym, ciphertext, plaintext = enrolled_bytes(world, portrait_jpegs[0])
    with held(holding_a_snapshot(db)) as release:
        threading.Timer(0.5, release.set).start()  # the read ends 500 ms from now
        service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
        assert release.is_set()  # the erasure returned only once the read had ended
    assert not db.checkpoint_owed
    assert occurrences(service.settings.data_dir, ciphertext) == []
    assert readable_occurrences(service, plaintext) == []


def test_a_read_held_past_the_bound_leaves_a_checkpoint_the_sweep_pays(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Past the checkpoint's bound the WAL keeps the erased pages: said (an error logged, a
    checkpoint owed), and the next sweep checkpoints even with nothing of its own deleted."""
    service = world.service
    db = service.runtime.db
    pseudonym, ciphertext, _ = enrolled_bytes(world, portrait_jpegs[0])
    db.checkpoint_wait_ms = 100  # the bound (30 s in service), short for the test
    with held(holding_a_snapshot(db)):
        service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
        assert db.checkpoint_owed
        assert occurrences(service.settings.data_dir, ciphertext)  # the WAL still holds it
    report = service.sweep()
    assert report.templates_destroyed == 0 and report.erasures == []
    assert not db.checkpoint_owed
    assert occurrences(service.settings.data_dir, ciphertext) == []


def test_a_checkpoint_a_long_read_held_off_is_paid_by_the_sweeper_once_the_read_ends(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The server's sweeper, its next sweep an hour away, tries an owed checkpoint again on the
    refused rotation's back-off (here from half a second): the erased pages leave the WAL soon
    after the read that held them ends, not at that sweep."""
    service = world.service
    db = service.runtime.db
    pseudonym, ciphertext, plaintext = enrolled_bytes(world, portrait_jpegs[0])
    db.checkpoint_wait_ms = 100  # the bound (30 s in service), short for the test
    sweeps = AuditEvent.action == AuditAction.SWEEP
    before = row_count(service, AuditEvent, sweeps)
    sweeper = Sweeper(service, interval=3600, rotation_retry=0.5)
    sweeper.start()
    try:
        assert eventually(lambda: row_count(service, AuditEvent, sweeps) > before)  # its first
        with held(holding_a_snapshot(db)):
            service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
            assert db.checkpoint_owed
            assert occurrences(service.settings.data_dir, ciphertext)  # the WAL still holds it
        assert eventually(lambda: not occurrences(service.settings.data_dir, ciphertext),
                          within=WITHIN_S)
    finally:
        sweeper.stop()
    assert not db.checkpoint_owed
    assert readable_occurrences(service, plaintext) == []
    assert row_count(service, AuditEvent, sweeps) == before + 1  # paid by no sweep


def test_a_read_between_a_commit_and_its_landing_keeps_no_key_row(world: World) -> None:
    """SQLAlchemy tells of a commit before the driver's commit lands; a read that waits for no
    writer may read the old row in between. The kept key rows (consent.key_rows) must not keep
    it: the revocation's commit is followed by the connection going back to the pool, which
    moves the generation once more (consent.table_writes)."""
    db, rows = world.service.runtime.db, world.service.runtime.key_rows
    key_id = world.researcher.key_id
    assert key_id is not None
    landing = threading.Event()

    def revoking(holding: threading.Event, release: threading.Event) -> None:
        writer = threading.get_ident()

        def pause(_connection: Connection) -> None:  # after table_writes' own commit listener
            if threading.get_ident() == writer:  # not the read's commit
                holding.set()
                release.wait(WITHIN_S)

        event.listen(db.engine, "commit", pause)
        try:
            with db.transaction() as session:
                session.execute(update(ApiKey).where(ApiKey.id == key_id)
                                .values(revoked_at=world.service.clock.now()))
        finally:
            event.remove(db.engine, "commit", pause)
            landing.set()

    with held(revoking):  # told committed, not yet landed
        with db.reading() as session:
            read = rows.read(session, key_id)
        assert read is not None and read.revoked_at is None  # the old row: the race was run
    assert landing.wait(WITHIN_S)
    kept = rows.kept(key_id)
    assert kept is None or kept.revoked_at is not None


def test_an_owed_act_that_succeeded_waits_for_no_earlier_back_off() -> None:
    """After refusals pushed the next try out, a success lets the next owed act (a checkpoint
    owed again by another erasure) be tried at once, its first refusal waiting ``first``."""
    backoff = Backoff(first=5.0, most=60.0)
    backoff.refused()
    backoff.refused()
    assert backoff.waiting() > 5.0
    backoff.succeeded()
    assert backoff.waiting() <= 0
    assert backoff.refused() == 5.0

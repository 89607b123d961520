"""Prune records (consent.prune_records): an access event emptied by anyone but a retention run
fails the verification, ``pruned_without_record``, and cannot give a key its quota back.

The attack is the red team's (``prune_one.py``): with the ledger alone, an access event's content
removed exactly as retention removes it (its leaf kept, the rest emptied), whatever its age. A
real retention run, a log emptied by the sweeps before the records (adopted once at the next
start), and what the adoption leaves out are checked on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from optinface.consent import log_retention
from optinface.consent.audit import AuditAction, Entry, log_time
from optinface.consent.audit_verify import verify_log
from optinface.consent.errors import QuotaExceeded
from optinface.consent.prune_records import PRUNED_WITHOUT_RECORD
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditCheckpoint, AuditEvent
from optinface.engine.pipeline import FacePipeline
from tests.support import forgery
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, make_world, row_count
from tests.support.forgery import append_by_sql

pytestmark = both_backends


def empty_by_sql(service: OptinFace, seq: int) -> None:
    forgery.empty_by_sql(service.runtime.db.engine, seq)


def last_search(service: OptinFace) -> int:
    with service.runtime.db.transaction() as session:
        seq = session.scalar(select(func.max(AuditEvent.seq))
                             .where(AuditEvent.action == str(AuditAction.IDENTIFY)))
    assert isinstance(seq, int)
    return seq


def records(service: OptinFace, action: AuditAction) -> list[dict[str, object]]:
    with service.runtime.db.transaction() as session:
        return [dict(details) for details in session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == str(action))
            .order_by(AuditEvent.seq))]


def assert_pruned_without_record(service: OptinFace, seq: int) -> None:
    """The service's verification (with the key store) and an outsider's (the chain and the
    checkpoints alone) both name ``seq``, with the stable reason."""
    status = service.verify_audit()
    assert (status.ok, status.first_bad_sequence, status.reason) == (
        False, seq, PRUNED_WITHOUT_RECORD), status
    assert status.problem is not None and "pruned without a record" in status.problem
    with service.runtime.db.transaction() as session:
        outsider = verify_log(session, verifier=service.runtime.log.signer.verifier)
    assert outsider.problem is not None
    assert (outsider.problem.sequence, outsider.problem.reason) == (seq, PRUNED_WITHOUT_RECORD)


def test_a_young_search_emptied_by_sql_fails_verification_and_keeps_its_quota_spent(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    world.enrolled(portrait_jpegs[0])
    world.identify(portrait_jpegs[0])
    search = last_search(world.service)
    world.service.audit_checkpoint(actor=world.reviewer)  # under a signed checkpoint, as prune
    assert world.service.verify_audit().ok
    with pytest.raises(QuotaExceeded):  # the one search of today spent a quota of one
        world.service.identify(actor=world.researcher, purpose_id=world.purpose,
                               probe_consent_id=world.probe(image=portrait_jpegs[0]),
                               image=portrait_jpegs[0], daily_quota=1)
    empty_by_sql(world.service, search)
    assert_pruned_without_record(world.service, search)
    with pytest.raises(QuotaExceeded):  # still spent: the emptied event counts for every key
        world.service.identify(actor=world.researcher, purpose_id=world.purpose,
                               probe_consent_id=world.probe(image=portrait_jpegs[0]),
                               image=portrait_jpegs[0], daily_quota=1)


def test_a_retention_run_records_what_it_emptied_and_the_log_verifies(
    service: OptinFace, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """A real run past the retention verifies; its record names the events it emptied, the
    cut-off, the retention and the checkpoint. A search emptied by SQL after the run is in no
    record: named."""
    world = make_world(service, clock)
    world.enrolled(portrait_jpegs[0])
    world.identify(portrait_jpegs[0])
    old = last_search(service)
    service.audit_checkpoint(actor=world.reviewer)
    service.settings.access_log_retention_days = 183
    clock.advance(days=184)
    world.identify(portrait_jpegs[0])
    service.audit_checkpoint(actor=world.reviewer)
    young = last_search(service)
    service.sweep()  # old is past the retention; young is not
    [record] = records(service, AuditAction.LOG_PRUNED)
    ranges = record["ranges"]
    assert isinstance(ranges, list) and any(first <= old <= last for first, last in ranges)
    assert not any(first <= young <= last for first, last in ranges)
    checkpoint = record["checkpoint"]
    assert record["retention_days"] == 183 and isinstance(checkpoint, int)
    assert old <= checkpoint and young <= checkpoint  # the newest checkpoint, before the run
    assert record["cutoff"] == log_time(clock.now() - timedelta(days=183))
    assert service.verify_audit().ok
    empty_by_sql(service, young)
    assert_pruned_without_record(service, young)


def test_an_event_emptied_before_a_run_is_left_out_of_its_record(
    service: OptinFace, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    world = make_world(service, clock)
    world.enrolled(portrait_jpegs[0])
    world.identify(portrait_jpegs[0])
    first = last_search(service)
    world.identify(portrait_jpegs[0])
    emptied = last_search(service)
    world.identify(portrait_jpegs[0])
    service.audit_checkpoint(actor=world.reviewer)
    empty_by_sql(service, emptied)  # young: the red team's edit, a run later
    clock.advance(days=366)
    service.sweep()
    [record] = records(service, AuditAction.LOG_PRUNED)
    ranges = record["ranges"]
    assert isinstance(ranges, list)
    assert any(start <= first <= end for start, end in ranges)
    assert not any(start <= emptied <= end for start, end in ranges)
    assert_pruned_without_record(service, emptied)


def test_a_record_appended_with_the_database_alone_vouches_for_nothing_young(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Without the key store a writer can append a ``log_pruned`` event, chained as the service
    would (the key store's check names it unsealed); what it vouches for still obeys the rule:
    a cut-off at least the shortest retention before its own time, and events older than it."""
    world.enrolled(portrait_jpegs[0])
    world.identify(portrait_jpegs[0])
    young = last_search(world.service)
    checkpoint = world.service.audit_checkpoint(actor=world.reviewer).seq
    empty_by_sql(world.service, young)
    now = world.clock.now()
    # A cut-off after young but too late for the record's time; one not after young.
    for cutoff in (now + timedelta(days=1), now - timedelta(days=183)):
        append_by_sql(world.service.runtime.db.engine, action=str(AuditAction.LOG_PRUNED),
                      details={"ranges": [[young, young]], "count": 1,
                               "cutoff": log_time(cutoff), "checkpoint": checkpoint,
                               "retention_days": 183})
        assert_pruned_without_record(world.service, young)


def test_a_record_vouches_only_for_events_under_its_checkpoint(
    service: OptinFace, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """A retention run empties only events a signed checkpoint covers, so a record vouches for
    an event only where its ``checkpoint`` is at or past it and before the record: one naming
    an earlier checkpoint, or a later one than itself, covers nothing; the same record with the
    checkpoint that covered the search does (then only its missing keyed seal is named)."""
    world, search = _a_search_200_days_old(service, clock, portrait_jpegs[0])
    covering = service.audit_checkpoint(actor=world.reviewer).seq  # dated now, as the records
    empty_by_sql(service, search)
    engine = service.runtime.db.engine

    def append_record(checkpoint: int) -> int:
        return append_by_sql(engine, action=str(AuditAction.LOG_PRUNED),
                             details={"ranges": [[search, search]], "count": 1,
                                      "cutoff": log_time(clock.now() - timedelta(days=183)),
                                      "checkpoint": checkpoint, "retention_days": 183})

    for checkpoint in (search - 1, covering + 100):  # before the event; after the record
        append_record(checkpoint)
        assert_pruned_without_record(service, search)
    append_record(covering)
    status = service.verify_audit()
    assert status.reason != PRUNED_WITHOUT_RECORD and status.first_bad_sequence != search, status
    assert status.first_bad_sequence is not None and status.first_bad_sequence > covering
    with service.runtime.db.transaction() as session:
        outsider = verify_log(session, verifier=service.runtime.log.signer.verifier)
    assert outsider.problem is None, outsider.problem


def _a_search_200_days_old(service: OptinFace, clock: FakeClock,
                           photo: bytes) -> tuple[World, int]:
    """A world whose one search, under a signed checkpoint, is now 200 days old: the world and
    the search's sequence number."""
    world = make_world(service, clock)
    world.enrolled(photo)
    world.identify(photo)
    search = last_search(service)
    service.audit_checkpoint(actor=world.reviewer)
    clock.advance(days=200)
    return world, search


def _prune_as_before_records(service: OptinFace, *, days: int) -> int:
    """What a sweep did before prune records: the access events past ``days`` under the
    newest checkpoint emptied, and the sweep's event counting them. How many."""
    now = service.clock.now()
    with service.runtime.db.transaction() as session:
        signed = session.scalar(select(func.max(AuditCheckpoint.seq))) or 0
        rows = list(session.scalars(select(AuditEvent).where(
            AuditEvent.seq <= signed, AuditEvent.at < log_time(now - timedelta(days=days)),
            AuditEvent.pruned_leaf.is_(None), AuditEvent.action.in_(log_retention.ACTIONS))))
        for event in rows:
            log_retention.empty(event)
        service.runtime.audit(session, Entry(action=AuditAction.SWEEP, actor=None,
                                             details={"log_events_pruned": len(rows)}))
    return len(rows)


def test_a_log_emptied_before_prune_records_is_adopted_once_and_nothing_young(
    open_service: Callable[[], OptinFace], clock: FakeClock, portrait_jpegs: list[bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first start that finds events emptied with no record adopts, once, those an
    earlier sweep emptied past the shortest retention. Left out, logged and named by the
    verification: one emptied young before that sweep, and one emptied after it (its time
    edited to look old); no later start adopts again."""
    with closing(open_service()) as service:
        world, old = _a_search_200_days_old(service, clock, portrait_jpegs[0])
        world.identify(portrait_jpegs[0])
        young = last_search(service)
        service.audit_checkpoint(actor=world.reviewer)
        assert _prune_as_before_records(service, days=183) >= 1  # old, not young
        world.identify(portrait_jpegs[0])
        after = last_search(service)
        service.audit_checkpoint(actor=world.reviewer)
        empty_by_sql(service, young)
        empty_by_sql(service, after)
        with service.runtime.db.transaction() as session:  # dated as old as the first search
            edited, first = session.get(AuditEvent, after), session.get(AuditEvent, old)
            assert edited is not None and first is not None
            edited.at = first.at
        assert records(service, AuditAction.LOG_PRUNES_ADOPTED) == []
        status = service.verify_audit()  # no record yet, and not adopted: every one named
        assert status.reason == PRUNED_WITHOUT_RECORD and status.first_bad_sequence is not None
        assert status.first_bad_sequence <= old
    with caplog.at_level(logging.ERROR, logger="optinface.consent.prune_records"), \
            closing(open_service()) as service:  # the first start with prune records
        [adopted] = records(service, AuditAction.LOG_PRUNES_ADOPTED)
        ranges = adopted["ranges"]
        assert isinstance(ranges, list) and any(a <= old <= b for a, b in ranges)
        assert adopted["left"] == {"count": 2, "events": [young, after]}
        assert_pruned_without_record(service, young)  # the first problem: old is adopted
    assert any("NOT adopted" in record.getMessage() for record in caplog.records)
    with closing(open_service()) as service:
        assert row_count(service, AuditEvent,
                         AuditEvent.action == str(AuditAction.LOG_PRUNES_ADOPTED)) == 1
        assert_pruned_without_record(service, young)


def test_a_log_found_other_than_its_witness_signed_adopts_no_emptied_event(
    settings: ConsentSettings, open_service: Callable[[], OptinFace], clock: FakeClock,
    pipeline: FacePipeline, portrait_jpegs: list[bytes],
) -> None:
    """Like the other adoptions: on a start whose witness folder was taken up anew (or that
    found the log rolled back or rewritten), the emptied events are adopted as pruned by none,
    the event says why, and no later start adopts them: every verifier goes on naming them."""
    with closing(open_service()) as service:
        _, old = _a_search_200_days_old(service, clock, portrait_jpegs[0])
        assert _prune_as_before_records(service, days=183) >= 1
    moved = settings.model_copy(
        update={"audit_witness_dir": settings.data_dir.parent / "new-witness"})
    start = functools.partial(OptinFace.open, moved, pipeline=pipeline, clock=clock)
    with closing(start(adopt_witness="INC-4: witness disk lost")) as service:
        [adopted] = records(service, AuditAction.LOG_PRUNES_ADOPTED)
        assert adopted["reason"] == "log_not_as_witnessed" and adopted["ranges"] == []
        assert old in adopted["left"]["events"]
        assert_pruned_without_record(service, old)
    with closing(start()) as service:
        assert row_count(service, AuditEvent,
                         AuditEvent.action == str(AuditAction.LOG_PRUNES_ADOPTED)) == 1
        assert_pruned_without_record(service, old)

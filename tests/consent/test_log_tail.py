"""The running service's own tail (consent.log_tail) and the clock rule (consent.log_clock).

Red team 3: events deleted past the last checkpoint, while the service runs, were filled in
by its next event and signed by the witness unseen (finding 3); a clock set back dated events
before earlier ones, unseen (finding 5). Since red team 5 (F2) such a loss is also taken for a
restore behind the running service: the append that finds it is refused, and the replay of the
erasure journal chains it (tests/consent/test_live_replay.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from optinface.consent.audit import AuditAction, Entry, log_time, parse_log_time
from optinface.consent.schemas import AuditFilter
from optinface.consent.service import OptinFace
from optinface.consent.tables import AuditEvent
from tests.support.backends import both_backends
from tests.support.consent import Crash, FakeClock, World, make_world, outside_sql, refused


def _events(service: OptinFace, action: AuditAction) -> list[AuditEvent]:
    with service.runtime.db.transaction() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.seq)))


def _newest(service: OptinFace) -> AuditEvent:
    with service.runtime.db.transaction() as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert event is not None
        return event


def _past_the_witness(world: World, events: int = 1) -> int:
    """Log a subject's events, and reviewer's reads until at least ``events`` events lie past
    the witness's newest checkpoint (one is signed every ``audit_checkpoint_every`` events, at
    each single-use right spent and each API key made, so where the subject's events end is no
    guide); the newest sequence number."""
    world.subject()
    while (newest := _newest(world.service).seq) - events < (
            world.service.runtime.log.witness.latest_size()):
        world.service.audit_events(actor=world.reviewer, filters=AuditFilter())
    return newest


def _cut_past_the_witness(world: World) -> int:
    """Delete from the newest event past the witness on, with a connection of its own as the
    red team did; the first sequence number deleted."""
    newest = _past_the_witness(world)
    outside_sql(world.service, "DELETE FROM audit_events WHERE seq >= :seq", seq=newest)
    return newest


def _found_at_the_next_append(world: World) -> None:
    """The next append finds the loss: its work is refused, not done in the gap (the red team's
    server chained it there), and the replay of the erasure journal chains the finding first
    (consent.live_replay); waited for."""
    refused("ledger_restored", world.subject)
    world.service.settle()


@both_backends
def test_the_red_teams_truncation_is_chained_at_the_next_append_and_fails_verify(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    cut = _cut_past_the_witness(world)
    with caplog.at_level(logging.ERROR):
        _found_at_the_next_append(world)
    [finding] = _events(world.service, AuditAction.LOG_TRUNCATED)
    assert finding.seq == cut and finding.details == {
        "known": cut, "known_hash": finding.details["known_hash"], "events": cut - 1,
        "found": "shorter"}
    assert f"no longer holds event {cut}" in caplog.text
    status = world.service.verify_audit()
    assert not status.ok and (status.first_bad_sequence, status.reason) == (cut, "log_truncated")
    world.subject()
    assert len(_events(world.service, AuditAction.LOG_TRUNCATED)) == 1  # once: the tail moved on


@both_backends
def test_no_checkpoint_signs_a_cut_tail_without_the_finding(world: World) -> None:
    """The periodic (and closing) checkpoint appends nothing of its own: it checks first."""
    cut = _cut_past_the_witness(world)
    refused("ledger_restored", world.service.witness_audit)
    world.service.settle()
    world.service.witness_audit()
    [finding] = _events(world.service, AuditAction.LOG_TRUNCATED)
    assert finding.seq == cut <= world.service.runtime.log.witness.latest_size()


def test_a_tail_rewritten_in_place_is_chained_as_other(world: World) -> None:
    world.subject()
    newest = _newest(world.service).seq
    outside_sql(world.service, "UPDATE audit_events SET hash = :forged WHERE seq = :seq",
                forged="f" * 64, seq=newest)
    _found_at_the_next_append(world)
    [finding] = _events(world.service, AuditAction.LOG_TRUNCATED)
    assert (finding.details["known"], finding.details["found"]) == (newest, "other")
    assert world.service.verify_audit().first_bad_sequence == newest  # its hash, edited


def _chain_in_one_transaction(service: OptinFace, count: int, *, then: Exception | None = None
                              ) -> list[int]:
    """Chain ``count`` events in one transaction, then raise ``then`` in it (a rollback) if
    given; their sequence numbers."""
    with service.runtime.db.transaction() as session:
        chained = [service.runtime.chain(session, Entry(action=AuditAction.SWEEP, actor=None,
                                                        details={"n": n})).seq
                   for n in range(count)]
        if then is not None:
            raise then
    return chained


@both_backends
def test_appends_rolled_back_leave_the_tail_where_it_was(world: World) -> None:
    """A rolled-back append's number is used again: taken for the tail, the next append would
    find the log shorter than the tail and chain a loss that never was."""
    world.subject()
    with pytest.raises(Crash):
        _chain_in_one_transaction(world.service, 2, then=Crash())
    world.subject()
    assert not _events(world.service, AuditAction.LOG_TRUNCATED)
    assert world.service.verify_audit().ok


@both_backends
def test_the_tail_is_the_last_of_several_appends_in_one_transaction(world: World) -> None:
    world.subject()
    last = _chain_in_one_transaction(world.service, 3)[-1]
    outside_sql(world.service, "DELETE FROM audit_events WHERE seq >= :seq", seq=last)
    _found_at_the_next_append(world)
    [finding] = _events(world.service, AuditAction.LOG_TRUNCATED)
    assert (finding.seq, finding.details["known"]) == (last, last)


def test_after_a_loss_the_tail_is_its_transactions_last_append_though_below_the_lost(
    world: World,
) -> None:
    """Three events cut, then one transaction chains the loss and one event, both below the
    tail it knew: that event is the tail now, so the next append finds no loss again. As a
    service no longer live chains it (closing; the live replay's own transaction chains the
    same way, then appends what it replays)."""
    world.service.runtime.live_replay.close()
    cut = _past_the_witness(world, events=3) - 2
    outside_sql(world.service, "DELETE FROM audit_events WHERE seq >= :seq", seq=cut)
    assert _chain_in_one_transaction(world.service, 1) == [cut + 1]  # after log_truncated
    world.subject()
    [finding] = _events(world.service, AuditAction.LOG_TRUNCATED)
    assert finding.seq == cut


def test_workers_appending_in_turn_are_not_a_loss_but_one_cut_behind_another_is(
    workers: tuple[World, World],
) -> None:
    a, b = workers
    for _ in range(3):  # each worker's tail is passed by the other's appends
        a.subject()
        b.subject()
    assert not _events(a.service, AuditAction.LOG_TRUNCATED)
    assert a.service.verify_audit().ok
    # What B appended last, past every checkpoint (a cut of witnessed events is a restore,
    # found by the next witness), is deleted; A, which never knew it, chains in the gap
    # unaware, with an act witnessed by nothing before it answers (a read)...
    cut = _past_the_witness(b)
    outside_sql(b.service, "DELETE FROM audit_events WHERE seq >= :seq", seq=cut)
    a.service.audit_events(actor=a.reviewer, filters=AuditFilter())
    assert not _events(a.service, AuditAction.LOG_TRUNCATED)
    # ...and B, at its next append, finds another event where its own was.
    _found_at_the_next_append(b)
    [finding] = _events(b.service, AuditAction.LOG_TRUNCATED)
    assert (finding.details["known"], finding.details["found"]) == (cut, "other")
    assert b.service.verify_audit().reason == "log_truncated"


def test_a_workers_tail_is_also_the_newest_event_its_checkpoint_read(
    workers: tuple[World, World],
) -> None:
    """B appended nothing since A did, but read A's events before signing: a cut of them is a
    loss at B's next append."""
    a, b = workers
    a.subject()
    b.service.witness_audit()
    cut = _newest(a.service).seq
    outside_sql(b.service, "DELETE FROM audit_events WHERE seq >= :seq", seq=cut)
    _found_at_the_next_append(b)
    [finding] = _events(b.service, AuditAction.LOG_TRUNCATED)
    assert (finding.seq, finding.details["known"], finding.details["found"]) == (
        cut, cut, "shorter")


def test_a_clock_set_back_never_dates_an_event_before_the_last_and_is_chained_once(
    open_service: Callable[[], OptinFace], clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    service = open_service()
    world = make_world(service, clock)
    world.subject()
    latest = _newest(service).at
    clock.current -= timedelta(seconds=2)  # within the workers' tolerance: no finding
    world.subject()
    assert not _events(service, AuditAction.CLOCK_BEHIND)
    assert _newest(service).at == latest
    clock.current -= timedelta(days=400)  # the red team's operator
    with caplog.at_level(logging.ERROR):
        world.subject()
        world.subject()
    [flagged] = _events(service, AuditAction.CLOCK_BEHIND)
    assert flagged.details["latest"] == latest and flagged.at == latest
    assert "before the newest audit event" in caplog.text
    with service.runtime.db.transaction() as session:
        times = list(session.scalars(select(AuditEvent.at).order_by(AuditEvent.seq)))
    assert times == sorted(times) and times[-1] == latest
    assert service.verify_audit().ok  # dated as the rule says: nothing was lost
    service.close()
    caplog.clear()
    with caplog.at_level(logging.ERROR), closing(open_service()):
        assert "was it set back?" in caplog.text


@pytest.mark.parametrize(("text", "read"), [
    (log_time(datetime(2027, 3, 1, 12, 0, tzinfo=UTC)), datetime(2027, 3, 1, 12, 0, tzinfo=UTC)),
    ("2027-03-01T07:00:00-05:00", datetime(2027, 3, 1, 12, 0, tzinfo=UTC)),
    ("2027-03-01T12:00:00", None),  # without an offset: never written by the service, an edit
    ("9999-12-31T23:00:00-05:00", None),  # no instant in UTC: never written, an edit
    ("", None), ("yesterday", None), (None, None), (20270301, None),
])
def test_a_logged_time_is_read_only_as_the_log_writes_it(text: object, read: datetime | None
                                                         ) -> None:
    assert parse_log_time(text) == read


def test_a_newest_time_edited_without_its_offset_is_no_floor_but_an_edit(
    world: World, clock: FakeClock,
) -> None:
    """Read as the host's local time, the edited time would pass as valid: every event after it
    dated in 2999 and the clock flagged as behind. It is an edit: the chain names it, and the
    next events are dated by the clock."""
    world.subject()
    edited = _newest(world.service).seq
    outside_sql(world.service, "UPDATE audit_events SET at = :at WHERE seq = :seq",
                at="2999-01-01T00:00:00", seq=edited)
    world.subject()
    assert not _events(world.service, AuditAction.CLOCK_BEHIND)
    assert _newest(world.service).at == log_time(clock.now())
    assert world.service.verify_audit().first_bad_sequence == edited


def test_a_newest_time_edited_past_what_utc_holds_is_no_floor_and_appends_go_on(
    world: World, clock: FakeClock,
) -> None:
    """A newest time whose offset puts it past year 9999 in UTC, taken as the floor, made
    every later append fail converting it; it is an edit like any other."""
    world.subject()
    edited = _newest(world.service).seq
    outside_sql(world.service, "UPDATE audit_events SET at = :at WHERE seq = :seq",
                at="9999-12-31T23:00:00-05:00", seq=edited)
    world.subject()
    assert _newest(world.service).at == log_time(clock.now())
    assert world.service.verify_audit().first_bad_sequence == edited

"""Two workers on one PostgreSQL ledger, in one process: each with its own data directory and
index replica, kept current by the change feed (consent.changefeed, consent.replica).

The subprocess tests against real ``optinface serve`` workers are in tests/api/test_workers.py;
these drive the consent core directly, where a replica can be paused to show that the ledger,
not the replica, keeps an erased face from being served.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import replace

import psycopg
import pytest
from sqlalchemy import select

from optinface.consent import replica
from optinface.consent.erasure import erase_each
from optinface.consent.erasure_journal import journal_path
from optinface.consent.errors import ConsentError, InvalidRequest, Unauthenticated
from optinface.consent.receipts import verify_receipt
from optinface.consent.replica import FollowerStuck
from optinface.consent.roles import Role
from optinface.consent.schemas import ErasureReason, SearchOutcome
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import Subject
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import (
    Crash,
    FakeClock,
    World,
    crash,
    enrolled_seen_by,
    make_world,
    outside_sql,
    refused,
    second_worker,
)
from tests.support.files import (
    data_files,
    left_of,
    occurrences,
    open_index_copy,
    readable_occurrences,
    readable_occurrences_now,
    template_bytes,
)


def test_an_enrolment_through_one_worker_is_searchable_through_the_other(
    workers: tuple[World, World], portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    a, b = workers
    pseudonym, _ = enrolled_seen_by(a, b, portrait_jpegs[0])
    found = b.identify(flipped_jpegs[0])
    assert found.outcome is SearchOutcome.CANDIDATES and [c.subject for c in found.candidates] == [
        pseudonym]


def test_an_erasure_holds_on_every_worker_the_moment_it_commits(
    workers: tuple[World, World], portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    a, b = workers
    pseudonym, template = enrolled_seen_by(a, b, portrait_jpegs[1])
    assert b.service.replica is not None
    b.service.replica.stop()  # B's replica now lags: only the ledger stands between
    b.service.index.save()
    _, vector = template_bytes(a.service, template.id)
    assert readable_occurrences(b.service, vector)  # the scan below can fail
    assert occurrences(b.service.settings.data_dir, vector) == []  # the replica is encrypted too

    a.service.erase(actor=a.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    assert template.id in b.service.index.labels()
    result = b.identify(flipped_jpegs[1])
    assert result.outcome is SearchOutcome.NO_CANDIDATE and result.candidates == []


@pytest.mark.parametrize("paused", [False, True], ids=["following", "paused"])
def test_once_settled_a_worker_holds_no_trace_of_another_workers_erasure(
    workers: tuple[World, World], portrait_jpegs: list[bytes], paused: bool
) -> None:
    """A's erasure reaches B through the change feed only, B following throughout or paused
    until just after it committed: when B's ``settle()`` returns, B's follower has applied it,
    B's index file is already saved again whole under a new key (the erasure destroyed the
    old one), and B's data directory holds nothing of the template, read with no further
    wait (no polling, no save's temporary file)."""
    a, b = workers
    pseudonym, template = enrolled_seen_by(a, b, portrait_jpegs[2])
    assert b.service.replica is not None
    b.service.index.save()
    path = b.service.settings.index_path
    before = path.read_bytes()
    _, vector = template_bytes(a.service, template.id)
    assert readable_occurrences_now(b.service, vector)  # the scan below can fail
    if paused:
        b.service.replica.stop()

    a.service.erase(actor=a.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    if paused:
        b.service.replica.follow()
    b.service.settle()
    assert template.id not in b.service.index.labels()
    assert not b.service.index.key_destroyed() and path.read_bytes() != before
    assert open_index_copy(b.service, path).labels() == set()  # opens with today's keys
    assert readable_occurrences_now(b.service, vector) == []
    assert [p.name for p in data_files(b.service.settings.data_dir) if p.suffix == ".tmp"] == []


def test_settle_gives_up_with_a_clear_error_while_the_follower_is_stuck_then_settles(
    workers: tuple[World, World], portrait_jpegs: list[bytes]
) -> None:
    """B's follower blocks on a table another session holds locked (a long migration, a
    VACUUM FULL): ``settle()`` raises within its bound, saying where the follower is, instead
    of waiting for ever; once the lock goes, it returns with the template applied."""
    a, b = workers
    assert b.service.replica is not None
    b.service.replica.stop()
    pseudonym, consent_id = a.subject()
    template = a.enrol(pseudonym, consent_id, portrait_jpegs[3])
    libpq = b.service.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq) as holder:
        holder.execute("LOCK TABLE templates IN ACCESS EXCLUSIVE MODE")
        b.service.replica.follow()  # reads the feed, then waits for the lock to add the row
        with pytest.raises(FollowerStuck, match=r"after 1\.0 s: applied up to \d+, feed head"):
            b.service.settle(within=1.0)
        assert template.id not in b.service.index.labels()
    b.service.settle()
    assert template.id in b.service.index.labels()


@pytest.fixture
def polling_hourly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Followers that poll the feed once an hour: only a notification or a stop wakes them
    (asked before ``workers``, so their threads start with it)."""
    monkeypatch.setattr(replica, "POLL_SECONDS", 3600.0)


def test_a_follower_wakes_for_a_notification_and_stops_at_once_whatever_its_poll(
    polling_hourly: None, workers: tuple[World, World], portrait_jpegs: list[bytes]
) -> None:
    """A worker's close does not wait for its follower's next poll: ``stop`` wakes it (without
    the wake it gives up after ``STOP_WAIT_SECONDS`` and says the follower still runs); and
    between polls the feed's notification is what applies another worker's enrolment."""
    a, b = workers
    enrolled_seen_by(a, b, portrait_jpegs[4])  # b applied it on the notification alone
    for service in (b.service, a.service):
        assert service.replica is not None
        assert service.replica.stop(), "the follower slept through its stop"
        assert not service.replica.following


def test_workers_starting_together_on_an_empty_database_all_start(
    pg_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock
) -> None:
    """One creates the schema, the others wait for it (no duplicate CREATE TABLE)."""
    folders = [pg_settings.data_dir.with_name(f"worker-{i}") for i in range(3)]
    with ThreadPoolExecutor(3) as pool:
        opened = list(pool.map(lambda folder: OptinFace.open(
            pg_settings.model_copy(update={"data_dir": folder}), pipeline=pipeline,
            clock=clock), folders))
    for service in opened:
        service.close()
    assert len(opened) == 3


def test_exactly_one_first_admin_across_workers(
    pg_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock
) -> None:
    def bootstrap(service: OptinFace) -> str:
        try:
            service.create_api_key(actor=None, role=Role.ADMIN, name="first admin")
        except InvalidRequest:
            return "refused"
        return "made"

    second = second_worker(pg_settings)
    with (closing(OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)) as a,
          closing(OptinFace.open(second, pipeline=pipeline, clock=clock)) as b,
          ThreadPoolExecutor(8) as pool):
        outcomes = list(pool.map(bootstrap, [a, b] * 4))
    assert sorted(outcomes) == ["made"] + ["refused"] * 7


def test_a_probe_consent_serves_one_search_across_workers(
    workers: tuple[World, World], portrait_jpegs: list[bytes]
) -> None:
    a, b = workers
    probe = a.probe(image=portrait_jpegs[2])

    def search(world: World) -> str:
        try:
            return str(world.service.identify(actor=world.researcher, purpose_id=world.purpose,
                                              probe_consent_id=probe,
                                              image=portrait_jpegs[2]).outcome)
        except ConsentError as refusal:
            return refusal.code

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(search, [a, b, a, b]))
    assert outcomes.count("no_candidate") == 1, outcomes
    assert a.service.verify_audit().ok


def test_a_worker_that_was_down_catches_up_from_its_sequence_number(
    pg_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes]
) -> None:
    with closing(OptinFace.open(pg_settings, pipeline=pipeline, clock=clock)) as service_a:
        b_settings = second_worker(pg_settings)
        a = make_world(service_a, clock)
        first, first_consent = a.subject()
        service_b = OptinFace.open(b_settings, pipeline=pipeline, clock=clock)
        kept = a.enrol(first, first_consent, portrait_jpegs[3])
        service_b.settle()
        assert kept.id in service_b.index.labels()
        service_b.close()  # saves its index and the feed position it holds

        erased_subject, erased_consent = a.subject()
        erased = a.enrol(erased_subject, erased_consent, portrait_jpegs[4])
        second, second_consent = a.subject()
        added = a.enrol(second, second_consent, portrait_jpegs[5])

        with closing(OptinFace.open(b_settings, pipeline=pipeline, clock=clock)) as reopened:
            assert reopened.index.labels() == {kept.id, erased.id, added.id}
            report = reopened.last_reconcile
            # The feed did it all; reconciliation, the safety net, found nothing left to do.
            assert report is not None and (report.re_added, report.removed) == (0, 0)

        a.service.erase(actor=a.admin, subject=first, reason=ErasureReason.REQUEST)
        a.service.erase(actor=a.admin, subject=erased_subject, reason=ErasureReason.REQUEST)
        # Down during an erasure: its file's key went with it, so it rebuilds from the ledger.
        with closing(OptinFace.open(b_settings, pipeline=pipeline, clock=clock)) as reopened:
            assert reopened.index.labels() == {added.id}
            report = reopened.last_reconcile
            assert report is not None and "destroyed" in (report.index_discarded or "")


def test_a_subject_key_made_after_another_worker_rotated_wraps_under_the_new_epoch(
    workers: tuple[World, World], portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    a, b = workers
    report = a.service.rotate_epoch(actor=a.admin)  # B loaded the epoch A just destroyed
    pseudonym = b.enrolled(portrait_jpegs[0])
    assert [e.id for e in b.service.key_epochs(actor=b.admin)
            if e.destroyed_at is None] == [report.new_epoch]
    found = a.identify(flipped_jpegs[0])
    assert [c.subject for c in found.candidates] == [pseudonym]


def test_an_erasure_another_worker_finished_meanwhile_is_skipped_not_failed(
    workers: tuple[World, World]
) -> None:
    """A start-up finishing an erasure the other worker is still running must not fail."""
    a, b = workers
    pseudonym, _ = a.subject()
    due = [(pseudonym, ErasureReason.RETENTION)]  # listed by B before A's erasure committed
    a.service.erase(actor=a.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    assert erase_each(b.service.runtime, due, actor=None).receipts == []
    assert len(b.service.erasures(actor=b.admin)) == 1


def test_an_erasure_whose_worker_died_is_finished_by_the_other_workers_sweep(
    pg_settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worker A dies while destroying (after the exclusion committed) and never comes back:
    no start-up finishes its erasure, so B's next sweep does, as a repeated request would."""
    with ExitStack() as running_a, closing(OptinFace.open(
            second_worker(pg_settings), pipeline=pipeline, clock=clock)) as service_b:
        service_a = running_a.enter_context(closing(OptinFace.open(
            pg_settings, pipeline=pipeline, clock=clock)))
        a = make_world(service_a, clock)
        b = replace(a, service=service_b)
        pseudonym, template = enrolled_seen_by(a, b, portrait_jpegs[0])
        service_b.index.save()  # B's index file holds the vector: the sweep must scrub it
        needles = template_bytes(service_b, template.id)
        with service_b.runtime.db.transaction() as session:
            subject_id = session.scalars(select(Subject.id).where(
                Subject.pseudonym == pseudonym)).one()
        monkeypatch.setattr("optinface.consent.erasure.remove_templates", crash)
        with pytest.raises(Crash):
            a.service.erase(actor=a.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
        monkeypatch.undo()
        running_a.close()  # A is gone for good
        assert left_of(service_b, subject_id=subject_id, template_id=template.id,
                       needles=needles)[:3] == ["template row", "subject key", "index entry"]

        [receipt] = service_b.sweep(actor=b.admin).erasures
        assert left_of(service_b, subject_id=subject_id, template_id=template.id,
                       needles=needles) == []
        assert verify_receipt(receipt.signed.receipt, receipt.signed.signature,
                              service_b.public_key)
        assert (receipt.reason, receipt.templates_destroyed) == (ErasureReason.REQUEST, 1)
        [tombstone] = service_b.erasures(actor=b.reviewer)
        assert tombstone.receipt == receipt.signed.receipt
        assert service_b.verify_audit().ok


def test_authentication_does_not_wait_for_another_workers_write(
    workers: tuple[World, World],
) -> None:
    a, b = workers
    secret = a.service.create_api_key(actor=a.admin, role=Role.RESEARCHER, name="r2").secret
    with ThreadPoolExecutor(1) as pool, a.service.runtime.db.transaction():
        # Worker A holds the ledger lock, as during any write; B authenticates meanwhile.
        answer = pool.submit(b.service.authenticate, secret)
        assert answer.result(timeout=20).role is Role.RESEARCHER


def test_a_key_revoked_through_one_worker_is_refused_by_the_other_at_once(
    workers: tuple[World, World],
) -> None:
    a, b = workers
    secret = a.service.create_api_key(actor=a.admin, role=Role.RESEARCHER, name="r3").secret
    used = b.service.authenticate(secret)
    assert b.service.authenticate(secret) == used
    a.service.revoke_api_key(actor=a.admin, key_id=used.key_id)
    with pytest.raises(Unauthenticated):
        b.service.authenticate(secret)


@pytest.mark.parametrize("journal", ["shared", "out_of_reach"])
def test_an_order_row_deleted_in_sql_is_refused_by_the_other_workers_next_match(
    workers: tuple[World, World], portrait_jpegs: list[bytes], journal: str
) -> None:
    """Red team 5, F1: B keeps the register as it was before A's order; the order's row,
    deleted in SQL, brings the register's rows back to that version. B's next match and
    enrolment are refused all the same: the order's event is part of B's version of the
    register (the orders are read again and set against the log), and B reads the journal's
    order too. Each suffices: with the journal out of B's reach (its witness mount gone, B
    keeping the ends it read before the order), the log alone refuses."""
    a, b = workers
    pseudonym, consent = b.subject()
    b.identify(portrait_jpegs[0])  # B's register and journal read before the order
    assert b.service.health()["in_service"]
    a.service.apply_regulator_order(actor=a.admin, reference="CAI-RT5-1")
    path = journal_path(b.service.settings.witness_dir)
    aside = path.with_name("journal-aside")
    if journal == "out_of_reach":
        path.rename(aside)
        path.mkdir()  # read as a folder: an OSError, the ends read before are kept
    try:
        outside_sql(a.service, "DELETE FROM regulator_orders WHERE reference = 'CAI-RT5-1'")
        refused("regulator_orders_altered", lambda: b.identify(portrait_jpegs[0]))
        refused("regulator_orders_altered",
                lambda: b.enrol(pseudonym, consent, portrait_jpegs[1]))
        assert not b.service.health()["in_service"]
        refused("regulator_orders_altered", lambda: a.identify(portrait_jpegs[0]))
    finally:
        if journal == "out_of_reach":
            path.rmdir()
            aside.rename(path)

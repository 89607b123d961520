"""An erasure that keeps failing holds back no other erasure, no retention and no start, and
is never found meanwhile; a request that loses the race to another erasure of its subject gets
that erasure's receipt (consent.erasure: erase_each, finish_interrupted, erase_requested)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from optinface.api.cli.main import app
from optinface.consent.audit import AuditAction
from optinface.consent.erasure import ERASURE_UNFINISHED
from optinface.consent.erasure_journal import journal_path
from optinface.consent.errors import WitnessUnusable
from optinface.consent.ledger import tombstone_hash
from optinface.consent.receipts import verify_receipt
from optinface.consent.schemas import AuditFilter, ErasureReason, ErasureReceipt
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import Crash, FakeClock, World, crash
from tests.support.erasures import HeldAtJournal, race, unwritable

REQUEST = ErasureReason.REQUEST


def _unfinished_events(service: OptinFace, world: World) -> list[tuple[list[str], str, dict]]:
    events = service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.ERASURE_UNFINISHED)).events
    return [(event.subjects, event.outcome, event.details) for event in events]


def test_an_erasure_that_keeps_failing_stops_neither_the_others_nor_the_rest_of_the_sweep(
    world: World, clock: FakeClock, settings: ConsentSettings, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The journal cannot be written when one subject's erasure is finished: another
    interrupted erasure (journaled before its process died) and a consent's end are still
    done by that sweep; the failure is chained, logged and counted, and the next sweep, once
    the journal is mended, finishes it."""
    service = world.service
    failing = world.enrolled(portrait_jpegs[0])
    interrupted = world.enrolled(portrait_jpegs[1])
    kept, short = world.subject(days=30)
    world.enrol(kept, short, portrait_jpegs[2])
    world.enrol(kept, world.consent(kept).consent.id, flipped_jpegs[2])
    monkeypatch.setattr("optinface.consent.erasure.remove_templates", crash)  # journaled
    with pytest.raises(Crash):
        service.erase(actor=world.admin, subject=interrupted, reason=REQUEST)
    monkeypatch.undo()
    clock.advance(days=31)  # the short consent ended: its template goes, its subject stays

    with unwritable(journal_path(settings.witness_dir)):
        with pytest.raises(WitnessUnusable):
            service.erase(actor=world.admin, subject=failing, reason=REQUEST)
        with caplog.at_level(logging.ERROR, logger="optinface.consent.erasure"):
            report = service.sweep()

    [receipt] = report.erasures
    assert receipt.subject_hash == tombstone_hash(service.runtime.keys, interrupted)
    assert (receipt.reason, receipt.templates_destroyed) == (REQUEST, 1)
    assert (report.templates_destroyed, report.erasures_unfinished) == (1, 1)
    assert _unfinished_events(service, world) == [
        ([failing], "witness_unusable", {"reason": "request", "error": "witness_unusable"})]
    failing_hash = tombstone_hash(service.runtime.keys, failing)
    [line] = [r.getMessage() for r in caplog.records if ERASURE_UNFINISHED in r.getMessage()]
    assert line.startswith(f"{ERASURE_UNFINISHED}: ") and failing_hash in line
    assert failing not in line  # the log names the subject by its tombstone hash only
    [swept] = service.audit_events(actor=world.reviewer,
                                   filters=AuditFilter(action=AuditAction.SWEEP)).events
    assert swept.details["erasures_unfinished"] == 1
    assert service.get_subject(actor=world.portal, subject=kept).status == "active"

    again = service.sweep()  # the journal mended
    assert [r.subject_hash for r in again.erasures] == [failing_hash]
    assert again.erasures_unfinished == 0
    assert len(service.erasures(actor=world.reviewer)) == 2
    assert _unfinished_events(service, world)[0][0] != [failing]  # forgotten with the rest
    assert service.verify_audit().ok


def test_a_failure_is_chained_once_until_its_error_changes_and_logged_at_every_sweep(
    world: World, clock: FakeClock, settings: ConsentSettings, portrait_jpegs: list[bytes],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Three hourly sweeps with the journal unusable: three log lines, three counts, one
    event; the error changes (the journal mended, the destroying transaction raising): a
    second event, once; the cause gone, the next sweep finishes the erasure with its erase event."""
    service = world.service
    failing = world.enrolled(portrait_jpegs[0])
    journal = journal_path(settings.witness_dir)
    journal.touch()

    def sweeps(times: int) -> list[int]:
        counts = []
        for _ in range(times):
            clock.advance(hours=1)
            counts.append(service.sweep().erasures_unfinished)
        return counts

    with unwritable(journal):
        with pytest.raises(WitnessUnusable):
            service.erase(actor=world.admin, subject=failing, reason=REQUEST)
        with caplog.at_level(logging.ERROR, logger="optinface.consent.erasure"):
            assert sweeps(3) == [1, 1, 1]
    lines = [r for r in caplog.records if r.getMessage().startswith(ERASURE_UNFINISHED)]
    assert len(lines) == 3
    witness = ([failing], "witness_unusable", {"reason": "request", "error": "witness_unusable"})
    assert _unfinished_events(service, world) == [witness]

    monkeypatch.setattr("optinface.consent.disclosures.anonymise", crash)  # destroying step
    assert sweeps(2) == [1, 1]
    assert _unfinished_events(service, world) == [
        witness, ([failing], "Crash", {"reason": "request", "error": "Crash"})]
    monkeypatch.undo()

    [receipt] = service.sweep().erasures
    assert receipt.subject_hash == tombstone_hash(service.runtime.keys, failing)
    [erased] = service.audit_events(actor=world.reviewer,
                                    filters=AuditFilter(action=AuditAction.ERASE)).events
    assert erased.details["reason"] == "request"
    assert [subjects for subjects, _, _ in _unfinished_events(service, world)] == [[], []]
    assert service.verify_audit().ok


def test_a_start_whose_erasure_fails_serves_and_never_finds_that_subject(
    world: World, settings: ConsentSettings, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes], open_service: Callable[[], OptinFace],
) -> None:
    """The process died after an erasure was refused (journal unusable), its saved index file
    still holding the subject's vector; the start cannot finish it either: it serves, reports
    it, and no search finds the subject; the next sweep with the journal mended finishes it."""
    service = world.service
    failing = world.enrolled(portrait_jpegs[0])
    other = world.enrolled(portrait_jpegs[1])
    assert [c.subject for c in world.identify(flipped_jpegs[0]).candidates] == [failing]
    service.index.save()  # the file holds the vector the start must keep out of every search
    journal = journal_path(settings.witness_dir)
    journal.touch()
    with unwritable(journal):
        with pytest.raises(WitnessUnusable):
            service.erase(actor=world.admin, subject=failing, reason=REQUEST)
        service.runtime.db.close()  # the process dies: no final save, and its lock goes
        service.lock.release()
        reopened = open_service()  # the journal still unusable

    with closing(reopened):
        report = reopened.last_reconcile
        assert report is not None
        assert (report.erasures_unfinished, report.erasures_completed) == (1, 0)
        started = replace(world, service=reopened)
        assert _unfinished_events(reopened, started) == [
            ([failing], "witness_unusable", {"reason": "request", "error": "witness_unusable"})]
        assert [c.subject for c in started.identify(flipped_jpegs[0]).candidates] == []
        assert [c.subject for c in started.identify(flipped_jpegs[1]).candidates] == [other]

        [receipt] = reopened.sweep().erasures  # the journal mended
        assert receipt.subject_hash == tombstone_hash(reopened.runtime.keys, failing)
        assert reopened.verify_audit().ok


@both_backends
@pytest.mark.parametrize("first", ["sweep", "request"])
def test_a_request_and_a_sweep_erasing_one_subject_at_once_both_answer_with_its_receipt(
    first: str, world: World, clock: FakeClock, portrait_jpegs: list[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The subject's consent ended; the sweep erases them while an erasure request comes:
    both past their exclusion, whichever destroys second finds the tombstone. The request
    answers with the one receipt, as if it had done the work; the sweep does not fail."""
    pseudonym, consent_id = world.subject(days=30)
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    clock.advance(days=31)
    held = HeldAtJournal(monkeypatch)
    report, answer = race(world.service, world.service, admin=world.admin, pseudonym=pseudonym,
                          first=first, held=held)
    _one_receipt(world, world.service, report.erasures, answer, first=first)
    assert report.erasures_unfinished == 0


def test_a_request_that_lost_the_race_is_chained_naming_the_subject_by_its_tombstone_hash(
    world: World, clock: FakeClock, settings: ConsentSettings, portrait_jpegs: list[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep destroys first; the request that lost answers with its receipt and leaves an
    event of its own: its actor, the subject by the tombstone hash (the erasure took the
    pseudonym out of the log; no row of it holds the pseudonym's bytes), the receipt it
    answered with; the log verifies, and so does ``optinface audit verify``."""
    pseudonym, consent_id = world.subject(days=30)
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    clock.advance(days=31)
    held = HeldAtJournal(monkeypatch)
    report, answer = race(world.service, world.service, admin=world.admin, pseudonym=pseudonym,
                          first="sweep", held=held)
    assert [receipt.signed for receipt in report.erasures] == [answer.signed]

    [done] = world.service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.ERASE_ALREADY_DONE)).events
    subject_hash = tombstone_hash(world.service.runtime.keys, pseudonym)
    assert (done.actor_key_id, done.subjects, done.outcome) == (
        world.admin.key_id, [subject_hash], "ok")
    assert done.details == {"reason": "request",
                            "receipt_id": answer.signed.receipt["receiptID"]}
    with closing(sqlite3.connect(settings.data_dir / "optinface.db")) as db:
        rows = db.execute("SELECT * FROM audit_events").fetchall()
    assert not [row for row in rows
                if pseudonym.encode() in b"|".join(str(value).encode() for value in row)]
    assert world.service.verify_audit().ok
    verified = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(settings.data_dir)])
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("first", ["sweep", "request"])
def test_a_request_to_one_worker_racing_anothers_sweep_answers_with_the_one_receipt(
    first: str, world: World, settings: ConsentSettings, pipeline: FacePipeline,
    clock: FakeClock, portrait_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As above, the sweep on worker A and the request on worker B (their own data folders,
    one ledger): the ledger lock lets one destroy, the other finds the tombstone."""
    pseudonym, consent_id = world.subject(days=30)
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    worker_b = settings.model_copy(update={"data_dir": settings.data_dir.with_name("worker-b")})
    with closing(OptinFace.open(worker_b, pipeline=pipeline, clock=clock)) as b:
        clock.advance(days=31)
        held = HeldAtJournal(monkeypatch)
        report, answer = race(world.service, b, admin=world.admin, pseudonym=pseudonym,
                              first=first, held=held)
        _one_receipt(world, b, report.erasures, answer, first=first)


def _one_receipt(world: World, service: OptinFace, swept: list[ErasureReceipt],
                 answer: ErasureReceipt, *, first: str) -> None:
    """One erasure, one tombstone, one receipt: the request's answer, and the sweep's if the
    sweep destroyed first."""
    [tombstone] = service.erasures(actor=world.reviewer)
    assert answer.signed.receipt == tombstone.receipt
    assert verify_receipt(answer.signed.receipt, answer.signed.signature, service.public_key)
    assert answer.reason is (REQUEST if first == "request" else ErasureReason.EXPIRY)
    assert (answer.templates_destroyed, answer.key_destroyed) == (1, True)
    assert [receipt.signed for receipt in swept] == ([answer.signed] if first == "sweep" else [])
    assert service.verify_audit().ok

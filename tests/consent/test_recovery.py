"""Start-up reconciliation repairs what a crash between ledger and index left behind."""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Callable
from contextlib import closing

import numpy as np
import pytest
from sqlalchemy import func, select

from optinface.consent.audit import AuditAction
from optinface.consent.erasure_journal import journal_path
from optinface.consent.errors import DataDirInUse, WitnessUnusable
from optinface.consent.lock import LOCK_FILE
from optinface.consent.receipts import verify_receipt
from optinface.consent.schemas import (
    AuditFilter,
    ErasureReason,
    SearchOutcome,
)
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import Subject, SubjectStatus, Template
from tests.support.backends import both_backends
from tests.support.consent import Crash, FakeClock, World, crash
from tests.support.erasures import folder_in_place
from tests.support.files import left_of, readable_occurrences, template_bytes


def test_reopening_removes_index_entries_without_ledger_rows_and_restores_missing_ones(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
    open_service: Callable[[], OptinFace],
) -> None:
    service = world.service
    pseudonym, consent_id = world.subject()
    template = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    # Crash 1: the ledger committed but the index write was lost.
    service.index.remove([template.id])
    # Crash 2: a vector reached the index with no ledger row behind it.
    orphan = np.random.default_rng(0).standard_normal(512).astype(np.float32)
    service.index.add([999_999], (orphan / np.linalg.norm(orphan))[None, :])
    service.close()

    with closing(open_service()) as reopened:
        report = reopened.last_reconcile
        assert report is not None and (report.removed, report.re_added) == (1, 1)
        assert reopened.index.labels() == {template.id}
        world.service = reopened
        assert world.identify(flipped_jpegs[0]).outcome is SearchOutcome.CANDIDATES
        assert reopened.verify_audit().ok


def test_enrolments_a_crash_kept_out_of_the_index_file_are_restored_from_the_ledger(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
    open_service: Callable[[], OptinFace],
) -> None:
    enrolled = []
    for image in portrait_jpegs[:2]:
        pseudonym, consent_id = world.subject()
        enrolled.append(world.enrol(pseudonym, consent_id, image).id)
    assert world.service.index.additions_since_save() == 2  # not written whole per enrolment
    world.service.runtime.db.close()  # the process dies: no final save, and its lock goes
    world.service.lock.release()

    with closing(open_service()) as reopened:
        assert reopened.last_reconcile is not None and reopened.last_reconcile.re_added == 2
        assert reopened.index.labels() == set(enrolled)
        world.service = reopened
        assert world.identify(flipped_jpegs[1]).outcome is SearchOutcome.CANDIDATES


def _flip_a_byte(index: bytes) -> bytes:
    damaged = bytearray(index)
    damaged[200] ^= 0xFF
    return bytes(damaged)


def _as_format_3(index: bytes) -> bytes:
    """The file as format 3 (before each file's data key was wrapped by a key epoch) wrote it:
    no wrapped key, and a 64-byte trailer of magic, version, dimension, payload length, segment
    size and table SHA-256."""
    magic, _, dim, length, segment, _, _, digest = struct.unpack("<8sIIQQQI32s", index[-76:])
    table = -(-length // segment) * 48
    return index[:length + table] + struct.pack("<8sIIQQ32s", magic, 3, dim, length, segment,
                                                digest)


@pytest.mark.parametrize(("damage", "told"), [(_flip_a_byte, "checksum"),
                                              (_as_format_3, "format version")],
                         ids=["damaged", "older format"])
def test_an_unreadable_index_file_is_deleted_and_rebuilt_from_the_ledger(
    damage: Callable[[bytes], bytes], told: str, world: World, settings: ConsentSettings,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
    open_service: Callable[[], OptinFace],
) -> None:
    pseudonym, consent_id = world.subject()
    template = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    world.service.close()
    settings.index_path.write_bytes(damage(settings.index_path.read_bytes()))

    with closing(open_service()) as reopened:
        report = reopened.last_reconcile
        assert report is not None and report.re_added == 1
        assert report.index_discarded is not None and told in report.index_discarded
        assert reopened.index.labels() == {template.id}
        world.service = reopened
        assert world.identify(flipped_jpegs[0]).outcome is SearchOutcome.CANDIDATES
        events = reopened.audit_events(
            actor=world.reviewer, filters=AuditFilter(action=AuditAction.RECONCILED)).events
        assert events[-1].details["index_discarded"] == report.index_discarded


@both_backends
def test_an_erasure_interrupted_by_a_crash_is_finished_on_start_up(
    world: World, portrait_jpegs: list[bytes], open_service: Callable[[], OptinFace],
) -> None:
    from sqlalchemy import update

    from optinface.consent.tables import Subject, SubjectStatus

    world.enrolled(portrait_jpegs[0])
    with world.service.runtime.db.transaction() as session:  # step 1 of erase, then "crash"
        session.execute(update(Subject).values(status=SubjectStatus.EXCLUDED,
                                               erasure_reason="request"))
    world.service.close()
    with closing(open_service()) as reopened:
        assert reopened.last_reconcile is not None
        assert reopened.last_reconcile.erasures_completed == 1
        assert reopened.index.count() == 0
        assert len(reopened.erasures(actor=world.reviewer)) == 1


@both_backends
def test_an_erasure_interrupted_in_a_process_that_lives_on_is_finished_by_the_next_sweep(
    world: World, settings: ConsentSettings, portrait_jpegs: list[bytes],
) -> None:
    """No start-up comes to finish it: here the journal could not be written (a folder stands
    where it goes), so the erasure stopped after the exclusion and the process lives on."""
    service = world.service
    pseudonym, consent_id = world.subject()
    template = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    service.index.save()  # the index file holds the vector: the sweep must scrub it
    needles = template_bytes(service, template.id)
    subject_id = _subject_id(service, pseudonym)
    with folder_in_place(journal_path(settings.witness_dir)), pytest.raises(WitnessUnusable):
        service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    left = left_of(service, subject_id=subject_id, template_id=template.id, needles=needles)
    assert left[:2] == ["template row", "subject key"] and len(left) > 2  # the file too

    [receipt] = service.sweep().erasures
    assert left_of(service, subject_id=subject_id, template_id=template.id,
                   needles=needles) == []
    assert verify_receipt(receipt.signed.receipt, receipt.signed.signature, service.public_key)
    assert (receipt.reason, receipt.templates_destroyed) == (ErasureReason.REQUEST, 1)
    [tombstone] = service.erasures(actor=world.reviewer)
    assert tombstone.receipt == receipt.signed.receipt
    [erased] = service.audit_events(actor=world.reviewer,
                                    filters=AuditFilter(action=AuditAction.ERASE)).events
    assert erased.details["reason"] == "request" and erased.actor_key_id is None  # the sweeper
    assert service.verify_audit().ok
    assert service.sweep().erasures == []  # finished once


def _subject_id(service: OptinFace, pseudonym: str) -> int:
    with service.runtime.db.transaction() as session:
        return session.scalars(select(Subject.id).where(Subject.pseudonym == pseudonym)).one()


@pytest.mark.parametrize("interruption", [
    "consent expired while the service was down",
    "sweep killed after marking the consent expired",
    "withdrawal killed before the erasure it implies",
])
def test_reopening_erases_a_subject_left_with_templates_but_no_consent_in_force(
    interruption: str, world: World, clock: FakeClock, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
    open_service: Callable[[], OptinFace],
) -> None:
    """After start-up every template row is in the index; nothing is left for a later sweep."""
    service = world.service
    kept, kept_consent = world.subject()
    kept_template = world.enrol(kept, kept_consent, portrait_jpegs[0])
    ended, short_consent = world.subject(days=30)
    world.enrol(ended, short_consent, portrait_jpegs[1])
    waiting = world.person().pseudonym  # consent still to come: no template, nothing ended
    reason = ErasureReason.EXPIRY
    if interruption.startswith("withdrawal"):
        long_consent = world.consent(ended).consent.id
        world.enrol(ended, long_consent, flipped_jpegs[1])  # the same person, another photo
    clock.advance(days=31)  # the short consent is past its expiry; nobody swept yet
    monkeypatch.setattr("optinface.consent.retention.erase_each", crash)
    monkeypatch.setattr("optinface.consent.consents.erase_unless_kept", crash)
    if interruption.startswith("sweep"):
        with pytest.raises(Crash):
            service.sweep()
    elif interruption.startswith("withdrawal"):
        with pytest.raises(Crash):
            world.withdraw(ended, long_consent)
        reason = ErasureReason.WITHDRAWAL
    monkeypatch.undo()
    with service.runtime.db.transaction() as session:  # the state the crash left behind
        subject = session.scalars(select(Subject).where(Subject.pseudonym == ended)).one()
        assert subject.status == SubjectStatus.ACTIVE
        assert session.scalar(select(func.count()).select_from(Template).where(
            Template.subject_id == subject.id)) == 1
    service.close()

    with closing(open_service()) as reopened:
        assert reopened.last_reconcile is not None
        assert reopened.last_reconcile.consents_ended_erased == 1
        with reopened.runtime.db.transaction() as session:
            rows = set(session.scalars(select(Template.id)))
            pseudonyms = set(session.scalars(select(Subject.pseudonym)))
        assert rows == reopened.index.labels() == {kept_template.id}  # type: ignore[attr-defined]
        assert pseudonyms == {kept, waiting}
        [tombstone] = reopened.erasures(actor=world.reviewer)
        assert tombstone.reason is reason
        assert tombstone.receipt is not None and tombstone.receipt["reason"] == reason
        assert tombstone.receipt["destroyed"]["templates"] == 1
        assert tombstone.receipt_signature
        assert reopened.verify_audit().ok


@pytest.mark.first_start  # an index never saved: the receipt destroys no index file key
def test_a_crash_right_after_an_erasure_commits_leaves_its_signed_receipt(
    world: World, portrait_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
    open_service: Callable[[], OptinFace],
) -> None:
    """The receipt commits with the destruction: no tombstone is ever left without its proof."""
    pseudonym, consent_id = world.subject()
    template = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    ciphertext, plaintext = template_bytes(world.service, template.id)
    monkeypatch.setattr(world.service.runtime.db, "checkpoint", crash)  # the step after the commit
    with pytest.raises(Crash):
        world.service.erase(actor=world.portal, subject=pseudonym, reason=ErasureReason.REQUEST)
    monkeypatch.undo()
    world.service.close()

    with closing(open_service()) as reopened:
        [tombstone] = reopened.erasures(actor=world.reviewer)
        assert tombstone.receipt is not None and tombstone.receipt_signature is not None
        assert verify_receipt(tombstone.receipt, tombstone.receipt_signature,
                              reopened.public_key)
        assert tombstone.receipt["subjectHash"] == tombstone.subject_hash
        destroyed = dict(tombstone.receipt["destroyed"])
        assert destroyed.pop("logPseudonyms") > 0  # the log's events name them by hashes now
        # No index file was saved before the erasure: none had a key to destroy.
        assert destroyed == {"templates": 1, "indexEntries": 1, "indexFileKeys": 0,
                             "subjectKey": True}
        assert (tombstone.receipt["requestedAt"] <= tombstone.receipt["unsearchableAt"]
                <= tombstone.receipt["destroyedAt"])
        for needle in (ciphertext, plaintext, plaintext[:64]):
            assert readable_occurrences(reopened, needle) == []
        assert reopened.verify_audit().ok


def test_reopening_destroys_the_templates_of_a_consent_that_ended_while_down(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
    open_service: Callable[[], OptinFace],
) -> None:
    """The subject keeps another consent, so only the ended consent's template goes."""
    service = world.service
    pseudonym, short = world.subject(days=30)
    long = world.consent(pseudonym).consent.id
    world.enrol(pseudonym, short, portrait_jpegs[0])
    kept = world.enrol(pseudonym, long, flipped_jpegs[0])  # the same person, another photo
    service.close()
    clock.advance(days=31)

    with closing(open_service()) as reopened:
        report = reopened.last_reconcile
        assert report is not None
        assert (report.templates_destroyed, report.consents_ended_erased) == (1, 0)
        with reopened.runtime.db.transaction() as session:
            rows = set(session.scalars(select(Template.id)))
        assert rows == reopened.index.labels() == {kept.id}  # type: ignore[attr-defined]
        assert reopened.get_subject(actor=world.portal, subject=pseudonym).status == "active"
        assert reopened.verify_audit().ok


def test_a_second_process_cannot_open_the_data_directory_until_the_first_closes(
    world: World, settings: ConsentSettings, open_service: Callable[[], OptinFace],
) -> None:
    with pytest.raises(DataDirInUse) as refused:
        open_service()
    assert refused.value.details["pid"] == str(os.getpid())
    lock_file = settings.data_dir / LOCK_FILE
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600
    world.service.close()
    reopened = open_service()
    reopened.close()

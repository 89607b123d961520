"""Start-up reconciliation repairs what a crash between ledger and index left behind."""

from __future__ import annotations

import numpy as np

from consent.audit import AuditAction
from consent.schemas import AuditFilter, Decision
from consent.service import OptinFace
from consent.settings import ConsentSettings
from engine.pipeline import FacePipeline
from tests.consent.conftest import FakeClock, World


def test_reopening_removes_index_entries_without_ledger_rows_and_restores_missing_ones(
    world: World, settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    service = world.service
    pseudonym, consent_id = world.subject()
    template = service.enrol(actor=world.portal, subject=pseudonym, consent_id=consent_id,
                             image=portrait_jpegs[0])
    # Crash 1: the ledger committed but the index write was lost.
    service.index.remove([template.id])
    # Crash 2: a vector reached the index with no ledger row behind it.
    orphan = np.random.default_rng(0).standard_normal(512).astype(np.float32)
    service.index.add([999_999], (orphan / np.linalg.norm(orphan))[None, :])
    service.close()

    reopened = OptinFace.open(settings, pipeline=pipeline, clock=clock)
    try:
        report = reopened.last_reconcile
        assert report is not None and (report.removed, report.re_added) == (1, 1)
        assert reopened.index.labels() == {template.id}
        result = reopened.identify(actor=world.researcher, purpose_id=world.purpose,
                                   probe_consent_id=world.probe(), image=flipped_jpegs[0])
        assert result.decision is Decision.MATCH
        assert reopened.verify_audit().ok
    finally:
        reopened.close()


def test_an_unreadable_index_file_is_deleted_and_rebuilt_from_the_ledger(
    world: World, settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    pseudonym, consent_id = world.subject()
    template = world.service.enrol(actor=world.portal, subject=pseudonym, consent_id=consent_id,
                                   image=portrait_jpegs[0])
    world.service.close()
    damaged = bytearray(settings.index_path.read_bytes())
    damaged[200] ^= 0xFF
    settings.index_path.write_bytes(bytes(damaged))

    reopened = OptinFace.open(settings, pipeline=pipeline, clock=clock)
    try:
        report = reopened.last_reconcile
        assert report is not None and report.re_added == 1
        assert report.index_discarded is not None and "checksum" in report.index_discarded
        assert reopened.index.labels() == {template.id}
        result = reopened.identify(actor=world.researcher, purpose_id=world.purpose,
                                   probe_consent_id=world.probe(), image=flipped_jpegs[0])
        assert result.decision is Decision.MATCH
        events = reopened.audit_events(
            actor=world.reviewer, filters=AuditFilter(action=AuditAction.RECONCILED)).events
        assert events[-1].details["index_discarded"] == report.index_discarded
    finally:
        reopened.close()


def test_an_erasure_interrupted_by_a_crash_is_finished_on_start_up(
    world: World, settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock,
    portrait_jpegs: list[bytes],
) -> None:
    from sqlalchemy import update

    from consent.tables import Subject, SubjectStatus

    pseudonym, consent_id = world.subject()
    world.service.enrol(actor=world.portal, subject=pseudonym, consent_id=consent_id,
                        image=portrait_jpegs[0])
    with world.service._rt.db.transaction() as session:  # step 1 of erase, then "crash"
        session.execute(update(Subject).values(status=SubjectStatus.EXCLUDED,
                                               erasure_reason="request"))
    world.service.close()
    reopened = OptinFace.open(settings, pipeline=pipeline, clock=clock)
    try:
        assert reopened.last_reconcile is not None
        assert reopened.last_reconcile.erasures_completed == 1
        assert reopened.index.count() == 0
        assert len(reopened.erasures(actor=world.reviewer)) == 1
    finally:
        reopened.close()

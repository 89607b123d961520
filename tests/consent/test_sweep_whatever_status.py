"""The retention sweep ends a consent at its end whatever status the subject's row was given.

The attack is the outside tester's (red team 2, finding 4): ``UPDATE subjects SET
status='dormant'`` on a connection of its own, before the subject's consent ends. The sweep
skipped the subject: its consent stayed active past its end, its template and key outlived it
(BIPA 15(a)). Now the consent ends, its templates and key go, and the status is flagged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing

import pytest
from sqlalchemy import select

from optinface.consent.audit import AuditAction
from optinface.consent.errors import SubjectErased
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.tables import AuditEvent, Consent, Subject, SubjectKey, Template
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, outside_sql, row_count
from tests.support.files import readable_occurrences, template_bytes

RETENTION_LOG = "optinface.consent.retention"


def _dormant(world: World, pseudonym: str) -> None:
    outside_sql(world.service, "UPDATE subjects SET status = 'dormant' WHERE pseudonym = :p",
                p=pseudonym)


def _flagged(world: World) -> list[AuditEvent]:
    with world.service.runtime.db.transaction() as session:
        rows = list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == str(AuditAction.SUBJECT_STATUS_UNKNOWN))))
        session.expunge_all()
        return rows


@both_backends
def test_a_dormant_subjects_consent_ends_at_its_end_and_its_template_and_key_go(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The repro: one consent of 30 days, a template, the row made 'dormant'. At the end the
    sweep erases the subject (no consent left), template and key included, with its receipt;
    the status was flagged before, logged and chained once."""
    service = world.service
    pseudonym, consent_id = world.subject(days=30)
    template = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    ciphertext, plaintext = template_bytes(service, template.id)
    _dormant(world, pseudonym)
    with caplog.at_level(logging.ERROR, logger=RETENTION_LOG):
        assert service.sweep().erasures == []  # in force: kept, flagged
    said = [r.getMessage() for r in caplog.records if r.name == RETENTION_LOG]
    assert any("'dormant'" in line for line in said)
    assert not any(pseudonym in line for line in said)  # the chained flag names them, not the log
    [flag] = _flagged(world)
    assert flag.subjects == [pseudonym]

    clock.advance(days=31)
    report = service.sweep(actor=world.admin)
    assert [e.reason for e in report.erasures] == [ErasureReason.EXPIRY]
    assert report.consents_expired == 1 and report.erasures[0].templates_destroyed == 1
    assert row_count(service, Template) == 0 and row_count(service, SubjectKey) == 0
    for needle in (ciphertext, plaintext, plaintext[:64]):
        assert readable_occurrences(service, needle) == []
    with pytest.raises(SubjectErased):
        service.get_subject(actor=world.portal, subject=pseudonym)
    assert service.verify_audit().ok


@both_backends
def test_a_dormant_subjects_ended_consent_takes_its_templates_while_another_keeps_them(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes],
) -> None:
    """A consent that ends while another of the same person's runs: the templates enrolled
    under it are destroyed (``destroy_ended_templates``), the subject stays, still flagged
    once only, however many sweeps see it."""
    service = world.service
    pseudonym, short = world.subject(days=30)
    world.consent(pseudonym, days=300)
    world.enrol(pseudonym, short, portrait_jpegs[0])
    _dormant(world, pseudonym)
    clock.advance(days=31)
    report = service.sweep()
    assert (report.consents_expired, report.templates_destroyed, report.erasures) == (1, 1, [])
    assert row_count(service, Template) == 0
    assert row_count(service, Consent, Consent.id == short, Consent.status == "expired") == 1
    service.sweep()
    assert len(_flagged(world)) == 1
    with service.runtime.db.transaction() as session:
        [sweep] = session.scalars(select(AuditEvent.details).where(
            AuditEvent.action == "sweep").order_by(AuditEvent.seq.desc()).limit(1)).all()
    assert sweep["subjects_status_unknown"] == 1


def test_a_dormant_subject_whose_consent_ended_is_erased_at_start(
    world: World, clock: FakeClock, open_service: Callable[[], OptinFace],
    portrait_jpegs: list[bytes],
) -> None:
    """Start-up reconciliation asks the same question as the sweep
    (``policies.subjects_with_consent_ended``): a status is no reason to keep a subject."""
    pseudonym, consent_id = world.subject(days=30)
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    _dormant(world, pseudonym)
    clock.advance(days=31)
    world.service.close()
    with closing(open_service()) as reopened:
        assert row_count(reopened, Subject, Subject.pseudonym == pseudonym) == 0
        assert row_count(reopened, Template) == 0 and row_count(reopened, SubjectKey) == 0

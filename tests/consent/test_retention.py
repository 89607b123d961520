"""The sweeper erases at the earliest of expiry, purpose retention and inactivity."""

from __future__ import annotations

import pytest

from consent.errors import SubjectErased
from consent.schemas import ErasureReason, Operation, PurposeCreate
from tests.consent.conftest import FakeClock, World


def test_a_subject_whose_every_consent_expired_is_swept(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    expiring, consent_id = world.subject(days=30)
    staying, _ = world.subject(days=300)
    world.service.enrol(actor=world.portal, subject=expiring, consent_id=consent_id,
                        image=portrait_jpegs[0])
    assert world.service.sweep().erasures == []
    clock.advance(days=31)
    report = world.service.sweep(actor=world.admin)
    assert [e.reason for e in report.erasures] == [ErasureReason.EXPIRY]
    assert report.erasures[0].templates_destroyed == 1 and world.service.index.count() == 0
    with pytest.raises(SubjectErased):
        world.service.get_subject(actor=world.portal, subject=expiring)
    assert world.service.get_subject(actor=world.portal, subject=staying).status == "active"
    assert world.service.verify_audit().ok


def test_a_purpose_retention_shorter_than_the_consent_wins(
    world: World, clock: FakeClock
) -> None:
    short = world.service.create_purpose(actor=world.admin, body=PurposeCreate(
        name="short", description="d", legal_basis="consent",
        operations={Operation.ENROL}, retention_days=10)).id
    world.subject(purposes=[short], days=300)
    clock.advance(days=11)
    assert [e.reason for e in world.service.sweep().erasures] == [ErasureReason.RETENTION]


def test_three_years_without_interaction_ends_retention(
    world: World, clock: FakeClock
) -> None:
    world.service.settings.max_consent_days = 5 * 365
    world.subject(days=5 * 365)
    clock.advance(days=3 * 365 - 1)
    assert world.service.sweep().erasures == []
    clock.advance(days=2)
    assert [e.reason for e in world.service.sweep().erasures] == [ErasureReason.RETENTION]

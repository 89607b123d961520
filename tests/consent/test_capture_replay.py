"""An approved capture enrols at most one template, within its signed lifetime, whatever its
``ceremonies`` row says (red team 4, finding 6): the row's use mark and expiry are the
database's, the person's signed statement and the chained ``enrol`` event are not."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from optinface.consent.tables import AuditEvent, Template
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, outside_sql, refused, row_count

pytestmark = both_backends

REOPEN = ("UPDATE ceremonies SET used_at = NULL, consumed_at = NULL, expires_at = :at"
          " WHERE id = :id")
"""The red team's edit: the capture unused again, and good till 2999."""


def test_an_approved_capture_reopened_in_the_database_enrols_no_second_template(
    world: World, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    service = world.service
    pseudonym, consent_id = world.subject()
    person = world.signer(pseudonym)
    capture = person.approve_capture(consent_id, portrait_jpegs[0], desk=world.portal)
    service.enrol(actor=world.portal, subject=pseudonym, capture_id=capture.id,
                  image=portrait_jpegs[0])
    for _ in range(2):  # each time refused, and the error said once
        outside_sql(service, REOPEN, at=datetime(2999, 1, 1), id=capture.id)
        refused("challenge_invalid", lambda: service.enrol(
            actor=world.portal, subject=pseudonym, capture_id=capture.id,
            image=portrait_jpegs[0]))
    assert row_count(service, Template) == 1
    said = [r for r in caplog.records if r.levelname == "ERROR" and capture.id in r.message]
    assert len(said) == 1
    assert service.verify_audit().ok


def test_an_approved_capture_past_its_signed_lifetime_enrols_nothing_whatever_its_expiry(
    world: World, portrait_jpegs: list[bytes], clock: FakeClock
) -> None:
    service = world.service
    pseudonym, consent_id = world.subject()
    capture = world.signer(pseudonym).approve_capture(consent_id, portrait_jpegs[0],
                                                      desk=world.portal)
    clock.advance(seconds=service.runtime.settings.challenge_seconds + 1)
    outside_sql(service, REOPEN, at=datetime(2999, 1, 1), id=capture.id)
    refused("challenge_invalid", lambda: service.enrol(
        actor=world.portal, subject=pseudonym, capture_id=capture.id, image=portrait_jpegs[0]))
    assert row_count(service, Template) == 0


def test_an_approval_copied_onto_another_capture_enrols_nothing(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """The evidence must sign the statement its row names: a writer who copies one approval
    onto a capture the person never approved (another photo) gains nothing."""
    service = world.service
    pseudonym, consent_id = world.subject()
    person = world.signer(pseudonym)
    approved = person.approve_capture(consent_id, portrait_jpegs[0], desk=world.portal)
    other = person.approve_capture(consent_id, flipped_jpegs[0], desk=world.portal)
    outside_sql(service, "UPDATE ceremonies SET statement = (SELECT statement FROM ceremonies"
                " WHERE id = :approved) WHERE id = :other", approved=approved.id, other=other.id)
    refused("challenge_invalid", lambda: service.enrol(
        actor=world.portal, subject=pseudonym, capture_id=other.id, image=portrait_jpegs[0]))
    with service.runtime.db.transaction() as session:
        assert not list(session.scalars(select(AuditEvent.seq).where(
            AuditEvent.action == "enrol")))


def test_evidence_that_is_not_an_object_approves_nothing(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Review: a list written into a capture's evidence column was read with ``.get`` (a 500);
    it is no approval (``challenge_invalid``)."""
    service = world.service
    pseudonym, consent_id = world.subject()
    capture = world.signer(pseudonym).approve_capture(consent_id, portrait_jpegs[0],
                                                      desk=world.portal)
    outside_sql(service, "UPDATE ceremonies SET evidence = '[1, 2]' WHERE id = :id",
                id=capture.id)
    refused("challenge_invalid", lambda: service.enrol(
        actor=world.portal, subject=pseudonym, capture_id=capture.id, image=portrait_jpegs[0]))
    assert row_count(service, Template) == 0

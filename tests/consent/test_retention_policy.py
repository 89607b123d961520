"""The retention policy is versioned, published before any consent, and signed by the person
with each consent (BIPA s. 15(a), P-39.1 s. 3.2; rows B-01, Q-02, X-CON)."""

from __future__ import annotations

import dataclasses
from contextlib import closing
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from optinface.consent import retention_policy
from optinface.consent.audit import AuditAction
from optinface.consent.receipts import subject_signature_problem, verify_receipt
from optinface.consent.schemas import ConsentAct
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditEvent, Consent
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, make_world, refused

pytestmark = both_backends


def _publications(service: OptinFace) -> list[str]:
    with service.runtime.db.transaction() as session:
        return [event.details["sha256"] for event in session.scalars(
            select(AuditEvent).where(AuditEvent.action == AuditAction.RETENTION_POLICY_PUBLISHED)
            .order_by(AuditEvent.seq))]


def test_each_consent_signs_the_retention_policy_in_force_and_its_receipt_proves_it(
    world: World
) -> None:
    service = world.service
    in_force = service.retention_policy()
    assert in_force.published_at == world.clock.now()  # published when the service opened
    assert _publications(service) == [in_force.sha256]
    assert "at most 3 years after the last interaction" in in_force.rules
    assert any("is kept 5 years after the consent ends" in rule for rule in in_force.rules)
    assert service.privacy_statement().retention_policy == in_force

    pseudonym, consent_id = world.subject()
    [consent] = service.list_consents(actor=world.admin, subject=pseudonym)
    assert consent.retention_policy_sha256 == in_force.sha256
    assert consent.receipt is not None
    receipt: dict[str, Any] = consent.receipt.receipt
    stated = receipt["retentionPolicy"]
    assert stated == {"policyUrl": in_force.policy_url, "rules": in_force.rules,
                      "sha256": in_force.sha256}
    assert receipt["subjectSignature"]["statement"]["retentionPolicy"] == stated  # the person's
    assert subject_signature_problem(receipt) is None
    assert verify_receipt(receipt, consent.receipt.signature, service.public_key)

    # A receipt whose policy is not the one the person signed, or whose text is not the one its
    # SHA-256 names, is caught offline.
    shorter = {**stated, "rules": stated["rules"][:-1]}
    assert subject_signature_problem({**receipt, "retentionPolicy": shorter}) == (
        "the person signed a different statement than this receipt states")
    assert retention_policy.version_problem(shorter) == (
        "the retention policy's text does not match its SHA-256")
    assert retention_policy.version_problem(stated) is None
    assert retention_policy.version_problem("rules") == "the retention policy is not a policy"
    unsigned = {k: v for k, v in receipt.items() if k != "subjectSignature"}  # operator-made
    assert subject_signature_problem(unsigned) == (
        "the receipt states a retention policy no signature of the person covers")
    assert consent_id == consent.id


def test_a_changed_policy_needs_a_new_signature_and_every_version_stays_readable(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock
) -> None:
    with closing(OptinFace.open(settings, pipeline=pipeline, clock=clock)) as service:
        world = make_world(service, clock)
        person = world.person()
        act = ConsentAct(purposes=[world.purpose], notice_id=world.notice, language="fr-CA",
                         expires_at=clock.now() + timedelta(days=90))
        signed = person.sign(act)  # the statement names the three-year policy
        first = service.retention_policy()

    clock.advance(seconds=30)  # the restart is quick: the challenge is still open
    shorter = settings.model_copy(update={"retention_years_after_last_interaction": 2})
    with closing(OptinFace.open(shorter, pipeline=pipeline, clock=clock)) as service:
        person = dataclasses.replace(person, service=service)
        refused("challenge_invalid", lambda: service.give_consent(
            actor=person.actor, subject=person.pseudonym, signed=signed))
        second = service.retention_policy()
        assert second.sha256 != first.sha256
        assert "at most 2 years after the last interaction" in second.rules
        given = person.consent(purposes=act.purposes, notice_id=act.notice_id,
                               language=act.language,
                               expires_at=act.expires_at)  # signed anew, under the new policy
        assert given.consent.retention_policy_sha256 == second.sha256
        assert given.receipt.receipt["retentionPolicy"]["sha256"] == second.sha256
        # The version an older receipt names stays readable, as it was.
        assert service.retention_policy(first.sha256) == first
        assert "at most 3 years after the last interaction" in first.rules
        refused("not_found", lambda: service.retention_policy("0" * 64))

    with closing(OptinFace.open(shorter, pipeline=pipeline, clock=clock)) as service:
        assert [v.sha256 for v in service.retention_policies()] == [first.sha256, second.sha256]
        assert _publications(service) == [first.sha256, second.sha256]  # a restart: no change
    with closing(OptinFace.open(settings, pipeline=pipeline, clock=clock)) as service:
        # Back to the first: no new version, but the log dates its return.
        assert service.retention_policy() == first
        assert _publications(service) == [first.sha256, second.sha256, first.sha256]
        with service.runtime.db.transaction() as session:
            assert session.scalars(select(Consent.retention_policy_sha256)).all() == [
                second.sha256]


def test_no_photo_is_enrolled_under_a_consent_that_signed_no_retention_policy(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """A consent from before policies were signed (an upgraded ledger) keeps what it enrolled
    but enrols nothing more: its person consents again, under the policy in force."""
    pseudonym, old = world.subject()
    with world.service.runtime.db.transaction() as session:
        session.execute(update(Consent).where(Consent.id == old)
                        .values(retention_policy_sha256=None))
    refused("consent_required", lambda: world.enrol(pseudonym, old, portrait_jpegs[0]))
    renewed = world.consent(pseudonym).consent.id
    assert world.enrol(pseudonym, renewed, portrait_jpegs[0]).consent_id == renewed


def test_the_log_rule_changes_the_policy_version_but_not_the_declared_database(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock
) -> None:
    """The declared material covers the biometric database's schedule only: how long the
    access log keeps its content is in the policy people sign, and needs no new declaration."""
    seen = []
    for days, hold in ((None, "case 12"), (200, None), (400, "case 12")):
        changed = settings.model_copy(update={"access_log_retention_days": days,
                                              "access_log_hold": hold})
        with closing(OptinFace.open(changed, pipeline=pipeline, clock=clock)) as service:
            seen.append((service.register().material_sha256, service.retention_policy()))
    assert len({material for material, _ in seen}) == 1
    assert len({policy.sha256 for _, policy in seen}) == 3
    assert any("lose their content 200 days" in rule for rule in seen[1][1].rules)
    assert any(rule.endswith("under an investigation hold: case 12") for rule in seen[2][1].rules)
    shorter = settings.model_copy(update={"retention_years_after_last_interaction": 2})
    with closing(OptinFace.open(shorter, pipeline=pipeline, clock=clock)) as service:
        assert service.register().material_sha256 != seen[0][0]  # the database's own schedule

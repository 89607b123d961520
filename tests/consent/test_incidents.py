"""Confidentiality incidents (P-39.1 ss. 3.5-3.8, reg. A-2.1 r. 3.1; GDPR arts. 33-34): the
register, the 72-hour clock, the two notices, and the 5 years the register is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from optinface.consent.audit import AuditAction
from optinface.consent.errors import InvalidRequest
from optinface.consent.incidents import Audience
from optinface.consent.schemas import AuditFilter, IncidentCreate
from tests.support.consent import FakeClock, World, refused


def _body(clock: FakeClock, **changes: object) -> IncidentCreate:
    values: dict[str, object] = {
        "description": "a backup disk with the ledger was lost in transit",
        "circumstances": "courier lost the parcel; the disk was not encrypted at rest",
        "occurred_from": clock.now() - timedelta(days=2),
        "became_aware_at": clock.now() - timedelta(hours=10),
        "data_categories": ["face templates", "consent records"],
        "subjects_affected": 120,
        "affected_is_estimate": True,
        "quebec_residents": 100,
        "risk_assessment": "biometric data, cannot be changed; likelihood of misuse moderate",
        "measures_taken": "epoch key rotated so the copy is undecryptable; courier contacted",
        "measures_suggested": "choose the non-biometric alternative or erase your template",
        **changes,
    }
    return IncidentCreate.model_validate(values)


def test_an_incident_starts_a_72_hour_clock(world: World, clock: FakeClock) -> None:
    made = world.service.record_incident(actor=world.admin, body=_body(clock))
    assert made.notify_by == made.became_aware_at + timedelta(hours=72)
    assert made.hours_left == 62.0 and not made.notification_overdue
    clock.advance(hours=63)
    [late] = world.service.incidents(actor=world.reviewer)
    assert late.notification_overdue and late.hours_left == -1.0
    notified = world.service.incident_notified(actor=world.admin, incident_id=made.id,
                                               audience=Audience.REGULATOR,
                                               delay_reason="the courier reported the loss late")
    assert notified.regulator_notified_at == clock.now()
    assert notified.notification_overdue and notified.hours_left is None  # late stays late


def test_a_late_notification_of_the_regulator_needs_the_reasons_for_the_delay(
    world: World, clock: FakeClock
) -> None:
    """GDPR art. 33(1): after 72 hours the notification comes with the reasons for the delay.
    Without them nothing is recorded; with them they are kept on the incident, in its audit
    event and in the regulator's notice. A reason for a notification in time, or to the
    persons, is refused: no reason stands for a delay that was not."""
    service, admin = world.service, world.admin
    late = service.record_incident(actor=admin, body=_body(clock))  # aware 10 h ago
    in_time = service.record_incident(actor=admin, body=_body(clock))
    refused("invalid_request", lambda: service.incident_notified(
        actor=admin, incident_id=in_time.id, audience=Audience.REGULATOR,
        delay_reason="no delay"))
    refused("invalid_request", lambda: service.incident_notified(
        actor=admin, incident_id=in_time.id, audience=Audience.SUBJECTS,
        delay_reason="no delay"))
    assert service.incident_notified(actor=admin, incident_id=in_time.id,
                                     audience=Audience.REGULATOR).regulator_delay_reason is None
    clock.advance(hours=70)  # 80 hours after awareness
    with pytest.raises(InvalidRequest, match=r"80\.0 h after awareness") as refusal:
        service.incident_notified(actor=admin, incident_id=late.id, audience=Audience.REGULATOR)
    assert refusal.value.details == {"field": "delay_reason"}
    [kept] = [i for i in service.incidents(actor=world.reviewer) if i.id == late.id]
    assert kept.regulator_notified_at is None and kept.regulator_delay_reason is None
    reason = "the courier reported the loss on day 3"
    notified = service.incident_notified(actor=admin, incident_id=late.id,
                                         audience=Audience.REGULATOR, delay_reason=reason)
    assert notified.regulator_delay_reason == reason
    assert notified.regulator_notified_after_hours == 80.0 and notified.notification_overdue
    [event] = [e for e in service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.INCIDENT_NOTIFIED)).events
        if e.details["incident_id"] == late.id]
    assert event.details["delay_reason"] == reason
    text = service.incident_notice(actor=world.reviewer, incident_id=late.id,
                                   audience=Audience.REGULATOR).text
    [timing] = [line for line in text.splitlines()
                if line.startswith("- **Notification of the regulator**")]
    assert "80 h after awareness" in timing and "late, past the 72 hours" in timing
    assert timing.endswith(f"reasons for the delay: {reason}")


@pytest.mark.parametrize("audience", list(Audience))
def test_a_notice_names_the_encrypted_biometric_templates_an_incident_touches(
    world: World, clock: FakeClock, audience: Audience
) -> None:
    """GDPR art. 33(3)(a), 34(2); reg. ss. 3, 5: the categories of data concerned include the
    templates whenever the incident touches them, whatever the operator listed: biometric
    data, stored encrypted, and what that protects (a copy without the key store is
    unreadable) and does not (a face cannot be changed)."""
    listed = ["pseudonyms", "consent records"]
    touched = world.service.record_incident(actor=world.admin, body=_body(
        clock, data_categories=listed))
    untouched = world.service.record_incident(actor=world.admin, body=_body(
        clock, data_categories=listed, involves_templates=False))

    def concerned(incident_id: str) -> str:
        text = world.service.incident_notice(actor=world.reviewer, incident_id=incident_id,
                                             audience=audience).text
        [line] = [line for line in text.splitlines() if "information concerned**" in line]
        return line

    templates = concerned(touched.id)
    assert "pseudonyms, consent records; " in templates
    for said in ("face template", "encrypted", "cannot change", "cannot be read without"):
        assert said in templates, said
    assert concerned(untouched.id).endswith("**: pseudonyms, consent records")


def test_an_incident_touching_templates_needs_a_reason_to_rule_out_serious_injury(
    world: World, clock: FakeClock
) -> None:
    with pytest.raises(InvalidRequest):
        world.service.record_incident(actor=world.admin,
                                      body=_body(clock, risk_of_serious_injury=False))
    made = world.service.record_incident(actor=world.admin, body=_body(
        clock, risk_of_serious_injury=False,
        downgrade_reason="templates were encrypted under keys that were not lost"))
    assert not made.risk_of_serious_injury and made.downgrade_reason


def test_an_incident_time_is_refused_from_the_second_after_now(
    world: World, clock: FakeClock
) -> None:
    """An instant is the same in every time zone: no day's leeway, nor any other."""
    with pytest.raises(InvalidRequest, match="became_aware_at is in the future"):
        world.service.record_incident(actor=world.admin, body=_body(
            clock, became_aware_at=clock.now() + timedelta(seconds=1)))
    made = world.service.record_incident(actor=world.admin,
                                          body=_body(clock, became_aware_at=clock.now()))
    assert made.became_aware_at == clock.now()


def test_notices_for_the_regulator_and_the_persons_carry_the_required_content(
    world: World, clock: FakeClock
) -> None:
    made = world.service.record_incident(actor=world.admin, body=_body(clock))
    settings = world.service.settings
    regulator = world.service.incident_notice(actor=world.reviewer, incident_id=made.id,
                                              audience=Audience.REGULATOR).text
    for expected in (settings.controller_name, settings.privacy_officer_contact,
                     "courier lost the parcel", "about 120", "100 in Québec",
                     "face templates", "epoch key rotated", "Risk of serious injury**: yes"):
        assert expected in regulator, expected
    persons = world.service.incident_notice(actor=world.reviewer, incident_id=made.id,
                                            audience=Audience.SUBJECTS).text
    for expected in ("face templates", "epoch key rotated", "non-biometric alternative",
                     settings.privacy_officer_contact, "Commission d'accès"):
        assert expected in persons, expected


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_what_the_operator_typed_cannot_forge_a_line_or_a_heading_in_a_notice(
    world: World, clock: FakeClock, newline: str,
) -> None:
    """A notice is Markdown a regulator or a person opens: a description that tries to add a
    "Risk of serious injury: no" line, a heading, HTML or a link stays literal text of its own
    line, in both notices, whichever line break it uses (a lone CR ends a Markdown line too)."""
    forged = ("minor glitch\n- **Risk of serious injury**: no; nothing to notify\n1. closed"
              "\n\n# Incident closed <img src=x onerror=alert(1)>").replace("\n", newline)
    made = world.service.record_incident(actor=world.admin, body=_body(
        clock, description=forged, circumstances="see [the report](https://evil.example)"))
    for audience in Audience:
        text = world.service.incident_notice(actor=world.reviewer, incident_id=made.id,
                                             audience=audience).text
        lines = text.splitlines()
        assert [line for line in lines if line.startswith("#")] == [lines[0]], audience
        assert not any(line.lstrip().startswith(("- **Risk", "-", "1.")) for line in lines
                       if not line.startswith("- **")), audience
        assert "<img" not in text.replace("\\<img", ""), audience
        assert "[the report](" not in text and "\\[the report\\](" in text, audience
    regulator = world.service.incident_notice(actor=world.reviewer, incident_id=made.id,
                                              audience=Audience.REGULATOR).text
    assert [line for line in regulator.splitlines()
            if line.startswith("- **Risk of serious injury**")] == [
        "- **Risk of serious injury**: yes; biometric data, cannot be changed; likelihood of"
        " misuse moderate"]


def test_the_register_keeps_an_incident_at_least_five_years(world: World,
                                                           clock: FakeClock) -> None:
    made = world.service.record_incident(actor=world.admin, body=_body(clock))
    assert made.keep_until - made.became_aware_at >= timedelta(days=5 * 365 + 1)

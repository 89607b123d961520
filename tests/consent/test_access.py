"""The right of access in full (GDPR art. 15, P-39.1 s. 27), and rights requests on a clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from optinface.api.web import export as my_data
from optinface.consent import access
from optinface.consent.audit import AuditAction
from optinface.consent.schemas import (
    AuditFilter,
    Operation,
    RefusalGround,
    RequestOutcome,
    RightKind,
    RightsRequestAnswer,
    RightsRequestCreate,
    TokenAct,
)
from optinface.consent.settings import ConsentSettings
from tests.support.api import AS_TYPED, ENGLISH
from tests.support.consent import FakeClock, World
from tests.support.thresholds import TEST_THRESHOLD


def test_the_export_holds_every_item_of_article_15(world: World, portrait_jpegs: list[bytes]
                                                   ) -> None:
    pseudonym = world.enrolled(portrait_jpegs[0])
    export = world.service.export(actor=world.reviewer, subject=pseudonym)
    [purpose] = export.purposes  # (a) purposes, with their texts
    assert purpose.description == "Re-identification of consenting volunteers in study 1"
    assert export.recipients == []  # (c) recipients: none configured
    assert {d.what for d in export.retention} >= {"everything held about you"}  # (d)
    assert all(d.until > world.clock.now() for d in export.retention)
    rights = {r.right for r in export.accountability.rights}  # (e), (f)
    assert {"access", "rectification", "erasure", "withdrawal", "complaint"} <= rights
    assert export.source.startswith("you")  # (g)
    logic = export.matching_logic  # (h)
    assert (logic.model_id, logic.threshold) == ("w600k_mbf", TEST_THRESHOLD)
    assert logic.fmr is not None and logic.fnmr is not None
    assert export.accountability.privacy_officer_contact  # P-39.1 s. 27: the officer
    markdown = my_data.markdown(export, ENGLISH, AS_TYPED)
    for heading in ("Purposes", "Recipients", "Retention", "How faces are compared",
                    "Searches that involved you", "Your rights"):
        assert f"## {heading}" in markdown, heading


def test_the_export_dates_each_consent_by_its_expiry_or_retention_and_all_by_inactivity(
    world: World,
) -> None:
    short = world.purpose_with(Operation.ENROL, name="short study", retention_days=30)
    pseudonym, _ = world.subject()  # the world's purpose keeps ten years: expiry comes first
    world.consent(pseudonym, purposes=[short])  # a year's consent, kept 30 days
    now = world.clock.now()
    export = world.service.export(actor=world.reviewer, subject=pseudonym)
    held = {date.until - now for date in export.retention if date.rule == access.CONSENT_RULE}
    assert held == {timedelta(days=365), timedelta(days=30)}
    [everything] = [date for date in export.retention if date.what == access.EVERYTHING]
    years = world.service.settings.retention_years_after_last_interaction
    assert everything.until - now == timedelta(days=365 * years)  # they just interacted


def test_a_verify_that_found_no_candidate_is_in_the_subjects_export(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    pseudonym = world.enrolled(portrait_jpegs[0])
    result = world.verify(pseudonym, portrait_jpegs[3])
    assert result.outcome == "no_candidate"
    [search] = world.service.export(actor=world.reviewer, subject=pseudonym).searches
    assert (search.operation, search.outcome, search.score) == ("verify", "no_candidate", None)
    assert search.actor_key_id == world.researcher.key_id


def test_a_search_548_days_old_is_in_every_export_however_often_it_is_asked(
    world: World, clock: FakeClock, portrait_jpegs: list[bytes]
) -> None:
    """No time window and no frequency limit: a year and a half after an identification (the
    retention sweep run, the access log kept longer than a year under an investigation hold),
    the subject's own export, asked three times the same day, lists it each time."""
    world.service.settings.access_log_hold = "investigation 2026-14"  # first: never invalid
    world.service.settings.access_log_retention_days = 600
    pseudonym, consent_id = world.subject(days=2 * 365)
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    searched_at = clock.now()
    assert [c.subject for c in world.identify(portrait_jpegs[0]).candidates] == [pseudonym]
    world.service.audit_checkpoint(actor=world.reviewer)  # a shorter retention would prune it
    clock.advance(days=548)
    world.service.sweep()
    person = world.people[pseudonym]
    for _ in range(3):
        [search] = world.service.export(actor=person.actor, subject=pseudonym).searches
        assert search.operation == "identify" and search.actor_key_id == world.researcher.key_id
        assert datetime.fromisoformat(search.at) == searched_at


def test_the_export_never_shows_another_subject_or_the_gallery_size(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    mine = world.enrolled(portrait_jpegs[0])
    other = world.enrolled(portrait_jpegs[0])  # the same face under another pseudonym
    result = world.identify(flipped_jpegs[0])
    assert {c.subject for c in result.candidates} == {mine, other}  # the scan below can fail
    export = world.service.export(actor=world.reviewer, subject=mine)
    text = export.model_dump_json()
    assert other not in text and "gallery_size" not in text
    [search] = export.searches
    assert search.operation == "identify" and search.review_status == "provisional"
    assert search.score is not None and search.score == round(search.score, 2)


@pytest.mark.parametrize("kind", [RightKind.RECTIFICATION, RightKind.COMPLAINT])
def test_rights_requests_are_due_in_30_days_and_overdue_is_flagged(
    world: World, clock: FakeClock, kind: RightKind
) -> None:
    """A complaint (P-39.1 s. 3.2: the governance policy's complaint process) runs on the same
    clock as a request to exercise a right."""
    pseudonym, _ = world.subject()
    made = world.service.request_right(
        actor=world.portal, subject=pseudonym,
        body=RightsRequestCreate(kind=kind, channel="letter"))
    assert made.kind == kind
    assert made.received_at == clock.now() and not made.overdue
    assert made.due_at - made.received_at == timedelta(days=30)
    clock.advance(days=31)
    [listed] = world.service.rights_requests(actor=world.reviewer)
    assert listed.overdue and listed.status == "open"
    answered = world.service.answer_right(actor=world.reviewer, request_id=made.id,
                                          body=RightsRequestAnswer(answer="template replaced"))
    assert answered.status == "answered" and answered.overdue  # answered late stays flagged
    [mine] = world.service.export(actor=world.reviewer, subject=pseudonym).rights_requests
    assert mine.id == made.id


def _letter(world: World, pseudonym: str) -> str:
    """A request of access by letter, recorded now: its id."""
    return world.service.request_right(
        actor=world.portal, subject=pseudonym,
        body=RightsRequestCreate(kind=RightKind.ACCESS, channel="letter")).id


def test_an_open_request_raises_its_alert_from_day_23_and_not_once_answered(
    world: World, clock: FakeClock
) -> None:
    """X-ACC: the alert comes before the 30-day deadline passes, with 7 days left."""
    pseudonym, _ = world.subject()
    answered, kept_open = _letter(world, pseudonym), _letter(world, pseudonym)

    def due_soon() -> dict[str, bool]:
        return {r.id: r.due_soon for r in world.service.rights_requests(actor=world.reviewer)}

    clock.advance(days=22)
    assert due_soon() == {answered: False, kept_open: False}  # 8 days left
    clock.advance(days=1)
    assert due_soon() == {answered: True, kept_open: True}  # 7 days left
    world.service.answer_right(actor=world.reviewer, request_id=answered,
                               body=RightsRequestAnswer(answer="your export is attached"))
    assert due_soon() == {answered: False, kept_open: True}
    clock.advance(days=8)  # late now: still alerted, and overdue
    [late] = [r for r in world.service.rights_requests(actor=world.reviewer) if r.overdue]
    assert (late.id, late.due_soon) == (kept_open, True)


def test_repeat_requests_are_never_refused_but_by_a_reviewers_reasoned_decision(
    world: World,
) -> None:
    """G-10: no quota; a refusal names its ground (GDPR art. 12(5)) and gives written reasons,
    which the person reads with their own requests; the log records the decision."""
    pseudonym, _ = world.subject()
    asked = [_letter(world, pseudonym) for _ in range(5)]
    assert {r.status for r in world.service.requests_of(actor=world.portal,
                                                        subject=pseudonym)} == {"open"}
    reasons = "Five identical letters this week; each asks for the export sent on Monday."
    refused = world.service.answer_right(
        actor=world.reviewer, request_id=asked[-1], body=RightsRequestAnswer(
            answer="We will not send the export again.", outcome=RequestOutcome.REFUSED,
            ground=RefusalGround.MANIFESTLY_EXCESSIVE, reasons=reasons))
    assert (refused.status, refused.ground, refused.reasons) == (
        "refused", "manifestly_excessive", reasons)
    [seen] = [r for r in world.service.export(actor=world.reviewer, subject=pseudonym)
              .rights_requests if r.status == "refused"]
    assert (seen.id, seen.reasons) == (asked[-1], reasons)
    [logged] = world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.RIGHTS_ANSWERED)).events
    assert logged.details == {"request_id": asked[-1], "outcome": "refused",
                              "ground": "manifestly_excessive"}
    assert logged.subjects == [pseudonym]


@pytest.mark.parametrize("answer", [
    {"outcome": "refused", "ground": "manifestly_unfounded"},  # no reasons
    {"outcome": "refused", "ground": "manifestly_unfounded", "reasons": "  \n "},
    {"outcome": "refused", "reasons": "a third identical request"},  # no ground
    {"outcome": "refused", "ground": "too_many_requests", "reasons": "a quota"},
    {"outcome": "refused", "ground": "manifestly_excessive", "reasons": "x" * 2001},
    {"ground": "manifestly_excessive", "reasons": "an answer is no refusal"},
])
def test_a_refusal_without_its_ground_and_written_reasons_is_refused(
    answer: dict[str, str],
) -> None:
    with pytest.raises(ValidationError):
        RightsRequestAnswer.model_validate({"answer": "No.", **answer})


def test_a_subject_token_outlives_the_longest_consent(world: World, tmp_path: Path) -> None:
    settings = world.service.settings
    person = world.person()  # the token is issued to the person at their passkey sign-in
    issued = world.service.issue_subject_token(actor=person.actor,
                                               signed=person.sign(TokenAct()))
    lifetime = issued.token_expires_at - world.clock.now()
    assert lifetime >= timedelta(days=settings.max_consent_days)
    with pytest.raises(ValidationError):
        ConsentSettings(data_dir=tmp_path, max_consent_days=400, subject_token_days=365)

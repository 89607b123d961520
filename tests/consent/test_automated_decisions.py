"""A decision based on a search (P-39.1 s. 12.1): the caller declares it, the answer carries the
notice to relay, the search's audit event records it and the person reads it in their export."""

from __future__ import annotations

import pytest

from optinface.api.web import export as my_data
from optinface.consent.audit import AuditAction
from optinface.consent.automated_decisions import OWED_RIGHTS
from optinface.consent.schemas import AuditFilter
from tests.support.api import AS_TYPED, ENGLISH
from tests.support.backends import both_backends
from tests.support.consent import World

pytestmark = both_backends

DECLARED = "the caller declared it would base a decision about you on this search"


def test_a_search_declared_for_a_decision_answers_the_notice_and_an_undeclared_one_does_not(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    # Distinct from the controller's general contact, so the notice is seen to name this one.
    world.service.settings.privacy_officer_contact = "officer@controller.test"
    pseudonym = world.enrolled(portrait_jpegs[0])
    declared = world.identify(portrait_jpegs[0], decision_use=True)
    plain = world.identify(portrait_jpegs[0])
    assert [c.subject for c in declared.candidates] == [pseudonym]
    assert (declared.automated_decision, plain.automated_decision) == (True, False)
    assert plain.automated_decision_notice is None
    notice = declared.automated_decision_notice
    assert notice is not None and notice.basis.startswith("P-39.1 s. 12.1")
    record = world.service.export(actor=world.reviewer, subject=pseudonym).accountability
    # The accountability record's own contact and routes, never a second list of them.
    assert (notice.controller_name, notice.privacy_officer_contact) == (
        record.controller_name, "officer@controller.test")
    assert notice.rights == [r for r in record.rights if r.right in OWED_RIGHTS]
    assert {r.right for r in notice.rights} == OWED_RIGHTS
    assert any("/requests" in r.how for r in notice.rights)  # the rights API reaches a person
    for owed in ("automated processing", "personal information used", "principal factors",
                 "rectified", "observations", record.privacy_officer_contact):
        assert owed in notice.notice, owed
    assert "provisional until 2 verifier(s)" in notice.review


def test_the_declaration_is_chained_into_the_search_event(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    pseudonym = world.enrolled(portrait_jpegs[0])
    world.identify(portrait_jpegs[0], decision_use=True)
    world.verify(pseudonym, portrait_jpegs[0])
    events = world.service.audit_events(actor=world.reviewer,
                                        filters=AuditFilter(subject=pseudonym)).events
    declared = {e.action: e.details["decision_use"] for e in events
                if e.action in (AuditAction.IDENTIFY, AuditAction.VERIFY)}
    assert declared == {AuditAction.IDENTIFY: True, AuditAction.VERIFY: False}
    assert world.service.verify_audit().ok


def test_the_person_reads_in_their_export_which_searches_were_declared_for_a_decision(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Each search that found them, or (a verify) named them whatever its outcome, says whether
    the caller declared a decision use; the readable export says what they may do about it."""
    pseudonym = world.enrolled(portrait_jpegs[0])
    world.identify(portrait_jpegs[0], decision_use=True)
    world.identify(portrait_jpegs[0])
    assert world.verify(pseudonym, portrait_jpegs[3], decision_use=True).outcome == (
        "no_candidate")
    export = world.service.export(actor=world.people[pseudonym].actor, subject=pseudonym)
    assert [(s.operation, s.decision_use) for s in export.searches] == [
        ("identify", True), ("identify", False), ("verify", True)]
    markdown = my_data.markdown(export, ENGLISH, AS_TYPED)
    assert markdown.count(DECLARED) == 2
    assert "submit your observations to a person who can review it" in markdown
    assert markdown.count(DECLARED) == my_data.html(export, ENGLISH, AS_TYPED).count(DECLARED)


@pytest.mark.parametrize("operation", ["identify", "verify"])
def test_a_search_declared_for_a_decision_says_its_candidates_stay_provisional(
    world: World, portrait_jpegs: list[bytes], operation: str
) -> None:
    pseudonym = world.enrolled(portrait_jpegs[0])
    result = (world.identify(portrait_jpegs[0], decision_use=True) if operation == "identify"
              else world.verify(pseudonym, portrait_jpegs[0], decision_use=True))
    assert [c.status for c in result.candidates] == ["provisional"]
    assert result.automated_decision_notice is not None
    assert (f"provisional until {result.confirmations_required} verifier(s)"
            in result.automated_decision_notice.review)

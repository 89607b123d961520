"""A search names candidates, never a verdict; audit rows written before issue 12 said
``match`` / ``no_match`` and still read as what they were."""

from __future__ import annotations

from optinface.api.web import export as my_data
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.schemas import AuditFilter, SearchOutcome
from tests.support.api import AS_TYPED, ENGLISH
from tests.support.consent import World


def _old_rows(world: World, pseudonym: str) -> None:
    """Two search events as the service wrote them before the outcome was renamed."""
    runtime = world.service.runtime
    with runtime.db.transaction() as session:
        runtime.audit(session, Entry(action=AuditAction.IDENTIFY, actor=None, outcome="match",
                                     subjects=[pseudonym]))
        runtime.audit(session, Entry(action=AuditAction.VERIFY, actor=None,
                                     outcome="no_match", subjects=[pseudonym]))


def test_old_match_rows_are_filtered_and_exported_as_candidates_not_verdicts(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    pseudonym = world.enrolled(portrait_jpegs[0])
    _old_rows(world, pseudonym)
    found = world.identify(portrait_jpegs[0])
    assert found.outcome is SearchOutcome.CANDIDATES
    service = world.service

    outcomes = service.audit_outcomes(actor=world.reviewer)
    assert {"candidates_for_review", "no_candidate"} <= set(outcomes)
    assert not {"match", "no_match"} & set(outcomes)

    def recorded(outcome: SearchOutcome) -> list[str]:
        page = service.audit_events(actor=world.reviewer, limit=1000,
                                    filters=AuditFilter(subject=pseudonym, outcome=outcome))
        return [event.outcome for event in page.events]

    # The rows stay as written (the chain hashes cover them); one filter finds both spellings.
    assert recorded(SearchOutcome.CANDIDATES) == ["match", "candidates_for_review"]
    assert recorded(SearchOutcome.NO_CANDIDATE) == ["no_match"]
    assert service.verify_audit().ok

    export = service.export(actor=world.reviewer, subject=pseudonym)
    markdown = my_data.markdown(export, ENGLISH, AS_TYPED)  # as "My data" and the exports show it
    assert "Search (identify among all): candidates for review" in markdown
    assert "Search (verify one person): no candidate" in markdown
    assert " match" not in markdown and "no_match" not in markdown

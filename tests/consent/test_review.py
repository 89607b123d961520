"""Human review (P-39.1 s. 12.1, GDPR art. 22, AI Act art. 14(5)): searches return provisional
candidates; verifiers, never the searcher's key, confirm them; 1:N needs two; only confirmed
candidates count as identifications."""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import pytest
from sqlalchemy import text

from optinface.consent.audit import AuditAction
from optinface.consent.audit_seals import seal_of
from optinface.consent.errors import ConsentError, Forbidden, InvalidRequest, ReviewLapsed
from optinface.consent.roles import Actor, Role
from optinface.consent.schemas import (
    AuditFilter,
    ErasureReason,
    Operation,
    ReviewDecision,
    ReviewDecisionCreate,
)
from optinface.consent.service import OptinFace
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import World
from tests.support.files import template_bytes

CONFIRM = ReviewDecisionCreate(decision=ReviewDecision.CONFIRM, reason="same person")
REJECT = ReviewDecisionCreate(decision=ReviewDecision.REJECT, reason="different ears")


def _found(world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
           ) -> tuple[str, str]:
    pseudonym = world.enrolled(portrait_jpegs[0])
    result = world.identify(flipped_jpegs[0])
    [candidate] = result.candidates
    assert candidate.status == "provisional" and result.confirmations_required == 2
    assert candidate.score == round(candidate.score, 2)
    return pseudonym, candidate.review_id


def test_an_identification_needs_two_different_verifiers(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    pseudonym, review_id = _found(world, portrait_jpegs, flipped_jpegs)
    first, second = world.verifiers
    assert world.service.register().confirmed_identifications == 0
    after_one = world.service.decide_review(actor=first, review_id=review_id, body=CONFIRM)
    assert after_one.status == "provisional"
    with pytest.raises(InvalidRequest):  # the same verifier cannot count twice
        world.service.decide_review(actor=first, review_id=review_id, body=CONFIRM)
    export = world.service.export(actor=world.reviewer, subject=pseudonym)
    assert not export.searches[0].outcome.startswith("identified")
    after_two = world.service.decide_review(actor=second, review_id=review_id, body=CONFIRM)
    assert after_two.status == "confirmed" and len(after_two.verifiers) == 2
    assert world.service.register().confirmed_identifications == 1
    [search] = world.service.export(actor=world.reviewer, subject=pseudonym).searches
    assert search.outcome.startswith("identified") and search.review_status == "confirmed"
    assert {v.split(":")[0] for v in search.verifiers} == {first.key_id, second.key_id}


def test_one_rejection_rejects_the_candidate(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    _, review_id = _found(world, portrait_jpegs, flipped_jpegs)
    rejected = world.service.decide_review(actor=world.verifiers[0], review_id=review_id,
                                           body=REJECT)
    assert rejected.status == "rejected"
    assert world.service.pending_reviews(actor=world.verifiers[1]) == []
    assert world.service.register().confirmed_identifications == 0


def test_the_searchers_key_cannot_confirm_its_own_candidate(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    _, review_id = _found(world, portrait_jpegs, flipped_jpegs)
    researcher = world.researcher
    with pytest.raises(Forbidden):  # the role has no review permission at all
        world.service.decide_review(actor=researcher, review_id=review_id, body=CONFIRM)
    # Even a verifier role on the searcher's own key is refused.
    same_key = Actor(key_id=researcher.key_id, role=Role.VERIFIER)
    with pytest.raises(ConsentError) as refused:
        world.service.decide_review(actor=same_key, review_id=review_id, body=CONFIRM)
    assert refused.value.code == "forbidden"


def test_a_verify_needs_one_verifier(world: World, portrait_jpegs: list[bytes],
                                     flipped_jpegs: list[bytes]) -> None:
    pseudonym = world.enrolled(portrait_jpegs[0])
    result = world.verify(pseudonym, flipped_jpegs[0])
    assert result.confirmations_required == 1
    decided = world.service.decide_review(actor=world.verifiers[0],
                                          review_id=result.candidates[0].review_id,
                                          body=CONFIRM)
    assert decided.status == "confirmed"


ENDINGS = ("withdraw", "withdraw_purpose", "opt_out", "opt_out_forged_back", "expire", "erase")
ERASING = {"withdraw", "erase"}  # the last consent withdrawn erases its subject too


def _end_basis(world: World, pseudonym: str, how: str) -> None:
    """The candidate's basis for the search ends after it, in one of the ways a person (or
    time) ends it."""
    [consent] = world.service.export(actor=world.reviewer, subject=pseudonym).consents
    person = world.people[pseudonym]
    if how == "withdraw":
        world.withdraw(pseudonym, consent.id)
    elif how == "withdraw_purpose":  # the searched purpose only: the consent keeps another
        world.withdraw_purpose(pseudonym, consent.id, world.purpose)
    elif how == "opt_out":
        person.set_searchable(False)
    elif how == "opt_out_forged_back":  # and the operator sets the column back by SQL
        person.set_searchable(False)
        with world.service.runtime.db.transaction() as session:
            session.execute(text("UPDATE subjects SET searchable = true WHERE pseudonym = :p"),
                            {"p": pseudonym})
    elif how == "expire":
        world.clock.advance(days=366)
    else:
        world.service.erase(actor=person.actor, subject=pseudonym, reason=ErasureReason.REQUEST)


@pytest.mark.parametrize("how", ENDINGS)
def test_a_candidate_whose_basis_ended_after_the_search_is_never_confirmed(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes], how: str
) -> None:
    """Withdrawal, opt-out, expiry and erasure take effect at once for the human review too:
    a candidate found before is not confirmed after (GDPR art. 7(3); P-39.1 s. 14). The vote
    is refused (``review_lapsed``) and the review closed as ``lapsed``, chained, never counted;
    an erasure closes it at once. A candidate still found confirms as before (the tests
    above)."""
    other = world.purpose_with(Operation.IDENTIFY, name="kept")
    pseudonym, consent_id = world.subject(purposes=[world.purpose, other])
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    [candidate] = world.identify(flipped_jpegs[0]).candidates
    first, second = world.verifiers
    world.service.decide_review(actor=first, review_id=candidate.review_id, body=CONFIRM)
    _end_basis(world, pseudonym, how)
    if how in ERASING:  # closed at once
        assert world.service.pending_reviews(actor=second) == []
    with pytest.raises(ReviewLapsed):
        world.service.decide_review(actor=second, review_id=candidate.review_id, body=CONFIRM)
    with pytest.raises(ReviewLapsed):  # closed for good
        world.service.decide_review(actor=second, review_id=candidate.review_id, body=REJECT)
    assert world.service.register().confirmed_identifications == 0
    if how not in ERASING:
        [search] = world.service.export(actor=world.reviewer, subject=pseudonym).searches
        assert search.review_status == "lapsed"
        lapsed = world.service.audit_events(actor=world.reviewer, filters=AuditFilter(
            action=AuditAction.REVIEW_LAPSED, subject=pseudonym))
        assert [e.details["review_id"] for e in lapsed.events] == [candidate.review_id]


def test_a_search_and_each_verifiers_decision_are_logged_without_biometrics(
    world: World, pipeline: FacePipeline, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes],
) -> None:
    """The identify event names the probe by its SHA-256, the purpose, the searcher's key and
    the pseudonyms returned with their reviews; the decision names its verifier's key. No
    template or embedding is in the log, as bytes, base64, hex or numbers."""
    service, probe = world.service, flipped_jpegs[0]
    templates = [world.enrol(*world.subject(), portrait_jpegs[0]) for _ in range(2)]
    result = world.identify(probe)
    verifier, decided = world.verifiers[0], result.candidates[0]
    service.decide_review(actor=verifier, review_id=decided.review_id, body=CONFIRM)
    events = service.audit_events(actor=world.reviewer, filters=AuditFilter()).events
    [search] = [e for e in events if e.action == AuditAction.IDENTIFY]
    assert search.probe_sha256 == hashlib.sha256(probe).hexdigest()
    assert (search.purpose, search.actor_key_id) == (world.purpose, world.researcher.key_id)
    assert search.details["started_at"] <= search.at  # the use's start; ``at`` is its end
    assert search.details["review_ids"] == {seal_of(search, c.subject): c.review_id
                                            for c in result.candidates}
    assert sorted(search.subjects) == sorted(c.subject for c in result.candidates)
    assert len(search.subjects) == 2
    [decision] = [e for e in events if e.action == AuditAction.REVIEW_DECIDED]
    assert decision.actor_key_id == verifier.key_id and decision.subjects == [decided.subject]
    assert decision.details["review_id"] == decided.review_id

    raw = pipeline.embed_single(probe).vector
    vectors = [raw, service.runtime.protector.protect(raw[None, :])[0]] + [
        np.frombuffer(template_bytes(service, t.id)[1], dtype=np.float32) for t in templates]
    with service.runtime.db.transaction() as session:
        log = b"\n".join(value if isinstance(value, bytes) else str(value).encode()
                         for row in session.execute(text("SELECT * FROM audit_events"))
                         for value in row)
    assert probe[len(probe) // 2:len(probe) // 2 + 64] not in log
    for vector in vectors:
        data = vector.tobytes()
        for needle in (data, base64.b64encode(data), data.hex().encode(),
                       repr(float(vector[0])).encode()):
            assert needle not in log


def test_k_is_capped_at_ten_by_default(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    """Eleven subjects match the probe (the same face under eleven pseudonyms); a search that
    asks for 50 gets the ten best, no more."""
    service: OptinFace = world.service
    assert service.settings.max_candidates == 10
    matching = {world.enrolled(portrait_jpegs[0]) for _ in range(11)}
    result = service.identify(actor=world.researcher, purpose_id=world.purpose,
                              probe_consent_id=world.probe(image=flipped_jpegs[0]),
                              image=flipped_jpegs[0], k=50)
    found = [c.subject for c in result.candidates]
    assert len(found) == len(set(found)) == 10 and set(found) < matching
    [event] = service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.IDENTIFY)).events
    assert event.details["k"] == 10

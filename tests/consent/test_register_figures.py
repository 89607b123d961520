"""The register's figures follow what the service wrote, not what the database says (red team 4,
finding 5): a malicious operator with a SQL console on the ledger, the service running.

- templates are counted by their seals, as a search admits them: rows inserted in SQL (refused
  by every search as ``template_not_sealed``) are not counted, and a warning says how many;
- confirmed identifications are counted from the chained, keyed-sealed ``review_decided``
  events: a review row set ``rejected`` (or ``confirmed``) in SQL moves no figure, and a
  warning says how many rows disagree with the log.
"""

from __future__ import annotations

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.register import REVIEWS_WARNING, UNSEALED_TEMPLATES_WARNING
from optinface.consent.schemas import ReviewDecision, ReviewDecisionCreate, ReviewStatus
from tests.support.backends import both_backends
from tests.support.consent import World, outside_sql

CONFIRM = ReviewDecisionCreate(decision=ReviewDecision.CONFIRM, reason="same person")
PLANT = ("INSERT INTO templates (id, subject_id, consent_id, model_id, quality, nonce,"
         " ciphertext, created_at, seal, owner_hash) SELECT :id, subject_id, consent_id,"
         " model_id, quality, nonce, ciphertext, created_at, seal, owner_hash FROM templates"
         " WHERE id = (SELECT MIN(id) FROM templates)")


@both_backends
def test_template_rows_planted_in_sql_are_not_counted_and_are_warned_of(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """Round 4's A: three templates enrolled, two rows copied in SQL under new ids; the
    register said 5 while the index held 3. It says 3, and warns of the 2; a row it counted
    before, moved in SQL afterwards, is not counted at the next reading (each row's seal is
    checked at each reading)."""
    for jpeg in portrait_jpegs[:3]:
        world.enrolled(jpeg)
    assert world.service.register().templates == 3
    for planted in (90, 91):
        outside_sql(world.service, PLANT, id=planted)
    register = world.service.register()
    assert register.templates == world.service.index.count() == 3
    assert UNSEALED_TEMPLATES_WARNING.format(n=2) in register.warnings
    health = world.service.health()  # rows by SQL, for anyone; what a search finds beside
    assert (health["templates"], health["index_entries"]) == (5, 3)
    # A row counted sealed before, then moved to another person: its edit is seen at once.
    outside_sql(world.service, "UPDATE templates SET subject_id = (SELECT MAX(subject_id) FROM"
                " templates) WHERE id = (SELECT MIN(id) FROM templates)")
    register = world.service.register()
    assert register.templates == 2
    assert UNSEALED_TEMPLATES_WARNING.format(n=3) in register.warnings


@both_backends
def test_a_review_row_rewritten_in_sql_moves_no_figure_and_is_warned_of(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """Round 4's B: an identification two verifiers confirmed, then ``UPDATE match_reviews SET
    status='rejected'``: the register said 0 with no warning. It says 1, from the log, and
    warns; a provisional review set ``confirmed`` in SQL is not counted either."""
    world.enrolled(portrait_jpegs[0])
    [candidate] = world.identify(flipped_jpegs[0]).candidates
    for verifier in world.verifiers:
        world.service.decide_review(actor=verifier, review_id=candidate.review_id, body=CONFIRM)
    register = world.service.register()
    assert register.confirmed_identifications == 1
    assert not [w for w in register.warnings if "reviews" in w]
    outside_sql(world.service, "UPDATE match_reviews SET status = 'rejected'"
                " WHERE status = 'confirmed'")
    register = world.service.register()
    assert register.confirmed_identifications == 1
    assert REVIEWS_WARNING.format(n=1) in register.warnings
    world.enrolled(portrait_jpegs[1])
    [other] = world.identify(flipped_jpegs[1]).candidates
    outside_sql(world.service, "UPDATE match_reviews SET status = 'confirmed' WHERE id = :r",
                r=other.review_id)
    register = world.service.register()
    assert register.confirmed_identifications == 1
    assert REVIEWS_WARNING.format(n=2) in register.warnings


@both_backends
def test_a_sealed_confirmation_that_names_no_review_counts_nothing(world: World) -> None:
    """Review: a chained, sealed ``review_decided`` confirmation without a review id was
    counted as the review ``None``: one identification too many, and one row said to
    disagree with the log."""
    runtime = world.service.runtime
    with runtime.db.transaction() as session:
        runtime.audit(session, Entry(action=AuditAction.REVIEW_DECIDED, actor=None,
                                     outcome=str(ReviewStatus.CONFIRMED),
                                     details={"decision": str(ReviewDecision.CONFIRM)}))
    register = world.service.register()
    assert register.confirmed_identifications == 0
    assert not [w for w in register.warnings if "reviews" in w]

"""Template seals (consent.row_seals): a template grants a search only as the person's, under
the consent it was enrolled under, and goes with that person's erasure wherever it was moved.

Each attack is the reviewer's (review 1, findings 1, 5 and X2): SQL on the ledger of a real
deployment, with the service running or stopped, then the service used through its methods.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from sqlalchemy import select, text

from optinface.consent.schemas import ErasureReason, Operation
from optinface.consent.service import OptinFace
from optinface.consent.tables import AuditEvent, Template
from tests.support.backends import both_backends
from tests.support.consent import World, row_count

AUTHORITY_LOG = "optinface.consent.authority"


def _sql(world: World, statement: str, **parameters: object) -> None:
    """A write to the ledger alone, as an operator with a SQL console makes it."""
    with world.service.runtime.db.transaction() as session:
        session.execute(text(statement), parameters)


def _template_of(world: World, pseudonym: str) -> int:
    with world.service.runtime.db.transaction() as session:
        return session.execute(text(
            "SELECT t.id FROM templates t JOIN subjects s ON s.id = t.subject_id"
            " WHERE s.pseudonym = :p"), {"p": pseudonym}).scalar_one()


def _move(world: World, template: int, *, to: str, consent: str) -> None:
    """x3.py: ``UPDATE templates SET subject_id=<A>, consent_id=<A's consent>``."""
    _sql(world, "UPDATE templates SET subject_id = (SELECT id FROM subjects WHERE"
         " pseudonym = :to), consent_id = :consent WHERE id = :template",
         to=to, consent=consent, template=template)


def _reported(world: World, mismatch: str) -> list[dict[str, object]]:
    with world.service.runtime.db.transaction() as session:
        return [e.details for e in session.scalars(select(AuditEvent).where(
            AuditEvent.action == "authority_mismatch").order_by(AuditEvent.seq))
            if isinstance(e.details, dict) and e.details.get("mismatch") == mismatch]


def _reopen(world: World, open_service: Callable[[], OptinFace]) -> None:
    world.service.close()
    world.service = open_service()
    for person in world.people.values():
        person.service = world.service


@both_backends
def test_a_template_moved_to_another_person_is_found_by_no_search_while_running(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """B's template moved under A and A's consent, with the service running: B's face is not
    returned as A, and the hit is reported by template id (no face, no score)."""
    a, a_consent = world.subject()
    world.enrol(a, a_consent, portrait_jpegs[0])
    b = world.enrolled(portrait_jpegs[1])
    moved = _template_of(world, b)
    _move(world, moved, to=a, consent=a_consent)
    assert world.identify(flipped_jpegs[1]).candidates == []
    assert world.identify(flipped_jpegs[0]).candidates[0].subject == a  # A's own still found
    assert [d["template_ids"] for d in _reported(world, "template_not_sealed")] == [
        [moved], [moved]]  # each search that found it, above the threshold or not


def test_a_moved_template_is_left_out_at_start_and_destroyed_by_its_owners_erasure(
    world: World, open_service: Callable[[], OptinFace], portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes], caplog: pytest.LogCaptureFixture,
) -> None:
    """x3.py then x3b.py: moved with the service stopped, restarted, B's face returns nobody;
    B's erasure destroys the moved row (its owner hash names B) and says so in its receipt."""
    a, a_consent = world.subject()
    world.enrol(a, a_consent, portrait_jpegs[0])
    b = world.enrolled(portrait_jpegs[1])
    moved = _template_of(world, b)
    _move(world, moved, to=a, consent=a_consent)
    with caplog.at_level(logging.ERROR, logger=AUTHORITY_LOG):
        _reopen(world, open_service)
    assert moved not in world.service.index.labels()
    assert any(str(moved) in r.getMessage() for r in caplog.records if r.name == AUTHORITY_LOG)
    assert world.identify(flipped_jpegs[1]).candidates == []
    receipt = world.service.erase(actor=world.admin, subject=b, reason=ErasureReason.REQUEST)
    assert receipt.templates_destroyed == 1
    assert row_count(world.service, Template, Template.id == moved) == 0
    assert world.identify(flipped_jpegs[0]).candidates[0].subject == a


def test_a_template_moved_to_its_persons_other_consent_is_not_found_under_it(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """X2: D enrolled under their study-1 consent; moved in SQL to D's own study-2 consent,
    under which D never enrolled, the template does not answer study 2."""
    second = world.purpose_with(Operation.ENROL, Operation.IDENTIFY, name="study-2")
    d = world.enrolled(portrait_jpegs[0])
    other = world.consent(d, purposes=[second]).consent.id
    _sql(world, "UPDATE templates SET consent_id = :c WHERE id = :t", c=other,
         t=_template_of(world, d))
    assert world.identify(flipped_jpegs[0], purpose=second).candidates == []
    assert _reported(world, "template_not_sealed")


def test_a_planted_or_unreadable_template_row_does_not_stop_the_start_and_is_said_once(
    world: World, open_service: Callable[[], OptinFace], portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes],
) -> None:
    """Finding 5: B's row copied as id 50 under A, and another row whose ciphertext no longer
    opens, with the index file gone: the service starts, both rows stay out of the index, each
    chained once (not again at the next start), and the other faces are found."""
    a = world.enrolled(portrait_jpegs[0])
    b = world.enrolled(portrait_jpegs[1])
    c = world.enrolled(portrait_jpegs[2])
    _sql(world, "INSERT INTO templates (id, subject_id, consent_id, model_id, quality, nonce,"
         " ciphertext, created_at, seal, owner_hash) SELECT 50, (SELECT id FROM subjects"
         " WHERE pseudonym = :a), (SELECT consent_id FROM templates WHERE subject_id ="
         " (SELECT id FROM subjects WHERE pseudonym = :a)), model_id, quality, nonce,"
         " ciphertext, created_at, seal, owner_hash FROM templates WHERE id = :b", a=a,
         b=_template_of(world, b))
    broken = _template_of(world, c)
    _sql(world, "UPDATE templates SET nonce = :n WHERE id = :t", n=b"\0" * 12, t=broken)
    world.service.close()
    world.service.settings.index_path.unlink()  # every template is decrypted again
    world.service = open_service()
    assert {50, broken}.isdisjoint(world.service.index.labels())
    assert [d["template_ids"] for d in _reported(world, "template_not_sealed")] == [[50]]
    assert [d["template_ids"] for d in _reported(world, "template_unreadable")] == [[broken]]
    assert world.service.last_reconcile is not None
    assert world.service.last_reconcile.templates_left_out == 2
    _reopen(world, open_service)  # the same rows: not chained again
    assert len(_reported(world, "template_not_sealed") + _reported(
        world, "template_unreadable")) == 2
    assert world.identify(flipped_jpegs[1]).candidates[0].subject == b
    assert world.identify(flipped_jpegs[2]).candidates == []

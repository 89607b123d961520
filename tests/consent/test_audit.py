"""The audit chain notices edits, deletions, insertions, reorderings and full rewrites."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from optinface.consent import log_retention
from optinface.consent.audit import AuditAction, event_hash, event_leaf
from optinface.consent.audit_verify import verify_log
from optinface.consent.schemas import AuditFilter
from optinface.consent.service import OptinFace
from optinface.consent.tables import AuditCheckpoint, AuditEvent
from tests.support.backends import both_backends
from tests.support.consent import World

pytestmark = both_backends


@pytest.fixture
def chain(world: World) -> OptinFace:
    for _ in range(4):
        world.subject()
    assert world.service.verify_audit().ok
    return world.service


def checkpoints(service: OptinFace) -> list[int]:
    """The sequence numbers the signed checkpoints cover, oldest first: the first one was
    signed at start, over the start-up events (reconciliation, the seals' adoptions...)."""
    with service.runtime.db.transaction() as session:
        return list(session.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)))


def _newest(service: OptinFace) -> int:
    with service.runtime.db.transaction() as session:
        return session.scalar(select(func.max(AuditEvent.seq))) or 0


def raw(service: OptinFace, sql: str) -> None:
    """Tamper as someone with file access would: straight SQL, no service."""
    with service.runtime.db.engine.begin() as connection:
        connection.execute(text(sql))


def test_an_edited_event_is_reported_at_its_sequence(chain: OptinFace) -> None:
    raw(chain, "UPDATE audit_events SET outcome = 'nothing happened' WHERE seq = 5")
    assert chain.verify_audit().first_bad_sequence == 5


def test_a_deleted_event_is_reported_at_the_gap(chain: OptinFace) -> None:
    raw(chain, "DELETE FROM audit_events WHERE seq = 6")
    status = chain.verify_audit()
    assert not status.ok and status.first_bad_sequence == 6


def test_an_inserted_event_breaks_the_link_of_the_next_one(chain: OptinFace, world: World) -> None:
    # The forger even computes a valid hash for the inserted row; the row after it still
    # names the old predecessor, so the chain breaks right after the insertion. With the key
    # store the inserted row itself is named first: it carries no keyed seal (log_seals).
    while _newest(chain) < checkpoints(chain)[-1] + 2:  # two events no checkpoint signed yet
        chain.audit_events(actor=world.reviewer, filters=AuditFilter())  # a read, chained
    at = checkpoints(chain)[-1] + 1  # past what every checkpoint signed (each spend signs one)
    raw(chain, f"UPDATE audit_events SET seq = seq + 1000 WHERE seq >= {at}")
    raw(chain, f"UPDATE audit_events SET seq = seq - 999 WHERE seq >= {at + 1000}")
    with chain.runtime.db.transaction() as session:
        previous = session.get(AuditEvent, at - 1)
        assert previous is not None
        forged = AuditEvent(seq=at, at=previous.at, actor_key_id=None, actor_role=None,
                            action="export", purpose=None, subjects=[], outcome="ok",
                            probe_sha256=None, details={}, prev_hash=previous.hash, hash="")
        forged.hash = event_hash(forged)
        session.add(forged)
    status = chain.verify_audit()
    assert (status.first_bad_sequence, status.reason) == (at, "keyed_seal_missing")
    with chain.runtime.db.transaction() as session:  # the chain alone, as an outsider checks it
        outsider = verify_log(session, verifier=chain.runtime.log.signer.verifier)
    assert outsider.problem is not None and outsider.problem.sequence == at + 1


def test_reordered_events_are_reported_at_the_first_moved(chain: OptinFace) -> None:
    raw(chain, "UPDATE audit_events SET seq = -1 WHERE seq = 4")
    raw(chain, "UPDATE audit_events SET seq = 4 WHERE seq = 8")
    raw(chain, "UPDATE audit_events SET seq = 8 WHERE seq = -1")
    assert chain.verify_audit().first_bad_sequence == 4


def test_a_consistent_rewrite_is_caught_by_the_signed_checkpoint(
    chain: OptinFace, world: World
) -> None:
    checkpoint = chain.audit_checkpoint(actor=world.reviewer)
    # After the start-up events, which the checkpoint signed at start covers.
    signed = checkpoints(chain)
    edited = signed[0] + 1
    raw(chain, f"UPDATE audit_events SET outcome = 'rewritten' WHERE seq = {edited}")
    with chain.runtime.db.transaction() as session:  # the forger re-hashes the whole chain
        previous = "0" * 64
        for seq in range(1, checkpoint.seq + 1):
            event = session.get(AuditEvent, seq)
            assert event is not None
            event.prev_hash = previous
            event.hash = previous = event_hash(event)
    # The chain alone: caught at the first signed checkpoint after the edit (one every 10 events
    # here). With the key store: at the edit itself, whose recomputed hash its seal does not fit.
    first_after = min(seq for seq in signed if seq >= edited)
    with chain.runtime.db.transaction() as session:
        outsider = verify_log(session, verifier=chain.runtime.log.signer.verifier)
    assert outsider.problem is not None
    assert outsider.problem.sequence == first_after < checkpoint.seq
    status = chain.verify_audit()
    assert (status.first_bad_sequence, status.reason) == (edited, "keyed_seal_invalid")


def test_checkpoints_are_signed_every_n_events(chain: OptinFace) -> None:
    status = chain.verify_audit()
    with chain.runtime.db.transaction() as session:
        sizes = set(session.scalars(select(AuditCheckpoint.seq)))
    # Every 10th event, plus the one signed at start (after the start-up reconciliation).
    assert {10 * n for n in range(1, status.events // 10 + 1)} <= sizes and status.ok


def test_a_failed_login_is_audited_without_the_secret(world: World) -> None:
    from optinface.consent.errors import Unauthenticated

    secret = world.service.create_api_key(actor=world.admin, role="portal", name="x").secret  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        world.service.authenticate(secret + "tampered")
    events = world.service.audit_events(actor=world.reviewer, filters=_failures())
    assert events.total == 1
    assert secret.split(".")[1] not in events.events[0].model_dump_json()


def _failures():  # type: ignore[no-untyped-def]
    from optinface.consent.audit import AuditAction
    from optinface.consent.schemas import AuditFilter

    return AuditFilter(action=AuditAction.LOGIN_FAILURE)


def test_every_read_of_the_audit_log_is_itself_logged(world: World) -> None:
    pseudonym, _ = world.subject()
    service = world.service
    page = service.audit_events(actor=world.reviewer, filters=AuditFilter(subject=pseudonym))
    reads = service.audit_events(actor=world.reviewer,
                                 filters=AuditFilter(action=AuditAction.AUDIT_READ)).events
    first = reads[0]
    assert first.actor_key_id == world.reviewer.key_id and first.subjects == [pseudonym]
    assert first.details["returned"] == len(page.events)
    assert first.details["filters"] == {}  # the subject filtered on is named by ``subjects``
    assert service.verify_audit().ok


def test_retention_prunes_old_access_events_and_the_chain_still_verifies(
    service: OptinFace, clock, portrait_jpegs: list[bytes]  # type: ignore[no-untyped-def]
) -> None:
    from tests.support.consent import make_world

    world = make_world(service, clock)
    pseudonym = world.enrolled(portrait_jpegs[0])
    world.identify(portrait_jpegs[0])
    service.audit_checkpoint(actor=world.reviewer)  # pruning needs a signed checkpoint
    service.settings.access_log_retention_days = 183
    clock.advance(days=184)
    assert service.sweep().ran_at == clock.now()
    with service.runtime.db.transaction() as session:
        search = session.scalars(select(AuditEvent).where(AuditEvent.action == "identify")).one()
        enrol = session.scalars(select(AuditEvent).where(AuditEvent.action == "enrol")).one()
        assert search.pruned_leaf and search.subjects == [] and search.details == {}
        assert enrol.pruned_leaf is None and enrol.subjects == [pseudonym]  # not an access
    assert service.verify_audit().ok
    # A pruned event's kept leaf is what the signed checkpoint committed to: changing it fails.
    with service.runtime.db.transaction() as session:
        search = session.scalars(select(AuditEvent).where(AuditEvent.action == "identify")).one()
        search.pruned_leaf = "00" * 32
    assert not service.verify_audit().ok


def test_an_event_marked_pruned_keeps_no_content_and_is_an_access(
    chain: OptinFace
) -> None:
    """Retention keeps a pruned event's leaf in place of its content, so the row's hash is not
    checked: marking a live event pruned, its true leaf kept, must not let its content be
    rewritten, nor a non-access event (a consent, an erasure) lose its content."""
    with chain.runtime.db.transaction() as session:
        event = session.get(AuditEvent, 5)
        assert event is not None and event.action not in log_retention.ACCESS_ACTIONS
        event.pruned_leaf = event_leaf(event).hex()
        event.outcome = "nothing happened"
    status = chain.verify_audit()
    assert not status.ok and status.first_bad_sequence == 5

"""Log seals (consent.log_seals): an event appended with the database alone is told apart.

Each attack is the database writer's without the key store: an event appended at the log's tail
in plain SQL, hash-chained with the log's own ``event_hash`` (``tests/support/forgery.py``),
which the chain and the witness cannot tell from the service's own. The service's verification
(the key store's HMAC key at hand) and its start name it by sequence number; a genuine log, one
after an erasure, one after key rotations, and a log from before migration 0031 adopted once,
verify.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from optinface.consent import log_seals
from optinface.consent.audit import AuditAction
from optinface.consent.audit_verify import verify_log
from optinface.consent.schemas import ChainStatus, ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditCheckpoint, AuditEvent
from optinface.consent.transparency import witness_checkpoints
from optinface.consent.witness import latest_witnessed
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, make_world, row_count
from tests.support.forgery import append_by_sql, keyed_seal_of
from tests.support.migrations import migrate

MISSING, INVALID = "keyed_seal_missing", "keyed_seal_invalid"


def _unsealed(status: ChainStatus) -> list[tuple[int, str]]:
    return [(found.seq, str(found.reason)) for found in status.unsealed]


def _events(service: OptinFace, action: AuditAction) -> list[AuditEvent]:
    with service.runtime.db.transaction() as session:
        found = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                     .order_by(AuditEvent.seq)))
        session.expunge_all()
        return found


def _size(service: OptinFace) -> int:
    with service.runtime.db.transaction() as session:
        return session.scalar(select(func.max(AuditEvent.seq))) or 0


def _sound_and_sealed(service: OptinFace) -> None:
    status = service.verify_audit()
    assert status.ok and status.keyed_seals_checked and status.unsealed_count == 0, status


@both_backends
def test_an_event_appended_with_the_database_alone_is_named_by_its_sequence(
    world: World,
) -> None:
    """A ``consent_given`` for a real subject, appended by SQL and chained correctly, passes
    the chain and the witness (an outsider's check finds nothing); with the key store it is
    named, as is one carrying another event's seal."""
    pseudonym, _ = world.subject()
    service = world.service
    _sound_and_sealed(service)
    engine = service.runtime.db.engine
    forged = append_by_sql(engine, subjects=(pseudonym,), details={"consent_id": "con_forged"})
    copied = append_by_sql(engine, action="erase", keyed_seal=keyed_seal_of(engine, forged - 1))
    with service.runtime.db.transaction() as session:
        outsider = verify_log(session, verifier=service.runtime.log.signer.verifier,
                              known=witness_checkpoints(service.settings.witness_dir))
    assert outsider.ok and not outsider.seals_checked
    status = service.verify_audit()
    assert not status.ok and (status.first_bad_sequence, status.reason) == (forged, MISSING)
    assert status.problem is not None and "appended with the database alone" in status.problem
    assert _unsealed(status) == [(forged, MISSING), (copied, INVALID)]
    assert status.unsealed_count == 2


@both_backends
def test_the_log_after_an_erasure_still_verifies_with_its_keyed_seals(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """The seal covers the chain hash, which covers a subject's salted seal and not their
    pseudonym: the erasure forgets both, and every event's keyed seal still holds."""
    pseudonym = world.enrolled(portrait_jpegs[0])
    world.identify(portrait_jpegs[0])
    world.service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)
    [enrol] = _events(world.service, AuditAction.ENROL)  # no longer names the person
    assert enrol.subjects == [] and [s["salt"] for s in enrol.subject_seals or ()] == [None]
    _sound_and_sealed(world.service)


def test_the_service_chains_an_appended_event_before_a_checkpoint_signs_it(
    world: World, caplog: pytest.LogCaptureFixture,
) -> None:
    """While the service runs, the next checkpoint it signs (every 10 events here, and the
    periodic witnessing) would put the appended event in the witness: it is chained first as
    ``log_events_unsealed``, once, and said in the operator's log."""
    forged = append_by_sql(world.service.runtime.db.engine)
    with caplog.at_level(logging.ERROR, logger="optinface.consent.log_seals"):
        for _ in range(3):
            world.subject()  # more than 10 events: a checkpoint is signed among them
        world.service.witness_audit()
    [finding] = _events(world.service, AuditAction.LOG_EVENTS_UNSEALED)
    assert finding.details["events"] == [forged] and finding.details["count"] == 1
    assert finding.details["reasons"] == [MISSING]
    with world.service.runtime.db.transaction() as session:
        signed = session.scalar(select(func.min(AuditCheckpoint.seq))
                                .where(AuditCheckpoint.seq >= forged))
    assert signed is not None and forged < finding.seq <= signed
    assert latest_witnessed(world.service.settings.witness_dir) >= signed
    assert sum("carry no valid keyed seal" in r.getMessage() for r in caplog.records) == 1


@both_backends
def test_the_start_chains_the_events_appended_since_the_witness_once(
    open_service: Callable[[], OptinFace], clock: FakeClock, settings: ConsentSettings,
) -> None:
    """Appended while the service was stopped (past the witness, which the close brought to
    the log's end): the next start chains them as ``log_events_unsealed``, a later one does not
    chain them again, and the verification names them."""
    with closing(open_service()) as service:
        make_world(service, clock).subject()
    writer = create_engine(settings.url)
    try:
        forged = [append_by_sql(writer), append_by_sql(writer, action="erase")]
    finally:
        writer.dispose()
    for _ in range(2):
        with closing(open_service()) as service:
            [finding] = _events(service, AuditAction.LOG_EVENTS_UNSEALED)
            assert finding.details["events"] == forged and finding.details["count"] == 2
            assert _unsealed(service.verify_audit()) == [(seq, MISSING) for seq in forged]


def test_the_log_stays_verifiable_after_epoch_rotation_and_rekey(
    open_service: Callable[[], OptinFace], clock: FakeClock, portrait_jpegs: list[bytes],
) -> None:
    """The seals' key is the key store's HMAC key, a named secret: the epoch rotation, which
    destroys the old epoch keys, and the template re-key leave it, so every event, those sealed
    before them included, still verifies, at the next start too."""
    with closing(open_service()) as service:
        world = make_world(service, clock)
        world.enrolled(portrait_jpegs[0])
        before = _size(service)
        report = service.rotate_epoch(actor=world.admin)
        assert report.destroyed_epochs
        service.rekey_templates(actor=world.admin)
        _sound_and_sealed(service)
    with closing(open_service()) as service:
        _sound_and_sealed(service)
        assert service.verify_audit().events > before


def _as_before_the_log_seals(open_service: Callable[[], OptinFace], clock: FakeClock,
                             settings: ConsentSettings,
                             monkeypatch: pytest.MonkeyPatch) -> int:
    """A deployment from before migration 0031, as its version left it: events without keyed
    seals and no adoption, the ledger at 0030. The log's size."""
    with monkeypatch.context() as older:
        older.setattr(log_seals, "adopt_once", lambda runtime, **_: None)
        with closing(open_service()) as service:
            make_world(service, clock).subject()
    engine = create_engine(settings.url)
    try:
        migrate(engine, "0030", down=True)
        with engine.connect() as connection:
            size = connection.execute(text("SELECT max(seq) FROM audit_events")).scalar()
    finally:
        engine.dispose()
    assert isinstance(size, int)
    return size


@both_backends
@pytest.mark.first_start
def test_a_log_from_before_0031_is_adopted_once_at_the_first_start_after_the_upgrade(
    open_service: Callable[[], OptinFace], clock: FakeClock, settings: ConsentSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first start after the upgrade vouches for the events then present, chained once
    with the last of them and how many the witness had signed; the log verifies with the key
    store, and an event appended after is named. No later start adopts again."""
    size = _as_before_the_log_seals(open_service, clock, settings, monkeypatch)
    with closing(open_service()) as service:  # migrates to 0031, adopts
        [adopted] = _events(service, AuditAction.LOG_SEALS_ADOPTED)
        assert adopted.details == {"through": size, "witnessed": size}
        assert adopted.keyed_seal is not None
        _sound_and_sealed(service)
        forged = append_by_sql(service.runtime.db.engine)
    with closing(open_service()) as service:
        assert row_count(service, AuditEvent, AuditEvent.action == "log_seals_adopted") == 1
        assert _unsealed(service.verify_audit()) == [(forged, MISSING)]


@both_backends
@pytest.mark.first_start
def test_a_log_not_as_its_witness_signed_it_is_not_adopted(
    open_service: Callable[[], OptinFace], clock: FakeClock, settings: ConsentSettings,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Rewritten before the first start after the upgrade: that start chains the rewrite and
    ``log_seals_not_adopted``, vouches for nothing and says so in the operator's log; every
    event from before is then reported as unsealed, naming the refusal, and no later start
    adopts."""
    size = _as_before_the_log_seals(open_service, clock, settings, monkeypatch)
    engine = create_engine(settings.url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE audit_events SET outcome = 'edited' WHERE seq = 2"))
    finally:
        engine.dispose()
    for start in range(2):
        with caplog.at_level(logging.ERROR, logger="optinface.consent.log_seals"), \
                closing(open_service()) as service:
            watched = [e.action for e in _events_of(service, "log_rewritten",
                                                    "log_seals_adopted", "log_seals_not_adopted")]
            assert watched == ["log_rewritten", "log_seals_not_adopted"]
            [refusal] = _events(service, AuditAction.LOG_SEALS_NOT_ADOPTED)
            assert refusal.details == {"reason": "log_not_as_witnessed", "through": size}
            status = service.verify_audit()
        assert not status.ok and (status.first_bad_sequence, status.reason) == (1, MISSING)
        assert status.problem is not None and "log_seals_not_adopted" in status.problem
        assert status.unsealed_count == size
        if start == 0:
            assert any("seals NOT adopted" in r.getMessage() for r in caplog.records)


def _events_of(service: OptinFace, *actions: str) -> list[Any]:
    with service.runtime.db.transaction() as session:
        return list(session.execute(select(AuditEvent.seq, AuditEvent.action).where(
            AuditEvent.action.in_(actions)).order_by(AuditEvent.seq)))

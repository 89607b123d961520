"""An epoch's start is the sealed log's, not its row's (red team 4, #2).

Whoever writes the database can date the current epoch's ``key_epochs`` row in 2999. Read as
it stands, that row would put the next rotation, and every erasure receipt's
``copiesUndecryptableAt``, in 2999: copies made before an erasure would open with the key store
for good. The start is the time of the keyed-sealed ``key_epoch_rotated`` event that made the
epoch; a row dated later is flagged, and never moves the boundary out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from optinface.consent.audit import AuditAction
from optinface.consent.log_clock import TOLERANCE
from optinface.consent.schemas import AuditFilter, ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from tests.support.backends import both_backends
from tests.support.consent import World, outside_sql, rotated_by_the_sweeper

EPOCH = timedelta(hours=24)  # the settings' default OPTINFACE_KEY_EPOCH_HOURS


def _date_epoch(service: OptinFace, epoch: int, when: str) -> None:
    """The red team's edit: the epoch's row dated ``when``, by SQL on a connection of its own."""
    outside_sql(service, f"update key_epochs set created_at='{when}' where id=:id", id=epoch)


def _misdated(service: OptinFace, world: World) -> list[dict[str, object]]:
    page = service.audit_events(actor=world.admin, limit=100,
                                filters=AuditFilter(action=AuditAction.KEY_EPOCH_MISDATED))
    return [event.details for event in page.events]


@both_backends
def test_an_epoch_dated_in_2999_by_sql_still_rotates_on_time(
    world: World, service: OptinFace, settings: ConsentSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rotated = service.rotate_epoch(actor=world.admin)
    assert rotated.new_epoch == 2
    started = world.clock.now()
    _date_epoch(service, 2, "2999-01-01 00:00:00.000000")
    erased, _ = world.subject()

    world.clock.advance(hours=1)
    caplog.set_level(logging.ERROR, logger="optinface.consent.epochs")
    receipt = service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
    assert receipt.copies_undecryptable_at == started + EPOCH
    assert datetime.fromisoformat(receipt.signed.receipt["copiesUndecryptableAt"]) \
        == started + EPOCH
    assert service.seconds_to_epoch_boundary() == pytest.approx((EPOCH - timedelta(hours=1))
                                                                .total_seconds())

    world.clock.advance(hours=23, seconds=1)
    rotated_by_the_sweeper(service, settings.keys_dir, 2)
    assert service.runtime.keys.epoch == 3
    assert not (settings.keys_dir / "epoch-2.key").exists()
    assert service.seconds_to_epoch_boundary() == pytest.approx(EPOCH.total_seconds())
    # Said once, however often the boundary was read: one error line, one chained finding.
    assert _misdated(service, world) == [{"epoch": 2, "rotated_at": started.isoformat(),
                                          "row_created_at": "2999-01-01T00:00:00+00:00"}]
    assert sum("key epoch 2" in record.getMessage() for record in caplog.records) == 1


@both_backends
def test_an_epoch_dated_in_the_past_by_sql_only_rotates_early(
    world: World, service: OptinFace, settings: ConsentSettings,
) -> None:
    service.rotate_epoch(actor=world.admin)
    _date_epoch(service, 2, "2000-01-01 00:00:00.000000")
    erased, _ = world.subject()
    receipt = service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
    # Due now, by the earlier date: the receipt says now, never the past nor a later time.
    assert receipt.copies_undecryptable_at == world.clock.now()
    assert service.seconds_to_epoch_boundary() == 0

    rotated_by_the_sweeper(service, settings.keys_dir, 2)
    assert service.runtime.keys.epoch == 3
    assert service.seconds_to_epoch_boundary() == pytest.approx(EPOCH.total_seconds())
    assert _misdated(service, world) == []  # an earlier date is no finding: it only shortens


@both_backends
def test_a_first_epoch_row_within_the_clock_tolerance_is_no_finding(
    world: World, service: OptinFace,
) -> None:
    """Review: with no sealed rotation, a row dated after this worker's now was flagged, but a
    worker whose clock is a second or two ahead dates its rows so legitimately: within
    ``log_clock.TOLERANCE`` no finding; an hour ahead still one."""
    def erase_with_epoch_dated(ahead: timedelta) -> None:
        when = world.clock.now() + ahead
        _date_epoch(service, 1, when.strftime("%Y-%m-%d %H:%M:%S.%f"))
        erased, _ = world.subject()
        service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)

    erase_with_epoch_dated(TOLERANCE - timedelta(seconds=1))
    assert _misdated(service, world) == []
    erase_with_epoch_dated(timedelta(hours=1))
    assert [details["epoch"] for details in _misdated(service, world)] == [1]


@both_backends
def test_an_epoch_start_once_read_from_its_sealed_rotation_is_kept(
    world: World, service: OptinFace,
) -> None:
    """The sealed rotation is read from the log once per epoch, not at every erasure (a
    destroy order erases many): kept on the runtime, it still dates the boundary after the
    log's copy of it is edited (which the log's verification reports)."""
    world.clock.advance(hours=2)  # the log's first sealed event, two hours before the rotation
    service.rotate_epoch(actor=world.admin)
    started = world.clock.now()
    people = [world.subject()[0] for _ in range(2)]
    first = service.erase(actor=world.admin, subject=people[0], reason=ErasureReason.REQUEST)
    assert first.copies_undecryptable_at == started + EPOCH
    assert service.runtime.sealed_rotations == {2: started}
    outside_sql(service, "UPDATE audit_events SET at = '2000-01-01T00:00:00+00:00'"
                " WHERE action = 'key_epoch_rotated'")
    world.clock.advance(hours=1)
    second = service.erase(actor=world.admin, subject=people[1], reason=ErasureReason.REQUEST)
    assert second.copies_undecryptable_at == started + EPOCH

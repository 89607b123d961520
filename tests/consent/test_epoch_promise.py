"""A key epoch ends when its erasure receipts promised, whatever the setting says later
(red team 7, #2).

An erasure receipt states ``copiesUndecryptableAt``: the epoch's start plus
``OPTINFACE_KEY_EPOCH_HOURS``. The red team erased with 0.1 hours, restarted with 24, and six
minutes later the epoch key was still there and decrypted the erased template from a copy made
before. The first promise is kept in the key store beside the epoch key; the rotation comes no
later, the raise is chained once and the register says so.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from optinface.consent.audit import AuditAction
from optinface.consent.errors import KeyUnavailable
from optinface.consent.register import EPOCH_PROMISE_WARNING
from optinface.consent.schemas import AuditFilter, ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, rotated_by_the_sweeper
from tests.support.files import copy_database, decrypt_from_copy

SHORT_HOURS = 0.1  # the red team's: six minutes
LONG_HOURS = 24.0


@pytest.fixture
def settings(settings: ConsentSettings) -> ConsentSettings:
    return settings.model_copy(update={"key_epoch_hours": SHORT_HOURS})


@pytest.fixture
def reopen_with(settings: ConsentSettings, pipeline: FacePipeline,
                clock: FakeClock) -> Callable[[float], OptinFace]:
    """The deployment started again, its epoch setting changed to ``hours``."""
    def reopen(hours: float) -> OptinFace:
        return OptinFace.open(settings.model_copy(update={"key_epoch_hours": hours}),
                              pipeline=pipeline, clock=clock)
    return reopen


def _raised(service: OptinFace, world: World) -> list[dict[str, object]]:
    page = service.audit_events(actor=world.admin, limit=100,
                                filters=AuditFilter(action=AuditAction.KEY_EPOCH_HOURS_RAISED))
    return [event.details for event in page.events]


def _warned(service: OptinFace) -> list[str]:
    head = EPOCH_PROMISE_WARNING.split("{")[0]
    return [warning for warning in service.register().warnings if warning.startswith(head)]


def test_a_restart_with_a_longer_epoch_still_destroys_the_epoch_key_when_receipts_promised(
    world: World, service: OptinFace, settings: ConsentSettings, clock: FakeClock,
    reopen_with: Callable[[float], OptinFace], portrait_jpegs: list[bytes], tmp_path: Path,
) -> None:
    erased, consent = world.subject()
    template = world.enrol(erased, consent, portrait_jpegs[0])
    copy = copy_database(settings, tmp_path)
    epoch = service.runtime.keys.epoch
    receipt = service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
    promised = receipt.copies_undecryptable_at
    assert receipt.signed.receipt["keyEpoch"] == epoch
    assert datetime.fromisoformat(receipt.signed.receipt["copiesUndecryptableAt"]) == promised
    assert promised - clock.now() <= timedelta(hours=SHORT_HOURS)
    service.close()

    clock.advance(minutes=2)
    with closing(reopen_with(LONG_HOURS)) as reopened:
        world.service = reopened
        # The rotation's deadline and a later receipt's promise: the same, the first one.
        assert reopened.seconds_to_epoch_boundary() == pytest.approx(
            (promised - clock.now()).total_seconds())
        later, _ = world.subject()
        again = reopened.erase(actor=world.admin, subject=later, reason=ErasureReason.REQUEST)
        assert again.copies_undecryptable_at == promised
        [raised] = _raised(reopened, world)
        assert raised["epoch"] == epoch
        assert raised["key_epoch_hours"] == LONG_HOURS
        assert raised["promised_at"] == promised.isoformat()
        assert datetime.fromisoformat(str(raised["setting_ends_at"])) \
            > promised + timedelta(hours=LONG_HOURS - 1)
        assert _warned(reopened) == [EPOCH_PROMISE_WARNING.format(
            epoch=epoch, at=promised.isoformat(), hours="24")]
        # Not yet: still open.
        assert len(decrypt_from_copy(reopened.runtime.keys, copy, template.id)) > 0

        clock.current = promised + timedelta(seconds=1)
        rotated_by_the_sweeper(reopened, settings.keys_dir, epoch)
        assert not (settings.keys_dir / f"epoch-{epoch}.key").exists()
        assert not (settings.keys_dir / f"epoch-{epoch}-promise.key").exists()
        with pytest.raises(KeyUnavailable):
            decrypt_from_copy(reopened.runtime.keys, copy, template.id)
        destroyed = {e.id: e.destroyed_at for e in reopened.key_epochs(actor=world.admin)}
        assert destroyed[epoch] == clock.now()
        # From the next epoch the setting in force counts, and the register has nothing to say.
        assert reopened.seconds_to_epoch_boundary() == pytest.approx(LONG_HOURS * 3600)
        assert _warned(reopened) == []
        assert len(_raised(reopened, world)) == 1
        assert reopened.verify_audit().ok


@both_backends
def test_a_raise_is_chained_once_per_epoch_and_a_lower_setting_only_brings_the_end_forward(
    world: World, service: OptinFace, clock: FakeClock,
    reopen_with: Callable[[float], OptinFace],
) -> None:
    """No erasure, no promise: a longer setting simply lengthens the epoch, with nothing
    chained. Once a receipt promised, restarts with a longer setting keep to it and chain the
    raise once; one with a shorter setting ends the epoch earlier still, as it always did."""
    service.close()
    with closing(reopen_with(LONG_HOURS)) as longer:
        world.service = longer
        assert longer.seconds_to_epoch_boundary() == pytest.approx(LONG_HOURS * 3600)
        erased, _ = world.subject()
        promised = longer.erase(actor=world.admin, subject=erased,
                                reason=ErasureReason.REQUEST).copies_undecryptable_at
        assert _raised(longer, world) == []

    for _ in range(2):
        with closing(reopen_with(LONG_HOURS * 2)) as reopened:
            world.service = reopened
            assert reopened.seconds_to_epoch_boundary() == pytest.approx(
                (promised - clock.now()).total_seconds())
    with closing(reopen_with(SHORT_HOURS)) as shorter:
        world.service = shorter
        assert shorter.seconds_to_epoch_boundary() == pytest.approx(SHORT_HOURS * 3600)
        assert [details["key_epoch_hours"] for details in _raised(shorter, world)] \
            == [LONG_HOURS * 2]


def test_a_damaged_promise_in_the_key_store_makes_the_epoch_due_at_once(
    world: World, service: OptinFace, settings: ConsentSettings,
) -> None:
    """Read as no promise, a record garbled in the key store would let a raised setting
    postpone the end; read as due, the next sweep rotates and the record goes with the key."""
    epoch = service.runtime.keys.epoch
    record = settings.keys_dir / f"epoch-{epoch}-promise.key"
    record.write_bytes(b"not a time")
    record.chmod(0o600)
    erased, _ = world.subject()
    receipt = service.erase(actor=world.admin, subject=erased, reason=ErasureReason.REQUEST)
    assert receipt.copies_undecryptable_at == world.clock.now()
    assert service.seconds_to_epoch_boundary() == 0
    rotated_by_the_sweeper(service, settings.keys_dir, epoch)
    assert not record.exists()
    assert _raised(service, world) == []
